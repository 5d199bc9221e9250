import { useQuery } from "@tanstack/react-query";
import { api } from "../api.ts";
import { count, money, pct } from "../format.ts";
import type { ChannelLoyalty } from "../types.ts";
import { BarChart } from "../components/Charts.tsx";
import { DataTable } from "../components/DataTable.tsx";
import { ErrorBox, Loading, NoData } from "../components/States.tsx";

export function Channels() {
  const q = useQuery({ queryKey: ["channels"], queryFn: () => api<{ channels: ChannelLoyalty[] }>("/api/metrics/channels") });
  if (q.isPending) return <Loading what="the channels" />;
  if (q.isError) return <ErrorBox error={q.error} retry={() => void q.refetch()} />;
  const rows = q.data.channels;
  if (rows.length === 0) return <NoData />;
  const horizon = (r: ChannelLoyalty, d: number) => r.revenuePerCustomer.find((h) => h.days === d);
  return (
    <>
      <p className="lead">Which first-touch channel brings customers who come back? Compare repeat rates and what a customer is worth a year after the first order.</p>
      <div className="grid2">
        <section className="card">
          <h2>Repeat rate by acquisition channel</h2>
          <BarChart label="Repeat rate by channel" horizontal labels={rows.map((r) => r.channel)} series={[{ label: "Repeat rate", data: rows.map((r) => r.repeatRate) }]} format={(v) => pct(v, 0)} />
        </section>
        <section className="card">
          <h2>Revenue per customer after 90 / 180 / 365 days</h2>
          <BarChart
            label="Revenue per customer by channel"
            horizontal
            labels={rows.map((r) => r.channel)}
            series={[90, 180, 365].map((d) => ({ label: `${d} days`, data: rows.map((r) => horizon(r, d)?.value ?? null) }))}
            format={(v) => money(v, { compact: true })}
          />
        </section>
      </div>
      <DataTable
        title="Acquisition channels"
        filename="fidelio-channels.csv"
        note="Revenue after N days counts only customers whose first order is at least N days old."
        rows={rows}
        columns={[
          { label: "Channel", csv: (r) => r.channel },
          { label: "Customers", csv: (r) => r.customers, show: (r) => count(r.customers), numeric: true },
          { label: "Repeat rate", csv: (r) => r.repeatRate, show: (r) => pct(r.repeatRate), numeric: true },
          { label: "Orders", csv: (r) => r.orders, show: (r) => count(r.orders), numeric: true },
          { label: "AOV (minor units)", csv: (r) => r.averageOrderValue, show: (r) => money(r.averageOrderValue), numeric: true },
          { label: "Revenue (minor units)", csv: (r) => r.revenue, show: (r) => money(r.revenue), numeric: true },
          ...[90, 180, 365].map((d) => ({
            label: `Revenue per customer after ${d} days`,
            csv: (r: ChannelLoyalty) => horizon(r, d)?.value,
            show: (r: ChannelLoyalty) => `${money(horizon(r, d)?.value)} (${count(horizon(r, d)?.eligible)})`,
            numeric: true,
          })),
        ]}
      />
    </>
  );
}
