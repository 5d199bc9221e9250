/**
 * The repeat ladder and the time between purchases (product.md §2, source
 * 002: "a second-time buyer is twice as likely to buy a third time").
 * Both look at each customer's whole history.
 */
import type { Queryable } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { notPurchases, ratio } from "./period.ts";

export interface LadderStep {
  /** Customers with at least n orders… */
  n: number;
  customers: number;
  /** …of whom this many made an (n+1)-th. */
  next: number;
  /** next ÷ customers. */
  share: number | null;
  /** Median days between order n and order n+1, over the customers who made it. */
  medianDaysToNext: number | null;
}

/** Steps n = 1 … maxN, from the rollups' order counts and the orders' own sequence. */
export async function repeatLadder(db: Queryable, ws: Workspace, maxN = 10): Promise<LadderStep[]> {
  const counts = await db.query<{ order_count: number; customers: number }>(
    `SELECT order_count, count(*)::int AS customers FROM customer_rollups
      WHERE workspace_id = $1 AND order_count > 0 GROUP BY order_count`,
    [ws.id],
  );
  const gaps = await db.query<{ n: number; median: number | null }>(
    `WITH s AS (
       SELECT placed_at,
              lag(placed_at) OVER (PARTITION BY customer_id ORDER BY placed_at, id) AS prev,
              row_number() OVER (PARTITION BY customer_id ORDER BY placed_at, id) AS k
         FROM orders
        WHERE workspace_id = $1 AND customer_id IS NOT NULL AND status <> ALL($2::text[])
     )
     SELECT (k - 1)::int AS n,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM placed_at - prev) / 86400) AS median
       FROM s WHERE k BETWEEN 2 AND $3 GROUP BY k`,
    [ws.id, notPurchases(), maxN + 1],
  );
  return ladderSteps(maxN, counts, new Map(gaps.map((g) => [g.n, g.median])));
}

/** Steps 1 … maxN from how many customers have each order count, and the median days from order n to n + 1. */
export function ladderSteps(maxN: number, counts: readonly { order_count: number; customers: number }[], median: ReadonlyMap<number, number | null>): LadderStep[] {
  const atLeast = (n: number) => counts.reduce((s, c) => (c.order_count >= n ? s + c.customers : s), 0);
  const steps: LadderStep[] = [];
  for (let n = 1; n <= maxN; n++) {
    const customers = atLeast(n);
    const next = atLeast(n + 1);
    steps.push({ n, customers, next, share: ratio(next, customers), medianDaysToNext: median.get(n) ?? null });
  }
  return steps;
}

/** Buckets of days for both histograms (upper bound included; the last is open). */
export const INTERVAL_BUCKETS: readonly { label: string; from: number; to: number | null }[] = [
  { label: "0–7 days", from: 0, to: 7 },
  { label: "8–14 days", from: 8, to: 14 },
  { label: "15–30 days", from: 15, to: 30 },
  { label: "31–60 days", from: 31, to: 60 },
  { label: "61–90 days", from: 61, to: 90 },
  { label: "91–180 days", from: 91, to: 180 },
  { label: "181–365 days", from: 181, to: 365 },
  { label: "over a year", from: 366, to: null },
];

export interface IntervalSummary {
  /** Pairs of consecutive purchase days (same-day orders are one purchase day). */
  intervals: number;
  medianDays: number | null;
  meanDays: number | null;
  p25Days: number | null;
  p75Days: number | null;
  histogram: { label: string; from: number; to: number | null; count: number }[];
  /** Customers with at least two purchase days, so a rhythm of their own. */
  customersWithRhythm: number;
  /** Each customer's median interval, bucketed: how regular buyers are spread. */
  rhythmHistogram: { label: string; from: number; to: number | null; count: number }[];
}

const bucketOf = (days: number) => INTERVAL_BUCKETS.findIndex((b) => days >= b.from && (b.to === null || days <= b.to));

function histogram(rows: { days: number; n: number }[]): IntervalSummary["histogram"] {
  const counts = INTERVAL_BUCKETS.map(() => 0);
  for (const r of rows) {
    const i = bucketOf(r.days);
    if (i >= 0) counts[i] = (counts[i] ?? 0) + r.n;
  }
  return INTERVAL_BUCKETS.map((b, i) => ({ ...b, count: counts[i] ?? 0 }));
}

