/**
 * Periods as people give them: calendar dates, both ends included, in UTC.
 * The SQL gets a half-open range [from 00:00, day after `to` 00:00).
 */
import { z } from "zod";
import { AppError, isRealIsoDate, type Clock } from "../shared/index.ts";
import type { Queryable } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { NON_PURCHASE_STATUSES } from "../ingest/index.ts";

const DAY_MS = 86_400_000;

export const CalendarDay = z
  .string()
  .trim()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date YYYY-MM-DD")
  .refine(isRealIsoDate, { message: "is not a calendar date" })
  // Shops' histories start well after 1900; the bound keeps every derived date a 4-digit year.
  .refine((d) => d >= "1900-01-01" && d <= "2199-12-31", { message: "must be between 1900-01-01 and 2199-12-31" });

/** A whole number as a query string gives it ("42"), or as code gives it (42); "0x10", "1e3" and "" are refused. */
export function wholeNumber(message: string) {
  return z.union([z.number().int(message).min(0, message), z.string().trim().regex(/^\d{1,15}$/, message).transform(Number)]);
}

/** `from` and `to` as the API and CLI take them; both optional. */
export const PeriodQuery = z.object({ from: CalendarDay.optional(), to: CalendarDay.optional() });
export type PeriodQuery = z.output<typeof PeriodQuery>;

export interface Period {
  /** First day, included (YYYY-MM-DD). */
  from: string;
  /** Last day, included (YYYY-MM-DD). */
  to: string;
  /** Bounds for SQL: `placed_at >= start AND placed_at < end`. */
  start: Date;
  end: Date;
}

export function dayOf(d: Date): string {
  return d.toISOString().slice(0, 10);
}

export function dayStart(day: string): Date {
  return new Date(`${day}T00:00:00Z`);
}

export function addDays(day: string, n: number): string {
  return dayOf(new Date(dayStart(day).getTime() + n * DAY_MS));
}

export function daysBetween(a: Date, b: Date): number {
  return (b.getTime() - a.getTime()) / DAY_MS;
}

/**
 * Fills in a missing `from` with the day of the shop's first order (or `to`
 * when there is none) and a missing `to` with today. A `to` after today is
 * today: months that have not happened yet are not "0 % retained". Refuses
 * `from` after `to`.
 */
export async function resolvePeriod(db: Queryable, ws: Workspace, q: PeriodQuery, clock: Clock): Promise<Period> {
  const today = dayOf(clock.now());
  if (q.from !== undefined && q.from > today) {
    throw new AppError("invalid_input", `from: ${q.from} is after today (${today})`, [{ field: "from", message: `is after today (${today})` }]);
  }
  const to = q.to === undefined || q.to > today ? today : q.to;
  let from = q.from;
  if (from === undefined) {
    const [first] = await db.query<{ at: Date | null }>(
      "SELECT min(placed_at) AS at FROM orders WHERE workspace_id = $1 AND status <> ALL($2::text[])",
      [ws.id, [...NON_PURCHASE_STATUSES]],
    );
    from = first?.at ? dayOf(first.at) : to;
    if (from > to) from = to;
  }
  if (from > to) {
    throw new AppError("invalid_input", `from: ${from} is after to (${to})`, [{ field: "from", message: `is after to (${to})` }]);
  }
  return { from, to, start: dayStart(from), end: dayStart(addDays(to, 1)) };
}

/** a ÷ b, or null when b is 0 (a rate over nobody is unknown, not zero). */
export function ratio(a: number, b: number): number | null {
  return b === 0 ? null : a / b;
}

/** The statuses that are not purchases, as a bound parameter. */
export const notPurchases = (): string[] => [...NON_PURCHASE_STATUSES];
