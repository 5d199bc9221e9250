/**
 * @module predictions — the models of src/models fitted on a shop's own
 * orders: purchases read from the store, a calibration/holdout split (the
 * last quarter of the history by default), BG/NBD, Pareto/NBD and
 * Gamma-Gamma fitted on the calibration period and validated on the holdout.
 * Fits are stored with a version (model_fits); every customer's scores —
 * predictions, RFM, lifecycle stage, churn signals — are stored by scoring
 * runs (customer_scores), after each fit, on demand and on the server's
 * schedule (refresh.ts).
 */
import { z } from "zod";
import { AppError, formatMoney, minorDigits } from "../shared/index.ts";
import type { Queryable, Store } from "../store/index.ts";
import { makePredictor, type DaySummary } from "./score.ts";
import { refreshScores, type ScoringRun } from "./scores-store.ts";
import { purchaseDaysOfLog, readOrderLog, type OrderLog } from "./order-log.ts";
import { latestFit, type PredictionParams, type SavedFit } from "./fits.ts";

export { findLatestFit, latestFit, type PredictionParams, type SavedFit } from "./fits.ts";

export { orderLogOf, readOrderLog, type CustomerHistory, type OrderFact, type OrderLog } from "./order-log.ts";
export {
  DEFAULT_LIFECYCLE_SETTINGS,
  LifecycleSettings,
  STAGES,
  makePredictor,
  median,
  scoreCustomers,
  prepareScoring,
  scoreLog,
  type ScoreTable,
  type ScoringPass,
  type ChurnSignals,
  type CustomerScore,
  type DaySummary,
  type PredictionModel,
  type Predictor,
  type Stage,
} from "./score.ts";
export {
  CustomerListQuery,
  customerScore,
  describeScore,
  latestScoringRun,
  listCustomers,
  readLifecycleSettings,
  refreshScores,
  scoreOverview,
  updateLifecycleSettings,
  type CustomerListItem,
  type ScoreOverview,
  type ScoringRun,
  type StoredScore,
} from "./scores-store.ts";
export { REFIT_AFTER_DAYS, refreshPredictions, schedulePredictionRefresh, scoringDue, type RefreshResult } from "./refresh.ts";
import type { Workspace } from "../workspaces/index.ts";
import { NON_PURCHASE_STATUSES } from "../ingest/index.ts";
import { CalendarDay, wholeNumber } from "../metrics/index.ts";
import {
  PARAMETER_LOG_BOUND,
  UNIT_DAYS,
  dayNumber,
  dayOf,
  dayText,
  expectedPurchases,
  fitBgNbd,
  fitGammaGamma,
  fitParetoNbd,
  groupSummaryColumns,
  purchaseDayRange,
  spendColumns,
  summaryColumns,
  summarisePurchases,
  validateModel,
  type BgNbdParams,
  type FitOptions,
  type FitResult,
  type GammaGammaParams,
  type ParetoNbdParams,
  type Purchase,
  type PurchaseDays,
  type Validation,
} from "../models/index.ts";

export const FitQuery = z.object({
  unit: z.enum(["day", "week"]).default("week"),
  /** Last day of the calibration period; default: three quarters of the way through the history. */
  calibrationEnd: CalendarDay.optional(),
  /**
   * Also fit Pareto/NBD. Off by default: each evaluation of its likelihood
   * sums a 2F1 series per customer, and on data where churn is not
   * identified (the demo shop) its search takes minutes.
   */
  pareto: z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]).default(false),
});
export type FitQuery = z.input<typeof FitQuery>;

export interface ModelReport {
  unit: "day" | "week";
  currency: string;
  calibration: { from: string; to: string };
  holdout: { from: string; to: string };
  customers: number;
  /** Customers with at least one repeat transaction in calibration. */
  repeatCustomers: number;
  bgNbd: FitResult<BgNbdParams> & { validation: Validation };
  /** Only when asked for (`pareto: true`). */
  paretoNbd: (FitResult<ParetoNbdParams> & { validation: Validation }) | null;
  /** Fitted on the repeat customers' mean repeat-transaction value (currency units). */
  gammaGamma: FitResult<GammaGammaParams> | null;
  /** What makes the figures less trustworthy, in plain words. */
  warnings: string[];
}


