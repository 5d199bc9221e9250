import { useQuery } from "@tanstack/react-query";
import { api, query } from "../api.ts";
import { count, money, pct } from "../format.ts";
import type { RefundMetrics } from "../types.ts";
import type { PeriodChoice } from "../components/PeriodPicker.tsx";
import { BarChart } from "../components/Charts.tsx";
import { DataTable } from "../components/DataTable.tsx";
import { ErrorBox, Loading, NoData } from "../components/States.tsx";

export function Refunds({ period }: { period: PeriodChoice }) {
  const p = { from: period.from, to: period.to };
  const q = useQuery({ queryKey: ["refunds", p], queryFn: () => api<RefundMetrics>(`/api/metrics/refunds${query(p)}`) });
  if (q.isPending) return <Loading what="refunds" />;
  if (q.isError) return <ErrorBox error={q.error} retry={() => void q.refetch()} />;
  const r = q.data;
  if (r.orders === 0 && r.refunds === 0) return <NoData />;
  return (
    <>
      <section className="figures" aria-label="Refund rates">
        <article className="figure" data-testid="metric-orderRefundRate" data-value={r.orderRefundRate ?? ""}>
          <h3>Orders refunded</h3>
          <p className="value">{pct(r.orderRefundRate)}</p>
          <span className="delta none">{count(r.refundedOrders)} of {count(r.orders)} orders</span>
        </article>
        <article className="figure" data-testid="metric-revenueRefundRate" data-value={r.revenueRefundRate ?? ""}>
          <h3>Revenue refunded</h3>
          <p className="value">{pct(r.revenueRefundRate)}</p>
          <span className="delta none">
            {money(r.refundedAmount)} of {money(r.revenue)}
          </span>
        </article>
        <article className="figure">
          <h3>Refunds issued</h3>
          <p className="value">{count(r.refunds)}</p>
          <span className="delta none">in the period</span>
        </article>
      </section>
      <section className="card">
        <h2>Refund rate by category</h2>
        <BarChart label="Refund rate by category" horizontal labels={r.byCategory.map((c) => c.category)} series={[{ label: "Refunded ÷ sold", data: r.byCategory.map((c) => c.rate) }]} format={(v) => pct(v, 0)} />
      </section>
      <DataTable
        title="Refunds by product category"
        filename="fidelio-refunds-by-category.csv"
        rows={r.byCategory}
        columns={[
          { label: "Category", csv: (c) => c.category },
          { label: "Sold (minor units)", csv: (c) => c.soldAmount, show: (c) => money(c.soldAmount), numeric: true },
          { label: "Refunded (minor units)", csv: (c) => c.refundedAmount, show: (c) => money(c.refundedAmount), numeric: true },
          { label: "Rate", csv: (c) => c.rate, show: (c) => pct(c.rate), numeric: true },
          { label: "Items sold", csv: (c) => c.soldQuantity, show: (c) => count(c.soldQuantity), numeric: true },
          { label: "Items refunded", csv: (c) => c.refundedQuantity, show: (c) => count(c.refundedQuantity), numeric: true },
        ]}
      />
    </>
  );
}
