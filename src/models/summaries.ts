/**
 * From a purchase log to the per-customer "RFM" summaries the BG/NBD and
 * Gamma-Gamma models take (Fader, Hardie & Lee 2005, §2 and §5; Fader &
 * Hardie 2013, "The Gamma-Gamma Model of Monetary Value").
 *
 * Conventions, chosen to reproduce the canonical CDNOW summary that Hardie
 * publishes with the paper:
 * - A customer's purchases on the same day are ONE transaction (amounts
 *   summed): the model counts purchase occasions, and the log's time
 *   resolution is one day.
 * - Times are measured from the customer's first purchase: t_x = time of the
 *   last purchase within calibration, T = calibration end − first purchase,
 *   both divided by the unit (1 day or 7 days). The calibration end is a day
 *   number, included: a purchase on that day counts, and T is measured to
 *   that day (for CDNOW, a first purchase on 1997-01-01 and an end on
 *   1997-09-30 give T = 272/7 = 38.86 weeks, the value in the paper's data).
 * - x = number of repeat transactions (transactions after the first).
 * - m_x = mean value of the x repeat transactions (0 when x = 0); the first
 *   purchase is excluded, as in Fader & Hardie's Gamma-Gamma note, because
 *   the spend model is fitted on repeat purchases only.
 * - Customers whose first purchase is after the calibration end are left out;
 *   purchases after the end are ignored.
 */
import { purchaseDaysOf, summariseDays } from "./purchase-days.ts";

export interface Purchase {
  customerId: string;
  /** Whole days since an epoch (any fixed origin). */
  day: number;
  amount: number;
}

export type TimeUnit = "day" | "week";

export interface SummaryOptions {
  /** Last day of the calibration period (same epoch as Purchase.day), included. */
  calibrationEnd: number;
  unit: TimeUnit;
}

export interface CustomerSummary {
  customerId: string;
  /** Number of repeat transactions in calibration. */
  x: number;
  /** Time of the last transaction, from the first, in units. 0 when x = 0. */
  t_x: number;
  /** Time from the first transaction to the end of calibration, in units. */
  T: number;
  /** Mean value of the repeat transactions (0 when x = 0). */
  m_x: number;
  /** Day of the first purchase. */
  firstDay: number;
}

/** Days in one model time unit. */
export const UNIT_DAYS: Record<TimeUnit, number> = { day: 1, week: 7 };

/** Day number (days since 1970-01-01, UTC) of a calendar date "YYYY-MM-DD" or "YYYYMMDD". */
export function dayNumber(date: string): number {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(date);
  if (!m) throw new RangeError(`not a date: ${date}`);
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Math.round(ms / 86_400_000);
}

/** The calendar date "YYYY-MM-DD" of a day number (the inverse of dayNumber). */
export function dayText(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

/** The day number (UTC) an instant falls on. */
export function dayOf(instant: Date): number {
  return Math.floor(instant.getTime() / 86_400_000);
}

/**
 * Summaries sorted by customerId. Non-integer days are floored to the day
 * (same-day merging is by whole day).
 */
export function summarisePurchases(purchases: readonly Purchase[], options: SummaryOptions): CustomerSummary[] {
  return summariseDays(purchaseDaysOf(purchases), options).summaries;
}