/** One customer's purchases, in the workspace currency (amounts in currency units). */
async function purchasesOf(db: Queryable, ws: Workspace, customerId: number): Promise<Purchase[]> {
  // The day as a number computed by the database: parsing millions of date
  // strings in JS cost more than the fit itself (docs/benchmarks.md).
  const rows = await db.query<{ customer_id: number; day: number; amount: number }>(
    `SELECT customer_id, floor(extract(epoch FROM placed_at) / 86400)::int AS day, total_minor::float8 AS amount
       FROM orders WHERE workspace_id = $1 AND customer_id IS NOT NULL AND currency = $2 AND status <> ALL($3::text[])
        AND customer_id = $4`,
    [ws.id, ws.currency, [...NON_PURCHASE_STATUSES], customerId],
  );
  const scale = 10 ** minorDigits(ws.currency);
  return rows.map((r) => ({ customerId: String(r.customer_id), day: r.day, amount: r.amount / scale }));
}

/**
 * What a BG/NBD parameter at the search's wall (e^±PARAMETER_LOG_BOUND) means,
 * in words. Walls are limits of the model, not failures: a and b both
 * running off together with a stable ratio is the model where every customer
 * has the same drop-out probability a/(a+b) (the Beta mixing distribution
 * collapses to a point); b alone running off is a drop-out probability of 0
 * (no sign yet of customers leaving); r and α together is everyone buying at
 * the same rate r/α. The expectations are evaluated at the estimate as it is.
 */
export function wallWarnings(p: BgNbdParams): string[] {
  const high = (v: number) => Math.log(v) > PARAMETER_LOG_BOUND - 0.5;
  const low = (v: number) => Math.log(v) < -PARAMETER_LOG_BOUND + 0.5;
  const out: string[] = [];
  const meanDropout = p.a / (p.a + p.b);
  if (p.a + p.b > 1e4 && meanDropout > 1e-3) {
    out.push(`BG/NBD: every customer gets the same drop-out probability after a purchase, ${meanDropout.toFixed(3)} (a and b run off together; their ratio is what the data identifies, so their standard errors mean nothing).`);
  } else if (high(p.b) || low(p.a)) {
    out.push("BG/NBD: the orders show no sign of customers dropping out (the drop-out probability goes to 0), so every customer looks active; probability alive will stay near 1 until the history shows people leaving.");
  } else if (high(p.a) || low(p.b)) {
    out.push("BG/NBD: the estimate says nearly every customer drops out right after a repeat purchase; check the history is complete.");
  }
  if (high(p.r) && high(p.alpha)) {
    out.push(`BG/NBD: every active customer gets the same purchase rate, ${(p.r / p.alpha).toFixed(4)} per unit (r and α run off together).`);
  } else if (high(p.r) || high(p.alpha) || low(p.r) || low(p.alpha)) {
    out.push("BG/NBD: the purchase-rate distribution is at the edge of what can be estimated (r or α at the search's limit); treat the predictions as rough.");
  }
  return out;
}

/**
 * A bounded search: a shop's data can leave a likelihood flat in some
 * direction, and the fit must answer in seconds whatever the data (flags say
 * when it did not settle).
 */
const FIT_BUDGET = { maxEvaluations: 4000, restarts: 2 };

/** The purchase days of every customer, from the order log (read now when not given). */
async function purchaseDaysFor(db: Store, ws: Workspace, log?: OrderLog): Promise<PurchaseDays> {
  return purchaseDaysOfLog(log ?? (await readOrderLog(db, ws)), 10 ** minorDigits(ws.currency));
}

