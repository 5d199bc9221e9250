import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { api, query } from "../api.ts";
import { count, money, pct } from "../format.ts";
import type { CohortRow } from "../types.ts";
import type { PeriodChoice } from "../components/PeriodPicker.tsx";
import { downloadCsv } from "../csv.ts";
import { ErrorBox, Loading, NoData } from "../components/States.tsx";
import { BarChart } from "../components/Charts.tsx";

type View = "customerShare" | "customers" | "revenueShare" | "revenue";
const VIEWS: { id: View; label: string }[] = [
  { id: "customerShare", label: "Customers, % of cohort" },
  { id: "customers", label: "Customers" },
  { id: "revenueShare", label: "Revenue, % of month 0" },
  { id: "revenue", label: "Revenue" },
];

/** Heat colour: the share (0…1) as the strength of one hue; text stays readable. */
function heat(share: number | null): { background: string; color: string } {
  if (share === null) return { background: "transparent", color: "inherit" };
  const s = Math.max(0, Math.min(1, share));
  return { background: `rgba(79, 70, 229, ${0.06 + s * 0.85})`, color: s > 0.45 ? "#fff" : "#111827" };
}

export function Cohorts({ period }: { period: PeriodChoice }) {
  const p = { from: period.from, to: period.to };
  const [view, setView] = useState<View>("customerShare");
  const q = useQuery({ queryKey: ["cohorts", p], queryFn: () => api<{ currency: string; cohorts: CohortRow[] }>(`/api/metrics/cohorts${query(p)}`) });
  if (q.isPending) return <Loading what="the cohorts" />;
  if (q.isError) return <ErrorBox error={q.error} retry={() => void q.refetch()} />;
  const cohorts = q.data.cohorts;
  if (cohorts.length === 0) return <NoData>No customer made a first order in this period.</NoData>;
  const width = Math.max(...cohorts.map((c) => c.cells.length));
  const cellText = (c: CohortRow["cells"][number]) =>
    view === "customerShare" ? pct(c.customerShare, 0) : view === "customers" ? count(c.customers) : view === "revenueShare" ? pct(c.revenueShare, 0) : money(c.revenue, { compact: true });
  const cellShare = (c: CohortRow["cells"][number], row: CohortRow) =>
    view === "customerShare" || view === "customers" ? c.customerShare : view === "revenueShare" ? (c.revenueShare === null ? null : Math.min(1, c.revenueShare)) : row.cells[0] && row.cells[0].revenue > 0 ? Math.min(1, c.revenue / row.cells[0].revenue) : null;
  const exportCsv = () => {
    const header = ["cohort", "size", "revenue to date (minor units)", "historical CLV (minor units)", ...Array.from({ length: width }, (_, i) => `month ${i}`)];
    const value = (c: CohortRow["cells"][number]) => (view === "customerShare" ? c.customerShare : view === "customers" ? c.customers : view === "revenueShare" ? c.revenueShare : c.revenue);
    downloadCsv(`fidelio-cohorts-${view}.csv`, header, cohorts.map((r) => [r.cohort, r.size, r.revenueToDate, r.historicalClv, ...r.cells.map(value)]));
  };
  return (
    <>
      <section className="card table-card">
        <header className="card-head">
          <h2>Cohort retention by month of first order</h2>
          <div className="actions">
            <select aria-label="What the cells show" value={view} onChange={(e) => setView(VIEWS.find((v) => v.id === e.target.value)?.id ?? "customerShare")}>
              {VIEWS.map((v) => (
                <option key={v.id} value={v.id}>
                  {v.label}
                </option>
              ))}
            </select>
            <button type="button" className="secondary" onClick={exportCsv}>
              Download CSV
            </button>
          </div>
        </header>
        <p className="note">Each row is the customers whose first order fell in that month; each column, the months since. Darker means more of them came back.</p>
        <div className="table-scroll">
          <table className="heatmap" data-testid="cohort-table">
            <thead>
              <tr>
                <th scope="col">Cohort</th>
                <th scope="col" className="num">Customers</th>
                <th scope="col" className="num">CLV to date</th>
                {Array.from({ length: width }, (_, i) => (
                  <th key={i} scope="col" className="num">
                    {i}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {cohorts.map((r) => (
                <tr key={r.cohort} data-cohort={r.cohort} data-size={r.size}>
                  <th scope="row">{r.cohort}</th>
                  <td className="num">{count(r.size)}</td>
                  <td className="num">{money(r.historicalClv)}</td>
                  {Array.from({ length: width }, (_, i) => {
                    const c = r.cells[i];
                    return c ? (
                      <td key={i} className="num cell" style={heat(cellShare(c, r))} data-customers={c.customers}>
                        {cellText(c)}
                      </td>
                    ) : (
                      <td key={i} />
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <section className="card">
        <h2>Historical CLV by cohort</h2>
        <BarChart label="Historical CLV by cohort" labels={cohorts.map((c) => c.cohort)} series={[{ label: "Revenue per customer to date", data: cohorts.map((c) => c.historicalClv) }]} format={(v) => money(v)} />
      </section>
    </>
  );
}
