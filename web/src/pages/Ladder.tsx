import { useQuery } from "@tanstack/react-query";
import { api } from "../api.ts";
import { count, days, pct } from "../format.ts";
import type { IntervalSummary, LadderStep } from "../types.ts";
import { BarChart } from "../components/Charts.tsx";
import { DataTable } from "../components/DataTable.tsx";
import { ErrorBox, Loading, NoData } from "../components/States.tsx";

export function Ladder() {
  const ladder = useQuery({ queryKey: ["ladder"], queryFn: () => api<{ steps: LadderStep[] }>("/api/metrics/ladder?max=10") });
  const intervals = useQuery({ queryKey: ["intervals"], queryFn: () => api<IntervalSummary>("/api/metrics/intervals") });
  if (ladder.isPending) return <Loading what="the repeat ladder" />;
  if (ladder.isError) return <ErrorBox error={ladder.error} retry={() => void ladder.refetch()} />;
  const steps = ladder.data.steps;
  if ((steps[0]?.customers ?? 0) === 0) return <NoData />;
  const first = steps[0];
  const second = steps[1];
  return (
    <>
      {first && second && first.share !== null && second.share !== null ? (
        <p className="lead" data-testid="ladder-lead">
          {pct(first.share, 0)} of one-time buyers come back for a second order; {pct(second.share, 0)} of second-time buyers buy a third time
          {second.share > first.share ? ` — ${decimal1(second.share / first.share)}× as likely. Winning the second order is where loyalty starts.` : "."}
        </p>
      ) : null}
      <div className="grid2">
        <section className="card">
          <h2>Chance of one more order, by orders so far</h2>
          <BarChart label="Repeat ladder" labels={steps.map((s) => `${s.n} → ${s.n + 1}`)} series={[{ label: "Share who ordered again", data: steps.map((s) => s.share) }]} format={(v) => pct(v, 0)} />
        </section>
        <section className="card">
          <h2>Days between purchases</h2>
          {intervals.isPending ? <Loading what="intervals" /> : intervals.isError ? <ErrorBox error={intervals.error} /> : (
            <>
              <BarChart
                label="Days between purchases"
                labels={intervals.data.histogram.map((h) => h.label)}
                series={[
                  { label: "Intervals", data: intervals.data.histogram.map((h) => h.count) },
                  { label: "Customers by their own rhythm", data: intervals.data.rhythmHistogram.map((h) => h.count) },
                ]}
                format={(v) => count(v)}
              />
              <p className="note">
                Median {days(intervals.data.medianDays)} (middle half {days(intervals.data.p25Days)} – {days(intervals.data.p75Days)}) over {count(intervals.data.intervals)} intervals;{" "}
                {count(intervals.data.customersWithRhythm)} customers have bought on two days or more, so a rhythm of their own.
              </p>
            </>
          )}
        </section>
      </div>
      <DataTable
        title="Repeat ladder"
        filename="fidelio-repeat-ladder.csv"
        rows={steps}
        columns={[
          { label: "Orders so far (n)", csv: (s) => s.n, numeric: true },
          { label: "Customers with n orders or more", csv: (s) => s.customers, show: (s) => count(s.customers), numeric: true },
          { label: "Made an (n+1)-th", csv: (s) => s.next, show: (s) => count(s.next), numeric: true },
          { label: "Share", csv: (s) => s.share, show: (s) => pct(s.share), numeric: true },
          { label: "Median days to the next", csv: (s) => s.medianDaysToNext, show: (s) => days(s.medianDaysToNext), numeric: true },
        ]}
      />
    </>
  );
}

function decimal1(x: number): string {
  return x.toFixed(1);
}