export async function fitModels(db: Store, ws: Workspace, query: z.output<typeof FitQuery>, read?: PurchaseDays): Promise<ModelReport> {
  return (await fitCalibration(db, ws, query, read)).report;
}

/** The calibration fits' covariances of ln θ, where the refit starts its search. */
interface WarmStart {
  bgNbd: number[][] | undefined;
  gammaGamma: number[][] | undefined;
}

/** A fit's report without its covariance (kept for the refit's warm start, not stored). */
function reported<P>(fit: FitResult<P>): FitResult<P> {
  const { logCovariance: _covariance, ...rest } = fit;
  return rest;
}

async function fitCalibration(db: Store, ws: Workspace, query: z.output<typeof FitQuery>, read?: PurchaseDays): Promise<{ report: ModelReport; warm: WarmStart }> {
  const purchases = read ?? (await purchaseDaysFor(db, ws));
  if (purchases.day.length === 0) throw new AppError("unprocessable", "there are no orders by known customers to fit the models on; import some first");
  const { first, last } = purchaseDayRange(purchases);
  const calibrationEnd = query.calibrationEnd ? dayNumber(query.calibrationEnd) : first + Math.floor(0.75 * (last - first));
  if (calibrationEnd <= first || calibrationEnd >= last) {
    throw new AppError("invalid_input", `calibrationEnd: must fall between the first order (${dayText(first)}) and the last (${dayText(last)}), exclusive`, [
      { field: "calibrationEnd", message: `must be after ${dayText(first)} and before ${dayText(last)}` },
    ]);
  }
  const options = { unit: query.unit, calibrationEnd, holdoutEnd: last };
  const summaries = summaryColumns(purchases, { unit: query.unit, calibrationEnd });
  let repeaters = 0;
  let heaviest = 0; // the summary with the most repeat transactions
  for (let k = 0; k < summaries.length; k++) {
    const x = summaries.x[k] ?? 0;
    if (x > 0) repeaters++;
    if (x > (summaries.x[heaviest] ?? 0)) heaviest = k;
  }
  if (repeaters === 0) {
    throw new AppError(
      "unprocessable",
      `no customer bought on two different days before ${dayText(calibrationEnd)} (the calibration period), so the models have nothing to learn how often customers come back or drop out from; import a longer history or choose a later --calibration-end`,
    );
  }
  const warnings: string[] = [];
  const budget = FIT_BUDGET;
  const shapes = groupSummaryColumns(summaries);
  const bg = fitBgNbd(shapes, budget);
  warnings.push(...wallWarnings(bg.params));
  // The expectations must be computable at the estimate, whatever it is;
  // if even the heaviest buyer's cannot be evaluated, refuse rather than
  // store a model that cannot predict.
  let usable: boolean;
  try {
    const unitDays = summaries.unitDays;
    const x = summaries.x[heaviest] ?? 0;
    usable = Number.isFinite(expectedPurchases(bg.params, x, (summaries.txDays[heaviest] ?? 0) / unitDays, (summaries.TDays[heaviest] ?? 0) / unitDays, (52 * 7) / unitDays));
  } catch {
    usable = false;
  }
  if (!usable) {
    throw new AppError("unprocessable", `BG/NBD: the estimate (${Object.entries(bg.params).map(([k, v]) => `${k} ≈ ${v.toPrecision(3)}`).join(", ")}) cannot be used to predict; try a longer history or another --calibration-end.`);
  }
  const pareto = query.pareto ? fitParetoNbd(shapes, budget) : null;
  const spenders = spendColumns(summaries);
  const gg = spenders.length >= 2 ? fitGammaGamma(spenders, budget) : null;
  if (repeaters < 100) {
    warnings.push(`Only ${repeaters} customers bought more than once in the calibration period: too few for stable estimates (aim for several hundred). Treat every figure as a rough guess.`);
  }
  const flat = (name: string, f: { hessianPositiveDefinite: boolean; converged: boolean }) => {
    if (!f.hessianPositiveDefinite) warnings.push(`${name}: the likelihood is flat around the estimate, so the parameters are not identified by this data (no standard errors).`);
    else if (!f.converged) warnings.push(`${name}: the optimiser did not settle; the estimate may not be the best one.`);
  };
  flat("BG/NBD", bg);
  if (pareto) flat("Pareto/NBD", pareto);
  if (gg && gg.params.q <= 1) {
    warnings.push(`Gamma-Gamma: q = ${gg.params.q.toFixed(2)} ≤ 1, so the average spend across customers is unbounded (a few very large baskets dominate); customers with one purchase get no expected order value or CLV.`);
  }
  if (gg) flat("Gamma-Gamma", gg);
  else warnings.push("Gamma-Gamma: fewer than two repeat customers with a spend; no spend model.");
  const report: ModelReport = {
    unit: query.unit,
    currency: ws.currency,
    calibration: { from: dayText(first), to: dayText(calibrationEnd) },
    holdout: { from: dayText(calibrationEnd + 1), to: dayText(last) },
    customers: summaries.length,
    repeatCustomers: repeaters,
    bgNbd: { ...reported(bg), validation: validateModel({ kind: "bg-nbd", params: bg.params }, purchases, options, summaries) },
    paretoNbd: pareto ? { ...reported(pareto), validation: validateModel({ kind: "pareto-nbd", params: pareto.params }, purchases, options, summaries) } : null,
    gammaGamma: gg ? reported(gg) : null,
    warnings,
  };
  return { report, warm: { bgNbd: bg.logCovariance, gammaGamma: gg?.logCovariance } };
}

