import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { api, query } from "../api.ts";
import { count, currentCurrency, decimal, majorOf, money, pct, toMinor } from "../format.ts";
import type { BudgetAdvice } from "../types.ts";
import { DataTable } from "../components/DataTable.tsx";
import { ErrorBox, Loading } from "../components/States.tsx";

const STAGES = [
  { id: "", label: "Infer from my data" },
  { id: "just-opened", label: "Just opened" },
  { id: "starting", label: "Starting" },
  { id: "growing", label: "Growing" },
  { id: "launched", label: "Launched" },
  { id: "established", label: "Established" },
];

/** What the shop entered last time, kept in this browser. */
const SAVED = "fidelio.advice";
function saved(): { cacText: string; stage: string } {
  try {
    const v: unknown = JSON.parse(localStorage.getItem(SAVED) ?? "{}");
    if (typeof v === "object" && v !== null) {
      const cacText = "cacText" in v && typeof v.cacText === "string" ? v.cacText : "";
      const stage = "stage" in v && typeof v.stage === "string" && STAGES.some((s) => s.id === v.stage) ? v.stage : "";
      return { cacText, stage };
    }
  } catch {
    // A damaged entry is ignored.
  }
  return { cacText: "", stage: "" };
}
const appliedOf = (cacText: string, stage: string) => ({
  ...(cacText !== "" && Number(cacText) >= 0 ? { cac: toMinor(Number(cacText)) } : {}),
  ...(stage ? { stage } : {}),
});

export function Advice() {
  const [cacText, setCacText] = useState(() => saved().cacText);
  const [stage, setStage] = useState(() => saved().stage);
  const [applied, setApplied] = useState<{ cac?: number; stage?: string }>(() => appliedOf(saved().cacText, saved().stage));
  const q = useQuery({ queryKey: ["advice", applied], queryFn: () => api<BudgetAdvice>(`/api/metrics/advice${query({ cac: applied.cac, stage: applied.stage })}`) });
  const cacError = cacText !== "" && !(Number(cacText) >= 0) ? "Enter an amount, e.g. 25 or 25.50" : undefined;
  return (
    <>
      <form
        className="card advice-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (cacError) return;
          localStorage.setItem(SAVED, JSON.stringify({ cacText, stage }));
          setApplied(appliedOf(cacText, stage));
        }}
      >
        <label>
          Cost to win a customer (CAC, {currentCurrency()})
          <input inputMode="decimal" value={cacText} onChange={(e) => setCacText(e.target.value.replace(",", "."))} placeholder="e.g. 25" aria-invalid={cacError ? true : undefined} />
          {cacError ? <span className="field-error">{cacError}</span> : null}
        </label>
        <label>
          Stage of the shop
          <select value={stage} onChange={(e) => setStage(e.target.value)}>
            {STAGES.map((s) => (
              <option key={s.id} value={s.id}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Update the advice</button>
      </form>
      {q.isPending ? <Loading what="the advice" /> : q.isError ? <ErrorBox error={q.error} retry={() => void q.refetch()} /> : <AdviceView a={q.data} />}
    </>
  );
}

function AdviceView({ a }: { a: BudgetAdvice }) {
  const f = a.figures;
  return (
    <>
      <section className="card">
        <h2>
          Put <span data-testid="retention-share">{pct(a.retentionShare, 0)}</span> of the budget on retention
        </h2>
        <div className="split" role="img" aria-label={`${pct(a.retentionShare, 0)} retention, ${pct(a.acquisitionShare, 0)} acquisition`}>
          <div className="split-retention" style={{ width: `${a.retentionShare * 100}%` }}>
            Retention {pct(a.retentionShare, 0)}
          </div>
          <div className="split-acquisition" style={{ width: `${a.acquisitionShare * 100}%` }}>
            Acquisition {pct(a.acquisitionShare, 0)}
          </div>
        </div>
        <h3>Why</h3>
        <ol className="reasoning">
          {a.reasoning.map((r, i) => (
            <li key={i}>{r}</li>
          ))}
        </ol>
      </section>
      <DataTable
        title="Figures used"
        filename="fidelio-advice-figures.csv"
        rows={[
          { k: "Stage", v: a.stage, shown: `${a.stage}${a.stageInferred ? " (inferred)" : " (set by you)"}` },
          { k: "Customers", v: f.customers, shown: count(f.customers) },
          { k: "Days of sales history", v: f.historyDays, shown: count(f.historyDays) },
          { k: "Orders, last 90 days", v: f.ordersLast90Days, shown: count(f.ordersLast90Days) },
          { k: "Orders, 90 days before", v: f.ordersPrevious90Days, shown: count(f.ordersPrevious90Days) },
          { k: "Repeat customer rate (lifetime)", v: f.repeatCustomerRate, shown: pct(f.repeatCustomerRate) },
          { k: "Historical CLV", v: f.historicalClv === null ? null : majorOf(f.historicalClv), shown: money(f.historicalClv) },
          { k: "CAC", v: f.cac === null ? null : majorOf(f.cac), shown: money(f.cac) },
          { k: "CLV ÷ CAC", v: f.clvToCac, shown: decimal(f.clvToCac) },
        ]}
        columns={[
          { label: "Figure", csv: (r) => r.k },
          { label: "Value", csv: (r) => r.v, show: (r) => r.shown, numeric: true },
        ]}
      />
    </>
  );
}