const DAYS_SQL = `
  WITH d AS (
    SELECT DISTINCT customer_id, (placed_at AT TIME ZONE 'UTC')::date AS day FROM orders
     WHERE workspace_id = $1 AND customer_id IS NOT NULL AND status <> ALL($2::text[])
  ), g AS (
    SELECT customer_id, day - lag(day) OVER (PARTITION BY customer_id ORDER BY day) AS gap FROM d
  )`;

/** Days between a customer's consecutive purchase days, over all customers. */
export async function purchaseIntervals(db: Queryable, ws: Workspace): Promise<IntervalSummary> {
  const [stats] = await db.query<{ n: number; mean: number | null; p: (number | null)[] | null }>(
    `${DAYS_SQL}
     SELECT count(*)::int AS n, avg(gap)::float8 AS mean,
            percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY gap) AS p
       FROM g WHERE gap IS NOT NULL`,
    [ws.id, notPurchases()],
  );
  const gaps = await db.query<{ days: number; n: number }>(
    `${DAYS_SQL} SELECT gap AS days, count(*)::int AS n FROM g WHERE gap IS NOT NULL GROUP BY gap`,
    [ws.id, notPurchases()],
  );
  const rhythms = await db.query<{ days: number; n: number }>(
    `${DAYS_SQL}, m AS (
       SELECT customer_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) AS median FROM g WHERE gap IS NOT NULL GROUP BY customer_id
     )
     SELECT ceil(median)::int AS days, count(*)::int AS n FROM m GROUP BY 1`,
    [ws.id, notPurchases()],
  );
  const p = stats?.p ?? null;
  return intervalSummary({ n: stats?.n ?? 0, mean: stats?.mean ?? null, p25: p?.[0] ?? null, median: p?.[1] ?? null, p75: p?.[2] ?? null }, gaps, rhythms);
}

/**
 * The summary from the gaps' statistics, how many gaps of each length
 * (days), and how many customers have each rounded-up own median.
 */
export function intervalSummary(
  stats: { n: number; mean: number | null; p25: number | null; median: number | null; p75: number | null },
  gaps: { days: number; n: number }[],
  rhythms: { days: number; n: number }[],
): IntervalSummary {
  return {
    intervals: stats.n,
    medianDays: stats.median,
    meanDays: stats.mean,
    p25Days: stats.p25,
    p75Days: stats.p75,
    histogram: histogram(gaps),
    customersWithRhythm: rhythms.reduce((s, r) => s + r.n, 0),
    rhythmHistogram: histogram(rhythms),
  };
}

export interface CustomerRhythm {
  externalId: string;
  /** Distinct days with an order. */
  purchaseDays: number;
  /** The customer's own median days between purchase days (null with fewer than two). */
  medianDays: number | null;
  lastOrderAt: string | null;
  /** Last order + median: when this customer would usually buy again. */
  expectedNextAt: string | null;
}

/** Each named customer's own buying rhythm (for win-back timing); unknown ids are left out. */
export async function customerRhythms(db: Queryable, ws: Workspace, externalIds: readonly string[]): Promise<CustomerRhythm[]> {
  const rows = await db.query<{ external_id: string; days: number; median: number | null; last_at: Date | null }>(
    `WITH c AS (SELECT id, external_id FROM customers WHERE workspace_id = $1 AND external_id = ANY($3::text[])),
     d AS (
       SELECT DISTINCT o.customer_id, (o.placed_at AT TIME ZONE 'UTC')::date AS day FROM orders o JOIN c ON c.id = o.customer_id
        WHERE o.status <> ALL($2::text[])
     ), g AS (
       SELECT customer_id, day - lag(day) OVER (PARTITION BY customer_id ORDER BY day) AS gap FROM d
     )
     SELECT c.external_id, (SELECT count(*) FROM d WHERE d.customer_id = c.id)::int AS days,
            (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) FROM g WHERE g.customer_id = c.id AND gap IS NOT NULL) AS median,
            r.last_order_at AS last_at
       FROM c LEFT JOIN customer_rollups r ON r.customer_id = c.id`,
    [ws.id, notPurchases(), [...externalIds]],
  );
  return rows.map((r) => ({
    externalId: r.external_id,
    purchaseDays: r.days,
    medianDays: r.median,
    lastOrderAt: r.last_at ? r.last_at.toISOString() : null,
    expectedNextAt: r.last_at && r.median !== null ? new Date(r.last_at.getTime() + r.median * 86_400_000).toISOString() : null,
  }));
}