/**
 * Refits BG/NBD and Gamma-Gamma on the whole history (the holdout has done
 * its job: the parameters predictions use should see every order) and stores
 * them with the validation report under the next version number. `warm`:
 * the calibration fits' covariances, when the caller has them.
 */
export async function saveFit(db: Store, ws: Workspace, report: ModelReport, now: Date, read?: PurchaseDays, warm?: WarmStart): Promise<SavedFit> {
  const purchases = read ?? (await purchaseDaysFor(db, ws));
  const { last } = purchaseDayRange(purchases);
  const summaries = summaryColumns(purchases, { unit: report.unit, calibrationEnd: last });
  const spenders = spendColumns(summaries);
  // Warm starts: the whole history's optimum lies near the calibration
  // period's, which the full multi-start search has just found, so one BFGS
  // run from there settles it — and from that fit's inverse Hessian (its
  // covariance), the first steps are already Newton steps: a few iterations
  // instead of 15–37 on a million customers. If that run does not converge,
  // the full search runs. Nobody reads the refit's standard errors (the
  // report keeps the calibration fit's), so they are not computed.
  const bg = report.bgNbd.params;
  const gg = report.gammaGamma?.params;
  const refit = <P>(fit: (options: FitOptions) => FitResult<P>, start: number[] | undefined, inverseHessian: number[][] | undefined): P => {
    const warmFit = start ? fit({ ...FIT_BUDGET, starts: [start], standardErrors: false, ...(inverseHessian ? { inverseHessian } : {}) }) : null;
    return warmFit?.converged ? warmFit.params : fit({ ...FIT_BUDGET, standardErrors: false }).params;
  };
  const shapes = groupSummaryColumns(summaries);
  const params: PredictionParams = {
    bgNbd: refit((o) => fitBgNbd(shapes, o), [bg.r, bg.alpha, bg.a, bg.b], warm?.bgNbd),
    gammaGamma: spenders.length >= 2 ? refit((o) => fitGammaGamma(spenders, o), gg ? [gg.p, gg.q, gg.gamma] : undefined, warm?.gammaGamma) : null,
  };
  const [row] = await db.query<{ version: number }>(
    `INSERT INTO model_fits (workspace_id, version, fitted_at, unit, data_end, params, report)
     SELECT $1, COALESCE(max(version), 0) + 1, $2, $3, $4::date, $5::jsonb, $6::jsonb FROM model_fits WHERE workspace_id = $1
     RETURNING version`,
    [ws.id, now, report.unit, dayText(last), JSON.stringify(params), JSON.stringify(report)],
  );
  return { version: row?.version ?? 0, fittedAt: now.toISOString(), unit: report.unit, dataEnd: dayText(last), params };
}

