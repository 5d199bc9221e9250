import { useQuery } from "@tanstack/react-query";
import { api, query } from "../api.ts";
import { change, count, decimal, money, pct } from "../format.ts";
import type { HeadlineReport, RetentionRow, SeriesPoint } from "../types.ts";
import type { PeriodChoice } from "../components/PeriodPicker.tsx";
import { BarChart, LineChart } from "../components/Charts.tsx";
import { DataTable } from "../components/DataTable.tsx";
import { ErrorBox, Loading, NoData } from "../components/States.tsx";

interface Figure {
  id: string;
  label: string;
  value: (m: HeadlineReport) => number | null;
  show: (v: number | null) => string;
  help: string;
}

const FIGURES: Figure[] = [
  { id: "customers", label: "Customers", value: (m) => m.customers, show: count, help: "Unique customers who ordered in the period" },
  { id: "orders", label: "Orders", value: (m) => m.orders, show: count, help: "Orders in the period, guest orders included" },
  { id: "revenue", label: "Revenue", value: (m) => m.revenue, show: (v) => money(v), help: "Order totals; refunds are shown apart" },
  { id: "repeatCustomerRate", label: "Repeat customer rate", value: (m) => m.repeatCustomerRate, show: (v) => pct(v), help: "Customers with 2 or more orders in the period ÷ customers" },
  { id: "purchaseFrequency", label: "Purchase frequency", value: (m) => m.purchaseFrequency, show: (v) => decimal(v), help: "Orders per customer" },
  { id: "averageOrderValue", label: "Average order value", value: (m) => m.averageOrderValue, show: (v) => money(v), help: "Revenue ÷ orders" },
  { id: "customerValue", label: "Customer value", value: (m) => m.customerValue, show: (v) => money(v), help: "Purchase frequency × average order value" },
  { id: "returningRevenueShare", label: "Revenue from returning customers", value: (m) => m.returningRevenueShare, show: (v) => pct(v), help: "Revenue of orders that are not the customer's first" },
];

function Delta({ now, before }: { now: number | null; before: number | null }) {
  const c = change(now, before);
  if (c === null) return <span className="delta none">no comparison</span>;
  const cls = c > 0.0005 ? "up" : c < -0.0005 ? "down" : "flat";
  return (
    <span className={`delta ${cls}`} title="Change from the previous period of the same length">
      {c > 0 ? "▲" : c < 0 ? "▼" : "■"} {pct(Math.abs(c))}
    </span>
  );
}

export function Overview({ period }: { period: PeriodChoice }) {
  const p = { from: period.from, to: period.to };
  const headline = useQuery({ queryKey: ["headline", p], queryFn: () => api<HeadlineReport>(`/api/metrics${query({ ...p, compare: "previous" })}`) });
  const series = useQuery({ queryKey: ["series", p], queryFn: () => api<{ points: SeriesPoint[] }>(`/api/metrics/series${query({ ...p, unit: "month" })}`) });
  const retention = useQuery({ queryKey: ["retention", p], queryFn: () => api<{ rows: RetentionRow[] }>(`/api/metrics/retention${query({ ...p, unit: "month" })}`) });

  if (headline.isPending) return <Loading what="the headline figures" />;
  if (headline.isError) return <ErrorBox error={headline.error} retry={() => void headline.refetch()} />;
  const m = headline.data;
  const prev = m.previous;
  return (
    <>
      <p className="period-line" data-testid="period">
        {m.from} to {m.to}
        {prev ? ` · compared with ${prev.from} to ${prev.to}` : ""}
      </p>
      {m.orders === 0 ? <NoData /> : null}
      <section className="figures" aria-label="Headline figures">
        {FIGURES.map((f) => {
          const v = f.value(m);
          return (
            <article className="figure" key={f.id} data-testid={`metric-${f.id}`} data-value={v ?? ""} title={f.help}>
              <h3>{f.label}</h3>
              <p className="value">{f.show(v)}</p>
              {prev ? <Delta now={v} before={f.value(prev)} /> : null}
            </article>
          );
        })}
      </section>
      <p className="note">
        {count(m.newCustomers)} new and {count(m.returningCustomers)} returning customers · {count(m.guestOrders)} guest orders · refunds:{" "}
        {count(m.refunds.count)} ({money(m.refunds.amount)})
        {m.otherCurrencyOrders > 0 ? ` · ${count(m.otherCurrencyOrders)} orders in other currencies are not in revenue` : ""}
      </p>
      {series.isPending ? <Loading what="the trend" /> : series.isError ? <ErrorBox error={series.error} retry={() => void series.refetch()} /> : (
        <>
          <div className="grid2">
            <section className="card">
              <h2>Revenue by month</h2>
              <BarChart label="Revenue by month" labels={series.data.points.map((x) => x.label)} series={[{ label: "Revenue", data: series.data.points.map((x) => x.revenue) }]} format={(v) => money(v, { compact: true })} />
            </section>
            <section className="card">
              <h2>Customers and orders by month</h2>
              <LineChart
                label="Customers and orders by month"
                labels={series.data.points.map((x) => x.label)}
                series={[
                  { label: "Customers", data: series.data.points.map((x) => x.customers) },
                  { label: "Orders", data: series.data.points.map((x) => x.orders) },
                ]}
                format={(v) => count(v)}
              />
            </section>
            <section className="card">
              <h2>Average order value by month</h2>
              <LineChart label="Average order value by month" labels={series.data.points.map((x) => x.label)} series={[{ label: "AOV", data: series.data.points.map((x) => x.averageOrderValue) }]} format={(v) => money(v)} />
            </section>
            <section className="card">
              <h2>Retention from one month to the next</h2>
              {retention.isPending ? <Loading what="retention" /> : retention.isError ? <ErrorBox error={retention.error} /> : (
                <LineChart
                  label="Monthly retention and repeat rate"
                  labels={retention.data.rows.map((x) => x.label)}
                  series={[
                    { label: "Retention rate", data: retention.data.rows.map((x) => x.retentionRate) },
                    { label: "Repeat customer rate", data: series.data.points.map((x) => x.repeatCustomerRate) },
                  ]}
                  format={(v) => pct(v, 0)}
                />
              )}
            </section>
          </div>
          <DataTable
            title="Month by month"
            filename="fidelio-months.csv"
            rows={series.data.points.map((x, i) => ({ ...x, retention: retention.data?.rows[i] }))}
            columns={[
              { label: "Month", csv: (r) => r.label },
              { label: "Customers", csv: (r) => r.customers, show: (r) => count(r.customers), numeric: true },
              { label: "Orders", csv: (r) => r.orders, show: (r) => count(r.orders), numeric: true },
              { label: "Revenue (minor units)", csv: (r) => r.revenue, show: (r) => money(r.revenue), numeric: true },
              { label: "Repeat customer rate", csv: (r) => r.repeatCustomerRate, show: (r) => pct(r.repeatCustomerRate), numeric: true },
              { label: "AOV (minor units)", csv: (r) => r.averageOrderValue, show: (r) => money(r.averageOrderValue), numeric: true },
              { label: "Retention rate", csv: (r) => r.retention?.retentionRate, show: (r) => pct(r.retention?.retentionRate), numeric: true },
              { label: "Churn rate", csv: (r) => r.retention?.churnRate, show: (r) => pct(r.retention?.churnRate), numeric: true },
            ]}
          />
        </>
      )}
    </>
  );
}
