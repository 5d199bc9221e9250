import { useQuery } from "@tanstack/react-query";
import { api, query } from "../api.ts";
import { count, days, money, pct } from "../format.ts";
import type { CatalogueMetrics } from "../types.ts";
import type { PeriodChoice } from "../components/PeriodPicker.tsx";
import { BarChart } from "../components/Charts.tsx";
import { DataTable } from "../components/DataTable.tsx";
import { ErrorBox, Loading, NoData } from "../components/States.tsx";

export function Catalogue({ period }: { period: PeriodChoice }) {
  const p = { from: period.from, to: period.to };
  const q = useQuery({ queryKey: ["catalogue", p], queryFn: () => api<CatalogueMetrics>(`/api/metrics/catalogue${query({ ...p, limit: 100 })}`) });
  if (q.isPending) return <Loading what="the catalogue" />;
  if (q.isError) return <ErrorBox error={q.error} retry={() => void q.refetch()} />;
  const c = q.data;
  if (c.products.length === 0) return <NoData />;
  const top = c.products.slice(0, 15);
  return (
    <>
      <section className="figures" aria-label="Replenishability">
        <article className="figure" data-testid="metric-replenishableShare" data-value={c.replenishableShare ?? ""}>
          <h3>Revenue from products bought again</h3>
          <p className="value">{pct(c.replenishableShare)}</p>
          <span className="delta none">by the same customer, in two orders or more</span>
        </article>
        <article className="figure">
          <h3>Typical re-buy interval</h3>
          <p className="value">{days(c.medianRebuyDays)}</p>
          <span className="delta none">median over re-bought products</span>
        </article>
      </section>
      <p className="note">
        {c.replenishableShare !== null && c.replenishableShare >= 0.3
          ? "Customers come back for the same products: replenishment reminders and subscriptions will pay here."
          : "Few products are bought again by the same customer: lean on cross-selling and new products rather than replenishment reminders."}
      </p>
      <section className="card">
        <h2>Re-buy rate of the best-selling products</h2>
        <BarChart label="Re-buy rate by product" horizontal height={Math.max(240, top.length * 26)} labels={top.map((x) => x.title ?? x.productId)} series={[{ label: "Customers who bought it again", data: top.map((x) => x.rebuyRate) }]} format={(v) => pct(v, 0)} />
      </section>
      <DataTable
        title="Products"
        filename="fidelio-catalogue.csv"
        rows={c.products}
        columns={[
          { label: "Product", csv: (x) => x.productId },
          { label: "Title", csv: (x) => x.title },
          { label: "Category", csv: (x) => x.category },
          { label: "Revenue (minor units)", csv: (x) => x.revenue, show: (x) => money(x.revenue), numeric: true },
          { label: "Buyers", csv: (x) => x.buyers, show: (x) => count(x.buyers), numeric: true },
          { label: "Re-buyers", csv: (x) => x.rebuyers, show: (x) => count(x.rebuyers), numeric: true },
          { label: "Re-buy rate", csv: (x) => x.rebuyRate, show: (x) => pct(x.rebuyRate), numeric: true },
          { label: "Median re-buy days", csv: (x) => x.medianRebuyDays, show: (x) => days(x.medianRebuyDays), numeric: true },
          { label: "Usage days (set by the shop)", csv: (x) => x.usageDays, numeric: true },
        ]}
      />
    </>
  );
}