export const PredictQuery = z.object({
  customer: z.string().trim().min(1, "is required"),
  /** Days ahead for expected purchases and CLV. */
  horizon: wholeNumber("must be a whole number of days").pipe(z.number().min(1, "must be at least 1").max(3650, "must be at most 3650")).default(365),
  /** Monthly discount rate for CLV (e.g. 0.01 = 1 % a month). */
  monthlyDiscountRate: z.union([z.number(), z.string().trim().regex(/^\d*\.?\d+$/, "must be a rate such as 0.01").transform(Number)]).pipe(z.number().min(0).max(1, "must be at most 1")).default(0.01),
});

export interface CustomerPrediction {
  externalId: string;
  model: { version: number; fittedAt: string; unit: "day" | "week" };
  /** Repeat transactions (x), and t_x and T in the model's unit, as of today. */
  summary: { x: number; t_x: number; T: number; meanRepeatSpend: number };
  /** BG/NBD probability that the customer is still active (Fader, Hardie & Lee 2005, eq. 11). */
  probabilityAlive: number;
  horizonDays: number;
  /** Expected transactions in the next `horizonDays` (eq. 10). */
  expectedPurchases: number;
  /** The day by which one more purchase is expected (expected purchases reach 1), or null if not within 5 years. */
  expectedNextOrderOn: string | null;
  /** Gamma-Gamma expected value of a transaction (currency units), or null without a spend model. */
  expectedAverageOrderValue: number | null;
  /** Σ over the horizon's months of expected purchases × expected value, discounted monthly (currency units). */
  clv: number | null;
  currency: string;
  /** The prediction in words. */
  meaning: string[];
}

export async function predictCustomer(db: Queryable, ws: Workspace, q: z.output<typeof PredictQuery>, now: Date): Promise<CustomerPrediction> {
  const fit = await latestFit(db, ws);
  const [c] = await db.query<{ id: number }>("SELECT id FROM customers WHERE workspace_id = $1 AND external_id = $2", [ws.id, q.customer]);
  if (!c) throw new AppError("not_found", `customer: no customer "${q.customer}"`, [{ field: "customer", message: "no such customer" }]);
  const today = dayOf(now);
  const purchases = (await purchasesOf(db, ws, Number(c.id))).filter((p) => p.day <= today);
  if (purchases.length === 0) throw new AppError("unprocessable", `customer: "${q.customer}" has no order to predict from`, [{ field: "customer", message: "no order" }]);
  const [s] = summarisePurchases(purchases, { unit: "day", calibrationEnd: today });
  if (!s) throw new AppError("internal", "no summary for a customer with orders");
  const unitDays = UNIT_DAYS[fit.unit];
  const days: DaySummary = { x: s.x, tXDays: s.t_x, TDays: s.T, meanRepeatSpend: s.m_x };
  const predictor = makePredictor({ unit: fit.unit, ...fit.params });
  const alive = predictor.alive(days);
  const expected = predictor.expected(days, q.horizon);
  const nextIn = predictor.nextOrderInDays(days);
  const aov = predictor.averageOrderValue(days);
  const clv = predictor.clv(days, q.horizon, q.monthlyDiscountRate);
  const scale = 10 ** minorDigits(ws.currency);
  const money = (v: number) => formatMoney(Math.round(v * scale), ws.currency);
  const meaning = [
    `${Math.round(alive * 100)} % likely to still be a customer${s.x === 0 ? " (one purchase so far: the model assumes a customer is active until a repeat purchase shows otherwise)" : ""}.`,
    `Expected to buy ${expected.toFixed(2)} times in the next ${q.horizon} days.`,
    nextIn === null ? "No further purchase is expected within five years." : `One more purchase is expected by ${dayText(today + nextIn)}.`,
    ...(aov !== null && clv !== null ? [`Expected order value ${money(aov)}; worth ${money(clv)} over the next ${q.horizon} days at ${(q.monthlyDiscountRate * 100).toFixed(1)} % a month.`] : []),
  ];
  return {
    externalId: q.customer,
    model: { version: fit.version, fittedAt: fit.fittedAt, unit: fit.unit },
    summary: { x: s.x, t_x: s.t_x / unitDays, T: s.T / unitDays, meanRepeatSpend: s.m_x },
    probabilityAlive: alive,
    horizonDays: q.horizon,
    expectedPurchases: expected,
    expectedNextOrderOn: nextIn === null ? null : dayText(today + nextIn),
    expectedAverageOrderValue: aov,
    clv,
    currency: ws.currency,
    meaning,
  };
}

