/** Headline figures per calendar month, quarter or year: the trend lines of the Overview. */
import type { Queryable } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { dayStart, notPurchases, ratio, type Period } from "./period.ts";
import { nextPeriodStart, periodLabel, periodStartOf, type PeriodUnit } from "./retention.ts";

export interface SeriesPoint {
  start: string;
  label: string;
  customers: number;
  orders: number;
  revenue: number;
  repeatCustomerRate: number | null;
  purchaseFrequency: number | null;
  averageOrderValue: number | null;
  customerValue: number | null;
}

/** One period's counts, as the SQL and the projection both produce them; `start` is its first day. */
export type SeriesCounts = {
  start: string;
  customers: number;
  repeaters: number;
  customer_orders: number;
  orders: number;
  revenue: number;
  revenue_orders: number;
};

/** One point per calendar period overlapping `period` (widened to whole periods), empty ones included. SQL; see projected-figures.ts. */
export async function headlineSeries(db: Queryable, ws: Workspace, period: Period, unit: PeriodUnit): Promise<SeriesPoint[]> {
  const first = periodStartOf(period.from, unit);
  const last = periodStartOf(period.to, unit);
  const rows = await db.query<SeriesCounts>(
    `WITH o AS (
       SELECT date_trunc($5, placed_at AT TIME ZONE 'UTC')::date AS start, customer_id, total_minor, currency = $4 AS in_currency
         FROM orders WHERE workspace_id = $1 AND placed_at >= $2 AND placed_at < $3 AND status <> ALL($6::text[])
     ), per AS (
       SELECT start, customer_id, count(*) AS n FROM o WHERE customer_id IS NOT NULL GROUP BY 1, 2
     ), c AS (
       SELECT start, count(*)::int AS customers, count(*) FILTER (WHERE n >= 2)::int AS repeaters, sum(n)::int AS customer_orders FROM per GROUP BY 1
     ), t AS (
       SELECT start, count(*)::int AS orders, COALESCE(sum(total_minor) FILTER (WHERE in_currency), 0)::bigint AS revenue,
              count(*) FILTER (WHERE in_currency)::int AS revenue_orders
         FROM o GROUP BY 1
     )
     SELECT to_char(t.start, 'YYYY-MM-DD') AS start, COALESCE(c.customers, 0) AS customers, COALESCE(c.repeaters, 0) AS repeaters,
            COALESCE(c.customer_orders, 0) AS customer_orders, t.orders, t.revenue, t.revenue_orders
       FROM t LEFT JOIN c ON c.start = t.start`,
    [ws.id, dayStart(first), dayStart(nextPeriodStart(last, unit)), ws.currency, unit, notPurchases()],
  );
  return seriesPoints(period, unit, rows);
}

/** The points of `period` from the counts of its periods (missing ones are empty). */
export function seriesPoints(period: Period, unit: PeriodUnit, rows: readonly SeriesCounts[]): SeriesPoint[] {
  const first = periodStartOf(period.from, unit);
  const last = periodStartOf(period.to, unit);
  const byStart = new Map(rows.map((r) => [r.start, r]));
  const out: SeriesPoint[] = [];
  for (let s = first; s <= last; s = nextPeriodStart(s, unit)) {
    const r = byStart.get(s);
    const frequency = r ? ratio(r.customer_orders, r.customers) : null;
    const aov = r ? ratio(r.revenue, r.revenue_orders) : null;
    out.push({
      start: s,
      label: periodLabel(s, unit),
      customers: r?.customers ?? 0,
      orders: r?.orders ?? 0,
      revenue: r?.revenue ?? 0,
      repeatCustomerRate: r ? ratio(r.repeaters, r.customers) : null,
      purchaseFrequency: frequency,
      averageOrderValue: aov,
      customerValue: frequency === null || aov === null ? null : frequency * aov,
    });
  }
  return out;
}
