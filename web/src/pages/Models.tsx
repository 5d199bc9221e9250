import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../api.ts";
import { count, decimal, money } from "../format.ts";
import type { ModelReport, SavedFit, ScoreOverview, ScoringRun } from "../types.ts";
import { BarChart, LineChart } from "../components/Charts.tsx";
import { ErrorBox, Loading } from "../components/States.tsx";
import { STAGE_LABELS } from "../components/Scores.tsx";

type ModelsAnswer = { fit: (SavedFit & { report: ModelReport }) | null; scores: ScoreOverview };

const estimate = (v: number, se: number) => `${v < 1000 ? v.toFixed(3) : v.toExponential(2)}${Number.isFinite(se) ? ` ± ${se < 1000 ? se.toFixed(3) : se.toExponential(1)}` : ""}`;

/** The fitted models, how well they predicted the holdout, and what the scores look like. */
export function Models() {
  const client = useQueryClient();
  const models = useQuery({ queryKey: ["models"], queryFn: () => api<ModelsAnswer>("/api/models") });
  const refresh = () => {
    void client.invalidateQueries({ queryKey: ["models"] });
    void client.invalidateQueries({ queryKey: ["customers"] });
  };
  const fit = useMutation({ mutationFn: () => api<ModelReport & { scoring: ScoringRun }>("/api/models/fit", { method: "POST", body: {} }), onSuccess: refresh });
  const score = useMutation({ mutationFn: () => api<ScoringRun>("/api/models/score", { method: "POST", body: {} }), onSuccess: refresh });
  if (models.isPending) return <Loading what="the models" />;
  if (models.isError) return <ErrorBox error={models.error} retry={() => void models.refetch()} />;
  const { fit: saved, scores } = models.data;
  const r = saved?.report;
  const busy = fit.isPending || score.isPending;
  return (
    <>
      <div className="actions">
        <button type="button" onClick={() => fit.mutate()} disabled={busy} data-testid="fit-now">
          {fit.isPending ? "Fitting…" : saved ? "Refit and score now" : "Fit and score now"}
        </button>
        <button type="button" className="secondary" onClick={() => score.mutate()} disabled={busy || !scores.run}>
          {score.isPending ? "Scoring…" : "Rescore customers"}
        </button>
        <span className="note">
          {scores.run
            ? `Last scored ${new Date(scores.run.scoredAt).toLocaleString()}: ${count(scores.run.customers)} customers in ${decimal(scores.run.seconds, 1)} s${scores.run.modelVersion !== null ? ` with model v${scores.run.modelVersion}` : ""}. The server rescores daily and refits weekly.`
            : "Not scored yet."}
        </span>
      </div>
      {fit.isError ? <ErrorBox error={fit.error} /> : null}
      {score.isError ? <ErrorBox error={score.error} /> : null}
      {!saved || !r ? (
        <p className="note" data-testid="no-model">
          No model has been fitted yet. Fitting takes a few seconds: BG/NBD learns how often customers buy and when they drop out, Gamma-Gamma how much they spend.
          {scores.run?.note ? ` ${scores.run.note}` : ""}
        </p>
      ) : (
        <>
          <p className="lead" data-testid="model-lead">
            Model v{saved.version}, fitted {new Date(saved.fittedAt).toLocaleDateString()} on {count(r.customers)} customers ({count(r.repeatCustomers)} bought again). Trained on{" "}
            {r.calibration.from} … {r.calibration.to}, checked on {r.holdout.from} … {r.holdout.to}: customers made {count(r.bgNbd.validation.actual)} repeat purchases; the model expected{" "}
            {count(Math.round(r.bgNbd.validation.predicted))} ({signedPct(r.bgNbd.validation.predicted / Math.max(1, r.bgNbd.validation.actual) - 1)}).
          </p>
          {r.warnings.length > 0 ? (
            <ul className="warnings" data-testid="model-warnings">
              {r.warnings.map((w) => (
                <li key={w}>{w}</li>
              ))}
            </ul>
          ) : null}
          <div className="grid2">
            <section className="card">
              <h2>Repeat purchases over time: actual vs the model</h2>
              <LineChart
                label="Cumulative repeat purchases, actual and predicted"
                labels={r.bgNbd.validation.tracking.map((t) => `${r.unit === "week" ? "W" : "D"}${t.period}`)}
                series={[
                  { label: "Actual", data: r.bgNbd.validation.tracking.map((t) => t.actual) },
                  { label: "BG/NBD", data: r.bgNbd.validation.tracking.map((t) => t.predicted) },
                ]}
                format={(v) => count(Math.round(v))}
              />
              <p className="note">Cumulative repeat purchases by {r.unit} since the first order; the holdout starts after {r.calibration.to}.</p>
            </section>
            <section className="card">
              <h2>Holdout purchases per customer, by purchases in training</h2>
              <BarChart
                label="Conditional expectations"
                labels={r.bgNbd.validation.byCalibrationFrequency.map((g) => g.x)}
                series={[
                  { label: "Actual", data: r.bgNbd.validation.byCalibrationFrequency.map((g) => g.actual) },
                  { label: "BG/NBD", data: r.bgNbd.validation.byCalibrationFrequency.map((g) => g.predicted) },
                ]}
                format={(v) => decimal(v)}
              />
              <p className="note">Mean absolute error per customer: {decimal(r.bgNbd.validation.meanAbsoluteError, 3)} purchases.</p>
            </section>
          </div>
        </>
      )}
      <div className="grid2">
        <section className="card">
          <h2>Customers by lifecycle stage</h2>
          <BarChart label="Customers by lifecycle stage" horizontal labels={scores.byStage.map((b) => STAGE_LABELS[b.stage])} series={[{ label: "Customers", data: scores.byStage.map((b) => b.customers) }]} format={(v) => count(v)} />
        </section>
        <section className="card">
          <h2>Predicted CLV, next year</h2>
          {scores.clvDistribution.length === 0 ? <p className="note">Appears once a model with a spend model has scored the customers.</p> : (
            <BarChart
              label="CLV distribution"
              labels={scores.clvDistribution.map((b, i) => (i === scores.clvDistribution.length - 1 ? `${money(b.fromMinor, { compact: true })}+` : money(b.fromMinor, { compact: true })))}
              series={[{ label: "Customers", data: scores.clvDistribution.map((b) => b.customers) }]}
              format={(v) => count(v)}
            />
          )}
        </section>
        <section className="card">
          <h2>RFM segments</h2>
          <BarChart label="Customers by RFM segment" horizontal height={300} labels={scores.byRfmSegment.map((b) => b.segment)} series={[{ label: "Customers", data: scores.byRfmSegment.map((b) => b.customers) }]} format={(v) => count(v)} />
        </section>
        {saved && r ? (
          <section className="card">
            <h2>Parameters</h2>
            <table className="params">
              <tbody>
                <tr><th scope="row">BG/NBD</th><td>r {estimate(r.bgNbd.params.r, r.bgNbd.standardErrors.r)}, α {estimate(r.bgNbd.params.alpha, r.bgNbd.standardErrors.alpha)}, a {estimate(r.bgNbd.params.a, r.bgNbd.standardErrors.a)}, b {estimate(r.bgNbd.params.b, r.bgNbd.standardErrors.b)}; LL {decimal(r.bgNbd.logLikelihood, 1)}</td></tr>
                {r.gammaGamma ? <tr><th scope="row">Gamma-Gamma</th><td>p {estimate(r.gammaGamma.params.p, r.gammaGamma.standardErrors.p)}, q {estimate(r.gammaGamma.params.q, r.gammaGamma.standardErrors.q)}, γ {estimate(r.gammaGamma.params.gamma, r.gammaGamma.standardErrors.gamma)}</td></tr> : null}
                <tr><th scope="row">Churn signals</th><td>{count(scores.signals.buysLessOften)} buy less often, {count(scores.signals.buysCheaper)} buy cheaper, {count(scores.signals.returnsMore)} return more; {count(scores.signals.bigSpenderRare)} big spenders who buy rarely</td></tr>
              </tbody>
            </table>
            <p className="note">Validation figures are from the fit on the training period; predictions use the same model refitted on every order up to {saved.dataEnd}.</p>
          </section>
        ) : null}
      </div>
    </>
  );
}

function signedPct(x: number): string {
  return `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)} %`;
}
