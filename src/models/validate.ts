/**
 * Calibration / holdout validation of a transaction model, as in Fader,
 * Hardie & Lee (2005) §5: fit on the calibration period, then compare, for
 * the holdout period, each customer's expected number of repeat transactions
 * with what they actually did — per customer (mean absolute error), in
 * aggregate, by number of calibration transactions (the paper's Figure 4,
 * "conditional expectations"), and week by week for the whole cohort (the
 * "tracking" plot, Figure 2 / 3).
 */
import type { BgNbdParams } from "./bg-nbd.ts";
import { expectedPurchasesIfAlive, expectedPurchasesNewCustomer, probabilityAlive } from "./bg-nbd.ts";
import type { ParetoNbdParams } from "./pareto-nbd.ts";
import { paretoNbdExpectedPurchases, paretoNbdExpectedPurchasesNewCustomer } from "./pareto-nbd.ts";
import { UNIT_DAYS, type Purchase, type TimeUnit } from "./summaries.ts";
import { purchaseDaysOf, summaryColumns, type PurchaseDays, type SummaryColumns } from "./purchase-days.ts";

export type TransactionModel = { kind: "bg-nbd"; params: BgNbdParams } | { kind: "pareto-nbd"; params: ParetoNbdParams };

export interface ValidationOptions {
  unit: TimeUnit;
  /** Last day of calibration (day number), included. */
  calibrationEnd: number;
  /** Last day of the holdout (day number), included. */
  holdoutEnd: number;
}

export interface Validation {
  customers: number;
  holdoutLength: number;
  /** Σ over customers of the holdout repeat transactions: actual and expected. */
  actual: number;
  predicted: number;
  /** Mean over customers of |expected − actual|. */
  meanAbsoluteError: number;
  /** By calibration repeat transactions 0 … 6 and "7+": customers, mean actual and mean expected in the holdout. */
  byCalibrationFrequency: { x: string; customers: number; actual: number; predicted: number }[];
  /** Per period from the first calibration day: cumulative repeat transactions, actual and expected. */
  tracking: { period: number; actual: number; predicted: number }[];
}


/**
 * E[Y(t) | x, t_x, T] for every history shape, each computed once. BG/NBD's
 * eq. 10 is (expected purchases if alive, which needs only x and T) × P(alive)
 * (eq. 11, a few logs): the series part is shared by every shape with the
 * same x and T — a few thousand on a million customers instead of a few
 * hundred thousand shapes.
 */
function conditionalExpectations(m: TransactionModel, unitDays: number, t: number): (x: number, txDays: number, TDays: number) => number {
  // Kept per (x, T), then per t_x, all in whole days: keys below 2^30 are
  // small integers, which V8 hashes far faster than one large packed number
  // (or a string) per shape. Larger ones (x ≥ 10,000 or T ≥ 100,000 days) are not kept.
  const byXT = new Map<number, { ifAlive: number; byTx: Map<number, number> }>();
  const compute = (x: number, txDays: number, TDays: number, ifAlive?: number): number => {
    const t_x = txDays / unitDays;
    const T = TDays / unitDays;
    if (m.kind === "pareto-nbd") return paretoNbdExpectedPurchases(m.params, x, t_x, T, t);
    return (ifAlive ?? expectedPurchasesIfAlive(m.params, x, T, t)) * probabilityAlive(m.params, x, t_x, T);
  };
  return (x, txDays, TDays) => {
    if (!(x < 10_000 && TDays < 100_000)) return compute(x, txDays, TDays);
    const outer = x * 100_000 + TDays;
    let entry = byXT.get(outer);
    if (entry === undefined) {
      entry = { ifAlive: m.kind === "bg-nbd" ? expectedPurchasesIfAlive(m.params, x, TDays / unitDays, t) : NaN, byTx: new Map() };
      byXT.set(outer, entry);
    }
    let e = entry.byTx.get(txDays);
    if (e === undefined) {
      e = compute(x, txDays, TDays, entry.ifAlive);
      entry.byTx.set(txDays, e);
    }
    return e;
  };
}

function unconditional(m: TransactionModel, t: number): number {
  if (t <= 0) return 0;
  return m.kind === "bg-nbd" ? expectedPurchasesNewCustomer(m.params, t) : paretoNbdExpectedPurchasesNewCustomer(m.params, t);
}

/**
 * Validates `model` (fitted on the calibration period) against the holdout
 * period of the purchases (a log, or the typed block purchase-days.ts builds).
 * `calibration`: the block's summaries as of `o.calibrationEnd` in `o.unit`,
 * when the caller has made them already.
 */
