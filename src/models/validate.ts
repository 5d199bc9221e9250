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
import { UNIT_DAYS, summarisePurchases, type CustomerSummary, type Purchase, type TimeUnit } from "./summaries.ts";

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

/** Validates `model` (fitted on the calibration period) against the holdout period of `purchases`. */
export function validateModel(model: TransactionModel, purchases: readonly Purchase[], o: ValidationOptions): Validation {
  if (!(o.holdoutEnd > o.calibrationEnd)) throw new RangeError("the holdout must end after the calibration");
  const unitDays = UNIT_DAYS[o.unit];
  const summaries = summarisePurchases(purchases, { calibrationEnd: o.calibrationEnd, unit: o.unit });
  const known = new Set(summaries.map((s) => s.customerId));
  // Distinct purchase days per customer: same-day purchases are one transaction, as in calibration.
  const days = new Map<string, Set<number>>();
  for (const p of purchases) {
    if (!known.has(p.customerId)) continue;
    const d = Math.floor(p.day);
    if (d > o.holdoutEnd) continue;
    const set = days.get(p.customerId) ?? new Set<number>();
    set.add(d);
    days.set(p.customerId, set);
  }
  const holdoutLength = (o.holdoutEnd - o.calibrationEnd) / unitDays;
  let actualSum = 0;
  let predictedSum = 0;
  let absError = 0;
  const groups = new Map<string, { customers: number; actual: number; predicted: number }>();
  for (const s of summaries) {
    const actual = [...(days.get(s.customerId) ?? [])].filter((d) => d > o.calibrationEnd).length;
    const predicted = conditional(model, s, holdoutLength);
    actualSum += actual;
    predictedSum += predicted;
    absError += Math.abs(predicted - actual);
    const key = s.x >= 7 ? "7+" : String(s.x);
    const g = groups.get(key) ?? { customers: 0, actual: 0, predicted: 0 };
    g.customers++;
    g.actual += actual;
    g.predicted += predicted;
    groups.set(key, g);
  }
  const byCalibrationFrequency = ["0", "1", "2", "3", "4", "5", "6", "7+"].flatMap((x) => {
    const g = groups.get(x);
    return g ? [{ x, customers: g.customers, actual: g.actual / g.customers, predicted: g.predicted / g.customers }] : [];
  });

  // Tracking: cumulative repeat transactions by the end of each period. Customers
  // are grouped by first day, so the model is evaluated once per (first day, period).
  const firstDays = new Map<number, number>();
  for (const s of summaries) firstDays.set(s.firstDay, (firstDays.get(s.firstDay) ?? 0) + 1);
  let start = Infinity;
  for (const d of firstDays.keys()) if (d < start) start = d; // no spread: it overflows the stack on large shops
  const periods = Math.ceil((o.holdoutEnd - start + 1) / unitDays);
  const repeatDays: number[] = [];
  for (const set of days.values()) {
    const sorted = [...set].sort((a, b) => a - b);
    repeatDays.push(...sorted.slice(1));
  }
  repeatDays.sort((a, b) => a - b);
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