/**
 * Fits, validates and saves: what `fidelio models fit` does. `log`: the
 * orders placed before `now` when the caller has read them already.
 */
export async function fitAndSave(db: Store, ws: Workspace, q: z.output<typeof FitQuery>, now: Date, log?: OrderLog): Promise<ModelReport & { saved: SavedFit }> {
  // One read of the orders serves the calibration fit, the validation and the refit on everything.
  const purchases = await purchaseDaysFor(db, ws, log ?? (await readOrderLog(db, ws, now)));
  const { report, warm } = await fitCalibration(db, ws, q, purchases);
  return { ...report, saved: await saveFit(db, ws, report, now, purchases, warm) };
}

/** Fits, saves, and rescores every customer with the new model: what `fidelio models fit` and POST /api/models/fit do. */
export async function fitSaveAndScore(store: Store, ws: Workspace, q: z.output<typeof FitQuery>, now: Date): Promise<ModelReport & { saved: SavedFit; scoring: ScoringRun }> {
  // One read of the orders for the fit and the scoring run.
  const log = await readOrderLog(store, ws, now);
  const fitted = await fitAndSave(store, ws, q, now, log);
  return { ...fitted, scoring: await refreshScores(store, ws, now, log) };
}

export interface FitVersion {
  version: number;
  fittedAt: string;
  unit: "day" | "week";
  dataEnd: string;
  customers: number | null;
  holdout: { actual: number; predicted: number; meanAbsoluteError: number } | null;
  warnings: string[];
}

const StoredReportSummary = z.object({
  customers: z.number(),
  bgNbd: z.object({ validation: z.object({ actual: z.number(), predicted: z.number(), meanAbsoluteError: z.number() }) }),
  warnings: z.array(z.string()),
});

/** Every saved model version, newest first, with its holdout check in brief: how the models have done over time. */
export async function listFitVersions(db: Queryable, ws: Workspace): Promise<FitVersion[]> {
  const rows = await db.query<{ version: number; fitted_at: Date; unit: string; data_end: string; report: unknown }>(
    "SELECT version, fitted_at, unit, to_char(data_end, 'YYYY-MM-DD') AS data_end, report FROM model_fits WHERE workspace_id = $1 ORDER BY version DESC",
    [ws.id],
  );
  return rows.map((r) => {
    const report = StoredReportSummary.safeParse(r.report);
    const v = report.success ? report.data.bgNbd.validation : null;
    return {
      version: r.version,
      fittedAt: r.fitted_at.toISOString(),
      unit: r.unit === "day" ? "day" : "week",
      dataEnd: r.data_end,
      customers: report.success ? report.data.customers : null,
      holdout: v ? { actual: v.actual, predicted: v.predicted, meanAbsoluteError: v.meanAbsoluteError } : null,
      warnings: report.success ? report.data.warnings : [],
    };
  });
}
