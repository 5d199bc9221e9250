/**
 * Retention between consecutive periods, and the monthly cohort matrix with
 * historical CLV per cohort (product.md §2). Months, quarters and years are
 * calendar ones in UTC.
 */
import { z } from "zod";
import type { Queryable } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { dayStart, notPurchases, ratio, type Period } from "./period.ts";

export const PeriodUnit = z.enum(["month", "quarter", "year"]);
export type PeriodUnit = z.output<typeof PeriodUnit>;

const STEP: Record<PeriodUnit, string> = { month: "1 month", quarter: "3 months", year: "1 year" };

export interface RetentionRow {
  /** First day of the period (YYYY-MM-DD). */
  start: string;
  /** "2026-03", "2026-Q1" or "2026". */
  label: string;
  /** Customers who ordered in the period. */
  buyers: number;
  /** Of those, customers whose first order ever is in this period. */
  newBuyers: number;
  /** Buyers of the previous period who ordered again in this one (null for the first period shown). */
  retained: number | null;
  /** retained ÷ buyers of the previous period. */
  retentionRate: number | null;
  /** 1 − retentionRate. */
  churnRate: number | null;
}

export function periodLabel(start: string, unit: PeriodUnit): string {
  if (unit === "year") return start.slice(0, 4);
  if (unit === "quarter") return `${start.slice(0, 4)}-Q${Math.floor((Number(start.slice(5, 7)) - 1) / 3) + 1}`;
  return start.slice(0, 7);
}

/** First day of the calendar period that contains `day`. */
const year = (y: number) => String(y).padStart(4, "0");

export function periodStartOf(day: string, unit: PeriodUnit): string {
  const y = day.slice(0, 4);
  const m = Number(day.slice(5, 7));
  if (unit === "year") return `${y}-01-01`;
  if (unit === "quarter") return `${y}-${String(Math.floor((m - 1) / 3) * 3 + 1).padStart(2, "0")}-01`;
  return `${day.slice(0, 7)}-01`;
}

export function nextPeriodStart(start: string, unit: PeriodUnit): string {
  const y = Number(start.slice(0, 4));
  const m = Number(start.slice(5, 7));
  const months = unit === "year" ? 12 : unit === "quarter" ? 3 : 1;
  const total = y * 12 + (m - 1) + months;
  return `${year(Math.floor(total / 12))}-${String((total % 12) + 1).padStart(2, "0")}-01`;
}

/**
 * One row per calendar period overlapping `period` (whole periods: the first
 * and last are widened to their calendar bounds), oldest first, empty periods
 * included. Row i's retention compares it with row i − 1, so the first row
 * compares with the period just before it.
 */
export async function retentionSeries(db: Queryable, ws: Workspace, period: Period, unit: PeriodUnit): Promise<RetentionRow[]> {
  const { before, last } = retentionPeriods(period, unit);
  // Each customer's active periods in order; a period is "retained" when the
  // customer's previous active period is the one just before it. A window,
  // not a self-join: the join's plan collapses when statistics are stale.
  const rows = await db.query<RetentionCounts>(
    `WITH cb AS (
       SELECT DISTINCT o.customer_id, date_trunc($5, o.placed_at AT TIME ZONE 'UTC')::date AS start
         FROM orders o
        WHERE o.workspace_id = $1 AND o.customer_id IS NOT NULL AND o.status <> ALL($4::text[])
          AND o.placed_at >= $2 AND o.placed_at < $3
     ), seq AS (
       SELECT customer_id, start, lag(start) OVER (PARTITION BY customer_id ORDER BY start) AS prev FROM cb
     )
     SELECT to_char(seq.start, 'YYYY-MM-DD') AS start, count(*)::int AS buyers,
            count(*) FILTER (WHERE date_trunc($5, r.first_order_at AT TIME ZONE 'UTC')::date = seq.start)::int AS new_buyers,
            count(*) FILTER (WHERE seq.prev = (seq.start - $6::interval)::date)::int AS retained
       FROM seq LEFT JOIN customer_rollups r ON r.customer_id = seq.customer_id
      GROUP BY seq.start ORDER BY seq.start`,
    [ws.id, dayStart(before), dayStart(nextPeriodStart(last, unit)), notPurchases(), unit, STEP[unit]],
  );
  return retentionRows(period, unit, rows);
}

/** One period's counts for retention, as the SQL and the projection both produce them. */
export type RetentionCounts = {
  start: string;
  buyers: number;
  new_buyers: number;
  retained: number;
};

/**
 * The calendar periods retention is counted over: one before the first
 * period shown (so the first row has one to compare with) to the last.
 */
