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
import { expectedPurchases, expectedPurchasesNewCustomer } from "./bg-nbd.ts";
import type { ParetoNbdParams } from "./pareto-nbd.ts";
import { paretoNbdExpectedPurchases, paretoNbdExpectedPurchasesNewCustomer } from "./pareto-nbd.ts";
import { UNIT_DAYS, type CustomerSummary, type Purchase, type TimeUnit } from "./summaries.ts";
import { purchaseDaysOf, summariseDays, type PurchaseDays } from "./purchase-days.ts";

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


function conditional(m: TransactionModel, c: CustomerSummary, t: number): number {
  return m.kind === "bg-nbd" ? expectedPurchases(m.params, c.x, c.t_x, c.T, t) : paretoNbdExpectedPurchases(m.params, c.x, c.t_x, c.T, t);
}

function unconditional(m: TransactionModel, t: number): number {
  if (t <= 0) return 0;
  return m.kind === "bg-nbd" ? expectedPurchasesNewCustomer(m.params, t) : paretoNbdExpectedPurchasesNewCustomer(m.params, t);
}

/**
 * Validates `model` (fitted on the calibration period) against the holdout
 * period of the purchases (a log, or the typed block purchase-days.ts builds).
 */
export function validateModel(model: TransactionModel, purchases: readonly Purchase[] | PurchaseDays, o: ValidationOptions): Validation {
  if (!(o.holdoutEnd > o.calibrationEnd)) throw new RangeError("the holdout must end after the calibration");
  const unitDays = UNIT_DAYS[o.unit];
  const pd = "customerIds" in purchases ? purchases : purchaseDaysOf(purchases);
  const { summaries, index } = summariseDays(pd, { calibrationEnd: o.calibrationEnd, unit: o.unit });
  const holdoutLength = (o.holdoutEnd - o.calibrationEnd) / unitDays;
  let actualSum = 0;
  let predictedSum = 0;
  let absError = 0;
  // By calibration repeat transactions: 0 … 6, then "7+" in slot 7.
  const groupCustomers = new Float64Array(8);
  const groupActual = new Float64Array(8);
  const groupPredicted = new Float64Array(8);
  // Customers with the same (x, t_x, T) have the same expectation: computed once per shape.
  // The key is numeric (x, then the two spans in whole days) while it stays exact; strings hash far slower.
  const expectation = new Map<number | string, number>();
  for (let k = 0; k < summaries.length; k++) {
    const s = summaries[k];
    if (!s) continue;
    const i = index[k] ?? 0;
    let actual = 0;
    for (let d = (pd.start[i] ?? 0) + 1; d < (pd.start[i + 1] ?? 0); d++) {
      const day = pd.day[d] ?? 0;
      if (day > o.calibrationEnd && day <= o.holdoutEnd) actual++;
    }
    const tx = (pd.day[(pd.start[i] ?? 0) + s.x] ?? s.firstDay) - s.firstDay;
    const span = o.calibrationEnd - s.firstDay;
    const shape = s.x < 90_000 && span < 100_000 ? (s.x * 100_000 + tx) * 100_000 + span : `${s.x}:${s.t_x}:${s.T}`;
    let predicted = expectation.get(shape);
    if (predicted === undefined) {
      predicted = conditional(model, s, holdoutLength);
      expectation.set(shape, predicted);
    }
    actualSum += actual;
    predictedSum += predicted;
    absError += Math.abs(predicted - actual);
    const slot = Math.min(7, s.x);
    groupCustomers[slot] = (groupCustomers[slot] ?? 0) + 1;
    groupActual[slot] = (groupActual[slot] ?? 0) + actual;
    groupPredicted[slot] = (groupPredicted[slot] ?? 0) + predicted;
  }
  const byCalibrationFrequency = ["0", "1", "2", "3", "4", "5", "6", "7+"].flatMap((x, slot) => {
    const customers = groupCustomers[slot] ?? 0;
    return customers > 0 ? [{ x, customers, actual: (groupActual[slot] ?? 0) / customers, predicted: (groupPredicted[slot] ?? 0) / customers }] : [];
  });

  // Tracking: cumulative repeat transactions by the end of each period. Customers
  // are grouped by first day, so the model is evaluated once per (first day, period).
  const firstDays = new Map<number, number>();
  for (const s of summaries) firstDays.set(s.firstDay, (firstDays.get(s.firstDay) ?? 0) + 1);
  let start = Infinity;
  for (const d of firstDays.keys()) if (d < start) start = d; // no spread: it overflows the stack on large shops
  const periods = Math.ceil((o.holdoutEnd - start + 1) / unitDays);
  let repeats = 0;
  for (const i of index) repeats += Math.max(0, (pd.start[i + 1] ?? 0) - (pd.start[i] ?? 0) - 1);
  const allRepeatDays = new Int32Array(repeats);
  let r = 0;
  for (const i of index) {
    for (let d = (pd.start[i] ?? 0) + 1; d < (pd.start[i + 1] ?? 0); d++) {
      const day = pd.day[d] ?? 0;
      if (day <= o.holdoutEnd) allRepeatDays[r++] = day;
    }
  }
  // A typed array sorts numerically, and far faster than an array with a comparator.
  const repeatDays = allRepeatDays.subarray(0, r).sort();
  const tracking: Validation["tracking"] = [];
  let k = 0;
  for (let period = 1; period <= periods; period++) {
    const endDay = Math.min(o.holdoutEnd, start + period * unitDays - 1);
    while (k < repeatDays.length && (repeatDays[k] ?? Infinity) <= endDay) k++;
    let predicted = 0;
    for (const [first, n] of firstDays) predicted += n * unconditional(model, (endDay - first) / unitDays);
    tracking.push({ period, actual: k, predicted });
  }
  return {
    customers: summaries.length,
    holdoutLength,
    actual: actualSum,
    predicted: predictedSum,
    meanAbsoluteError: summaries.length === 0 ? 0 : absError / summaries.length,
    byCalibrationFrequency,
    tracking,
  };
}
