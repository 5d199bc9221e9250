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
import { purchaseDaysOf, summaryColumns, type PurchaseDays } from "./purchase-days.ts";

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
  const byShape = new Map<number | string, number>();
  const ifAlive = new Map<number | string, number>();
  // Numeric keys (x, then the spans in whole days) while they stay exact; strings hash far slower.
  const key = (x: number, a: number, b: number) => (x < 90_000 && a < 100_000 && b < 100_000 ? (x * 100_000 + a) * 100_000 + b : `${x}:${a}:${b}`);
  return (x, txDays, TDays) => {
    const shape = key(x, txDays, TDays);
    let e = byShape.get(shape);
    if (e === undefined) {
      const t_x = txDays / unitDays;
      const T = TDays / unitDays;
      if (m.kind === "bg-nbd") {
        const xt = key(x, 0, TDays);
        let alive = ifAlive.get(xt);
        if (alive === undefined) {
          alive = expectedPurchasesIfAlive(m.params, x, T, t);
          ifAlive.set(xt, alive);
        }
        e = alive * probabilityAlive(m.params, x, t_x, T);
      } else {
        e = paretoNbdExpectedPurchases(m.params, x, t_x, T, t);
      }
      byShape.set(shape, e);
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
 */
export function validateModel(model: TransactionModel, purchases: readonly Purchase[] | PurchaseDays, o: ValidationOptions): Validation {
  if (!(o.holdoutEnd > o.calibrationEnd)) throw new RangeError("the holdout must end after the calibration");
  const unitDays = UNIT_DAYS[o.unit];
  const pd = "customerIds" in purchases ? purchases : purchaseDaysOf(purchases);
  const c = summaryColumns(pd, { calibrationEnd: o.calibrationEnd, unit: o.unit });
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
  for (let k = 0; k < c.length; k++) {
    const i = index[k] ?? 0;
    const x = c.x[k] ?? 0;
    let actual = 0;
    for (let d = (pd.start[i] ?? 0) + 1; d < (pd.start[i + 1] ?? 0); d++) {
      const day = pd.day[d] ?? 0;
      if (day > o.calibrationEnd && day <= o.holdoutEnd) actual++;
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

  // Tracking: cumulative repeat transactions by the end of each period. Customers
  // are grouped by first day, so the model is evaluated once per (first day, period).
  const firstDays = new Map<number, number>();
  for (const f of c.firstDay) firstDays.set(f, (firstDays.get(f) ?? 0) + 1);
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
    customers: c.length,
    holdoutLength,
    actual: actualSum,
    predicted: predictedSum,
    meanAbsoluteError: c.length === 0 ? 0 : absError / c.length,
    byCalibrationFrequency,
    tracking,
  };
}