export function retentionPeriods(period: Period, unit: PeriodUnit): { before: string; first: string; last: string } {
  const first = periodStartOf(period.from, unit);
  const last = periodStartOf(period.to, unit);
  const before = periodStartOf(new Date(Date.parse(`${first}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10), unit);
  return { before, first, last };
}

/** The rows of `period` from the counts of its periods (and the one before). */
export function retentionRows(period: Period, unit: PeriodUnit, rows: readonly RetentionCounts[]): RetentionRow[] {
  const { before, first, last } = retentionPeriods(period, unit);
  const byStart = new Map(rows.map((r) => [r.start, r]));
  const out: RetentionRow[] = [];
  let previousBuyers = byStart.get(before)?.buyers ?? 0;
  for (let s = first; s <= last; s = nextPeriodStart(s, unit)) {
    const r = byStart.get(s);
    const buyers = r?.buyers ?? 0;
    const retained = r?.retained ?? 0;
    const rate = ratio(retained, previousBuyers);
    out.push({
      start: s,
      label: periodLabel(s, unit),
      buyers,
      newBuyers: r?.new_buyers ?? 0,
      retained: previousBuyers === 0 ? null : retained,
      retentionRate: rate,
      churnRate: rate === null ? null : 1 - rate,
    });
    previousBuyers = buyers;
  }
  return out;
}

export interface CohortCell {
  /** Months since the cohort's first month (0 = the month of the first order). */
  offset: number;
  /** Cohort customers who ordered in that month. */
  customers: number;
  /** customers ÷ cohort size. */
  customerShare: number;
  /** Their revenue that month (minor units, workspace currency). */
  revenue: number;
  /** revenue ÷ the cohort's revenue in month 0. */
  revenueShare: number | null;
}

export interface CohortRow {
  /** Month of the first order, "YYYY-MM". */
  cohort: string;
  /** Customers whose first order is in that month. */
  size: number;
  /** Their revenue from the first order to today. */
  revenueToDate: number;
  /** Historical CLV: revenueToDate ÷ size. */
  historicalClv: number;
  /** Offsets 0 … (months from the cohort to the last month), every one present. */
  cells: CohortCell[];
}

/**
 * Cohorts by first-order month, for the months that `period` touches (widened
 * to whole months, so a cohort is never a part of its month); activity
 * counted up to the end of `period`.
 */
export async function cohortMatrix(db: Queryable, ws: Workspace, asked: Period): Promise<{ currency: string; cohorts: CohortRow[] }> {
  const period = cohortPeriod(asked);
  const sizes = await db.query<CohortSize>(
    `SELECT to_char(date_trunc('month', first_order_at AT TIME ZONE 'UTC'), 'YYYY-MM') AS cohort, count(*)::int AS size,
            COALESCE(sum(revenue_minor), 0)::bigint AS revenue
       FROM customer_rollups
      WHERE workspace_id = $1 AND first_order_at >= $2 AND first_order_at < $3
      GROUP BY 1 ORDER BY 1`,
    [ws.id, period.start, period.end],
  );
  const cells = await db.query<CohortCount>(
    `WITH c AS (
       SELECT customer_id, date_trunc('month', first_order_at AT TIME ZONE 'UTC') AS cohort
         FROM customer_rollups WHERE workspace_id = $1 AND first_order_at >= $2 AND first_order_at < $3
     ), act AS (
       SELECT o.customer_id, date_trunc('month', o.placed_at AT TIME ZONE 'UTC') AS month,
              COALESCE(sum(o.total_minor) FILTER (WHERE o.currency = $4), 0) AS revenue
         FROM orders o
        WHERE o.workspace_id = $1 AND o.customer_id IS NOT NULL AND o.status <> ALL($5::text[])
          AND o.placed_at >= $2 AND o.placed_at < $3
        GROUP BY 1, 2
     )
     SELECT to_char(c.cohort, 'YYYY-MM') AS cohort, to_char(act.month, 'YYYY-MM') AS month,
            count(*)::int AS customers, sum(act.revenue)::bigint AS revenue
       FROM act JOIN c ON c.customer_id = act.customer_id
      GROUP BY 1, 2`,
    [ws.id, period.start, period.end, ws.currency, notPurchases()],
  );
  return { currency: ws.currency, cohorts: cohortRows(period, sizes, cells) };
}

/** A cohort (first-order month "YYYY-MM"): its size and revenue to date. */
export type CohortSize = {
  cohort: string;
  size: number;
  revenue: number;
};

/** A cohort's customers active in a month ("YYYY-MM") and their revenue that month. */
export type CohortCount = {
  cohort: string;
  month: string;
  customers: number;
  revenue: number;
};

/** The period a cohort matrix covers: `asked` widened to start on the first of its month. */
export function cohortPeriod(asked: Period): Period {
  const firstMonth = periodStartOf(asked.from, "month");
  return { ...asked, from: firstMonth, start: dayStart(firstMonth) };
}

/** The matrix from the cohorts' sizes and their monthly counts; every offset up to the period's last month present. */
export function cohortRows(period: Period, sizes: readonly CohortSize[], cells: readonly CohortCount[]): CohortRow[] {
  const monthIndex = (ym: string) => Number(ym.slice(0, 4)) * 12 + Number(ym.slice(5, 7)) - 1;
  const lastMonth = monthIndex(period.to.slice(0, 7));
  const byCohort = new Map<string, Map<number, { customers: number; revenue: number }>>();
  for (const c of cells) {
    const offset = monthIndex(c.month) - monthIndex(c.cohort);
    if (offset < 0) continue; // cannot happen: a first order precedes every other
    const m = byCohort.get(c.cohort) ?? new Map<number, { customers: number; revenue: number }>();
    m.set(offset, { customers: c.customers, revenue: c.revenue });
    byCohort.set(c.cohort, m);
  }
  return sizes.map((s) => {
      const m = byCohort.get(s.cohort) ?? new Map<number, { customers: number; revenue: number }>();
      const base = m.get(0)?.revenue ?? 0;
      const width = lastMonth - monthIndex(s.cohort) + 1;
      const row: CohortCell[] = [];
      for (let offset = 0; offset < width; offset++) {
        const v = m.get(offset) ?? { customers: 0, revenue: 0 };
        row.push({ offset, customers: v.customers, customerShare: v.customers / s.size, revenue: v.revenue, revenueShare: ratio(v.revenue, base) });
      }
      return { cohort: s.cohort, size: s.size, revenueToDate: s.revenue, historicalClv: s.revenue / s.size, cells: row };
    });
}