export function validateModel(model: TransactionModel, purchases: readonly Purchase[] | PurchaseDays, o: ValidationOptions, calibration?: SummaryColumns): Validation {
  if (!(o.holdoutEnd > o.calibrationEnd)) throw new RangeError("the holdout must end after the calibration");
  const unitDays = UNIT_DAYS[o.unit];
  const pd = "customerIds" in purchases ? purchases : purchaseDaysOf(purchases);
  const c = calibration ?? summaryColumns(pd, { calibrationEnd: o.calibrationEnd, unit: o.unit });
  // Summaries made for another calibration end or unit would index the per-day counts below wrongly.
  if (c.unitDays !== unitDays || (c.length > 0 && (c.firstDay[0] ?? 0) + (c.TDays[0] ?? 0) !== o.calibrationEnd)) {
    throw new RangeError("the calibration summaries given were not made for this calibration end and unit");
  }
  const index = c.index;
  const holdoutLength = (o.holdoutEnd - o.calibrationEnd) / unitDays;
  let actualSum = 0;
  let predictedSum = 0;
  let absError = 0;
  // By calibration repeat transactions: 0 … 6, then "7+" in slot 7.
  const groupCustomers = new Float64Array(8);
  const groupActual = new Float64Array(8);
  const groupPredicted = new Float64Array(8);
  const expected = conditionalExpectations(model, unitDays, holdoutLength);
  // For the tracking below, counted in the same pass, per day from the first
  // customer's first day (`start`): customers by first day, and repeat
  // transactions by day — linear, where sorting the days was not.
  let start = Infinity;
  for (let k = 0; k < c.length; k++) start = Math.min(start, c.firstDay[k] ?? Infinity);
  const span = Math.max(0, o.holdoutEnd - start + 1);
  const firstOn = new Float64Array(span);
  const repeatsOn = new Float64Array(span);
  for (let k = 0; k < c.length; k++) {
    const i = index[k] ?? 0;
    const x = c.x[k] ?? 0;
    const f = (c.firstDay[k] ?? 0) - start;
    firstOn[f] = (firstOn[f] ?? 0) + 1;
    let actual = 0;
    for (let d = (pd.start[i] ?? 0) + 1; d < (pd.start[i + 1] ?? 0); d++) {
      const day = pd.day[d] ?? 0;
      if (day > o.holdoutEnd) break;
      repeatsOn[day - start] = (repeatsOn[day - start] ?? 0) + 1;
      if (day > o.calibrationEnd) actual++;
    }
    const predicted = expected(x, c.txDays[k] ?? 0, c.TDays[k] ?? 0);
    actualSum += actual;
    predictedSum += predicted;
    absError += Math.abs(predicted - actual);
    const slot = Math.min(7, x);
    groupCustomers[slot] = (groupCustomers[slot] ?? 0) + 1;
    groupActual[slot] = (groupActual[slot] ?? 0) + actual;
    groupPredicted[slot] = (groupPredicted[slot] ?? 0) + predicted;
  }
  const byCalibrationFrequency = ["0", "1", "2", "3", "4", "5", "6", "7+"].flatMap((x, slot) => {
    const customers = groupCustomers[slot] ?? 0;
    return customers > 0 ? [{ x, customers, actual: (groupActual[slot] ?? 0) / customers, predicted: (groupPredicted[slot] ?? 0) / customers }] : [];
  });

  // Tracking: cumulative repeat transactions by the end of each period.
  // Customers are grouped by first day, so the model is evaluated once per
  // (first day, period).
  const periods = span === 0 ? 0 : Math.ceil(span / unitDays);
  const tracking: Validation["tracking"] = [];
  // A new customer's expectation depends only on the days since their first
  // purchase: at most one distinct span per day of the history, where
  // (first day, period) pairs number tens of thousands, each a
  // hypergeometric series.
  const byDays = new Map<number, number>();
  const sinceFirst = (days: number): number => {
    let e = byDays.get(days);
    if (e === undefined) {
      e = unconditional(model, days / unitDays);
      byDays.set(days, e);
    }
    return e;
  };
  let k = 0; // repeat transactions up to the period's last day
  let counted = start; // the first day not yet in k
  for (let period = 1; period <= periods; period++) {
    const endDay = Math.min(o.holdoutEnd, start + period * unitDays - 1);
    for (; counted <= endDay; counted++) k += repeatsOn[counted - start] ?? 0;
    let predicted = 0;
    // Customers whose first day is after the period's end expect nothing yet.
    for (let f = 0; f <= endDay - start; f++) {
      const n = firstOn[f] ?? 0;
      if (n > 0) predicted += n * sinceFirst(endDay - start - f);
    }
    tracking.push({ period, actual: k, predicted });
  }
  return {
    customers: c.length,
    holdoutLength,
    actual: actualSum,
    predicted: predictedSum,
    meanAbsoluteError: c.length === 0 ? 0 : absError / c.length,
    byCalibrationFrequency,
    tracking,
  };
}
