/**
 * The headline, series, retention, cohort, ladder and interval counts from
 * the order projection (order-projection.ts): each one pass over the
 * time-ordered purchases with a few per-customer arrays, producing the
 * counts the SQL versions produce (headline.ts, series.ts, retention.ts,
 * repeat.ts), which the same builders turn into answers. Counts and sums
 * are equal; medians and means of days can differ in the last bits (SQL
 * divides in numeric, this in double). The metrics tests run every figure
 * both ways.
 */
import type { Queryable } from "../store/index.ts";
import { float64Column, selectInPlace } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { dayStart, type Period } from "./period.ts";
import { headlineOf, periodRefunds, type HeadlineCounts, type HeadlineMetrics } from "./headline.ts";
import { seriesPoints, type SeriesCounts, type SeriesPoint } from "./series.ts";
import {
  cohortPeriod,
  cohortRows,
  nextPeriodStart,
  periodStartOf,
  retentionPeriods,
  retentionRows,
  type CohortCount,
  type CohortRow,
  type CohortSize,
  type PeriodUnit,
  type RetentionCounts,
  type RetentionRow,
} from "./retention.ts";
import { intervalSummary, ladderSteps, type IntervalSummary, type LadderStep } from "./repeat.ts";
import type { CustomerFacts, OrderColumns, OrderProjection } from "./order-projection.ts";

const US_PER_DAY = 86_400_000_000;
const micros = (d: Date) => d.getTime() * 1000;

/** First k in [0, length) with at[k] ≥ t. */
function lowerBound(o: OrderColumns, t: number): number {
  let lo = 0;
  let hi = o.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((o.at[mid] ?? 0) < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Calendar periods from `first` to `last` (their first days), and their bounds in µs (one more than periods). */
function periodsOf(first: string, last: string, unit: PeriodUnit): { starts: string[]; bounds: Float64Array } {
  const starts: string[] = [];
  for (let s = first; s <= last; s = nextPeriodStart(s, unit)) starts.push(s);
  const bounds = new Float64Array(starts.length + 1);
  starts.forEach((s, i) => (bounds[i] = micros(dayStart(s))));
  bounds[starts.length] = micros(dayStart(nextPeriodStart(last, unit)));
  return { starts, bounds };
}

export async function projectedHeadline(db: Queryable, ws: Workspace, projection: OrderProjection, period: Period): Promise<HeadlineMetrics> {
  const o = projection.orders;
  const f = projection.facts();
  const start = micros(period.start);
  const r: HeadlineCounts = {
    orders: 0, guest_orders: 0, customer_orders: 0, revenue: 0, revenue_orders: 0,
    customers: 0, repeat_customers: 0, new_customers: 0, returning_revenue: 0,
  };
  // Orders of each customer in the period, counted to 2.
  const seen = new Uint8Array(o.customers);
  const end = lowerBound(o, micros(period.end));
  for (let k = lowerBound(o, start); k < end; k++) {
    r.orders++;
    const total = o.totalMinor[k] ?? 0;
    const inCurrency = o.inCurrency[k] === 1;
    if (inCurrency) {
      r.revenue += total;
      r.revenue_orders++;
    }
    const c = o.customer[k] ?? -1;
    if (c < 0) {
      r.guest_orders++;
      continue;
    }
    r.customer_orders++;
    if (inCurrency && o.id[k] !== f.firstId[c]) r.returning_revenue += total;
    const n = seen[c] ?? 0;
    if (n === 0) {
      r.customers++;
      if ((f.firstAt[c] ?? Infinity) >= start) r.new_customers++;
    } else if (n === 1) {
      r.repeat_customers++;
    }
    if (n < 2) seen[c] = n + 1;
  }
  return headlineOf(ws, period, r, await periodRefunds(db, ws, period));
}

export function projectedSeries(projection: OrderProjection, period: Period, unit: PeriodUnit): SeriesPoint[] {
  const o = projection.orders;
  const { starts, bounds } = periodsOf(periodStartOf(period.from, unit), periodStartOf(period.to, unit), unit);
  const counts: SeriesCounts[] = starts.map((start) => ({ start, customers: 0, repeaters: 0, customer_orders: 0, orders: 0, revenue: 0, revenue_orders: 0 }));
  const lastPeriod = new Int32Array(o.customers).fill(-1);
  const inPeriod = new Uint8Array(o.customers);
  walk(o, bounds, (k, p) => {
    const row = counts[p];
    if (!row) return;
    row.orders++;
    if (o.inCurrency[k] === 1) {
      row.revenue += o.totalMinor[k] ?? 0;
      row.revenue_orders++;
    }
    const c = o.customer[k] ?? -1;
    if (c < 0) return;
    row.customer_orders++;
    if (lastPeriod[c] !== p) {
      lastPeriod[c] = p;
      inPeriod[c] = 1;
      row.customers++;
    } else if (inPeriod[c] === 1) {
      inPeriod[c] = 2;
      row.repeaters++;
    }
  });
  return seriesPoints(period, unit, counts);
}

export function projectedRetention(projection: OrderProjection, period: Period, unit: PeriodUnit): RetentionRow[] {
  const o = projection.orders;
  const f = projection.facts();
  const { before, last } = retentionPeriods(period, unit);
  const { starts, bounds } = periodsOf(before, last, unit);
  const counts: RetentionCounts[] = starts.map((start) => ({ start, buyers: 0, new_buyers: 0, retained: 0 }));
  // Each customer's last active period; retained when it is the one just before.
  const lastPeriod = new Int32Array(o.customers).fill(-2);
  walk(o, bounds, (k, p) => {
    const c = o.customer[k] ?? -1;
    const row = counts[p];
    if (c < 0 || !row || lastPeriod[c] === p) return;
    row.buyers++;
    if (lastPeriod[c] === p - 1) row.retained++;
    const first = f.firstAt[c] ?? Infinity;
    if (first >= (bounds[p] ?? 0) && first < (bounds[p + 1] ?? 0)) row.new_buyers++;
    lastPeriod[c] = p;
  });
  return retentionRows(period, unit, counts);
}

export function projectedCohorts(projection: OrderProjection, asked: Period): CohortRow[] {
  const o = projection.orders;
  const f = projection.facts();
  const period = cohortPeriod(asked);
  const { starts, bounds } = periodsOf(period.from, periodStartOf(period.to, "month"), "month");
  const months = starts.length;
  const lo = bounds[0] ?? 0;
  const hi = micros(period.end);
  const size = new Float64Array(months);
  const revenue = new Float64Array(months);
  const cohortOf = new Int32Array(o.customers).fill(-1);
  for (let c = 0; c < o.customers; c++) {
    const first = f.firstAt[c] ?? Infinity;
    if (first < lo || first >= hi) continue;
    let q = 0;
    while (q + 1 < months && first >= (bounds[q + 1] ?? 0)) q++;
    cohortOf[c] = q;
    size[q] = (size[q] ?? 0) + 1;
    revenue[q] = (revenue[q] ?? 0) + (f.revenueMinor[c] ?? 0);
  }
  const cellCustomers = new Float64Array(months * months);
  const cellRevenue = new Float64Array(months * months);
  const lastMonth = new Int32Array(o.customers).fill(-1);
  bounds[months] = Math.min(bounds[months] ?? hi, hi);
  walk(o, bounds, (k, p) => {
    const c = o.customer[k] ?? -1;
    const q = c < 0 ? -1 : (cohortOf[c] ?? -1);
    if (q < 0) return;
    const cell = q * months + p;
    if (lastMonth[c] !== p) {
      lastMonth[c] = p;
      cellCustomers[cell] = (cellCustomers[cell] ?? 0) + 1;
    }
    if (o.inCurrency[k] === 1) cellRevenue[cell] = (cellRevenue[cell] ?? 0) + (o.totalMinor[k] ?? 0);
  });
  const ym = (q: number) => (starts[q] ?? "").slice(0, 7);
  const sizes: CohortSize[] = [];
  const cells: CohortCount[] = [];
  for (let q = 0; q < months; q++) {
    if ((size[q] ?? 0) === 0) continue;
    sizes.push({ cohort: ym(q), size: size[q] ?? 0, revenue: revenue[q] ?? 0 });
    for (let p = q; p < months; p++) {
      const customers = cellCustomers[q * months + p] ?? 0;
      if (customers > 0) cells.push({ cohort: ym(q), month: ym(p), customers, revenue: cellRevenue[q * months + p] ?? 0 });
    }
  }
  return cohortRows(period, sizes, cells);
}

export function projectedLadder(projection: OrderProjection, maxN: number): LadderStep[] {
  const o = projection.orders;
  const f = projection.facts();
  const byCount = new Map<number, number>();
  for (const n of f.orderCount) if (n > 0) byCount.set(n, (byCount.get(n) ?? 0) + 1);
  const counts = [...byCount].map(([order_count, customers]) => ({ order_count, customers }));
  // Days from order n to n + 1, for n = 1 … maxN, in time order (ties by id).
  const gaps = Array.from({ length: maxN }, () => float64Column());
  const seq = new Int32Array(o.customers);
  const previous = new Float64Array(o.customers);
  for (let k = 0; k < o.length; k++) {
    const c = o.customer[k] ?? -1;
    if (c < 0) continue;
    const n = (seq[c] ?? 0) + 1;
    seq[c] = n;
    const at = o.at[k] ?? 0;
    if (n >= 2 && n <= maxN + 1) gaps[n - 2]?.push((at - (previous[c] ?? 0)) / US_PER_DAY);
    previous[c] = at;
  }
  const median = new Map<number, number | null>();
  gaps.forEach((g, i) => {
    if (g.length > 0) median.set(i + 1, medianOf(g.done()));
  });
  return ladderSteps(maxN, counts, median);
}

/**
 * Days between each customer's consecutive purchase days (several orders on
 * one UTC day are one purchase day), as purchaseIntervals counts them:
 * their statistics over all customers, and each customer's own median.
 */
export function projectedIntervals(projection: OrderProjection): IntervalSummary {
  const o = projection.orders;
  // Pass 1: every gap, as it comes in time order; how many each customer has.
  const lastDay = new Float64Array(o.customers).fill(NaN);
  const perCustomer = new Int32Array(o.customers + 1);
  const byLength = new Map<number, number>();
  let n = 0;
  let sum = 0;
  const eachGap = (visit: (c: number, gap: number) => void) => {
    lastDay.fill(NaN);
    for (let k = 0; k < o.length; k++) {
      const c = o.customer[k] ?? -1;
      if (c < 0) continue;
      const day = Math.floor((o.at[k] ?? 0) / US_PER_DAY);
      const last = lastDay[c] ?? NaN;
      if (day !== last) {
        if (!Number.isNaN(last)) visit(c, day - last);
        lastDay[c] = day;
      }
    }
  };
  eachGap((c, gap) => {
    n++;
    sum += gap;
    byLength.set(gap, (byLength.get(gap) ?? 0) + 1);
    perCustomer[c + 1] = (perCustomer[c + 1] ?? 0) + 1;
  });
  const gaps = [...byLength].map(([days, count]) => ({ days, n: count })).sort((a, b) => a.days - b.days);
  // percentile_cont over the sorted gaps, read off the counts.
  const at = (index: number) => {
    let seen = 0;
    for (const g of gaps) {
      seen += g.n;
      if (index < seen) return g.days;
    }
    return NaN;
  };
  const percentile = (q: number) => {
    if (n === 0) return null;
    const pos = q * (n - 1);
    const lo = at(Math.floor(pos));
    return lo + (at(Math.ceil(pos)) - lo) * (pos - Math.floor(pos));
  };
  // Pass 2: each customer's gaps side by side, for their own median.
  for (let c = 0; c < o.customers; c++) perCustomer[c + 1] = (perCustomer[c + 1] ?? 0) + (perCustomer[c] ?? 0);
  const fill = perCustomer.slice(0, o.customers);
  const own = new Float64Array(n);
  eachGap((c, gap) => {
    own[fill[c] ?? 0] = gap;
    fill[c] = (fill[c] ?? 0) + 1;
  });
  const rhythms = new Map<number, number>();
  for (let c = 0; c < o.customers; c++) {
    const from = perCustomer[c] ?? 0;
    const to = perCustomer[c + 1] ?? 0;
    if (to === from) continue;
    const days = Math.ceil(medianOf(own.subarray(from, to)));
    rhythms.set(days, (rhythms.get(days) ?? 0) + 1);
  }
  return intervalSummary(
    { n, mean: n === 0 ? null : sum / n, p25: percentile(0.25), median: percentile(0.5), p75: percentile(0.75) },
    gaps,
    [...rhythms].map(([days, count]) => ({ days, n: count })),
  );
}

/** Calls `visit(k, p)` for each order in [bounds[0], bounds[last]) with p its period. */
function walk(o: OrderColumns, bounds: Float64Array, visit: (k: number, p: number) => void): void {
  const periods = bounds.length - 1;
  if (periods < 1) return;
  const end = lowerBound(o, bounds[periods] ?? 0);
  let p = 0;
  for (let k = lowerBound(o, bounds[0] ?? 0); k < end; k++) {
    const at = o.at[k] ?? 0;
    while (p + 1 < periods && at >= (bounds[p + 1] ?? 0)) p++;
    visit(k, p);
  }
}

/**
 * The median as PostgreSQL's percentile_cont(0.5) gives it: the middle
 * value, or the mean of the two middle ones. Selection, not a sort
 * (selectInPlace, src/shared); reorders `v`.
 */
export function medianOf(v: Float64Array): number {
  const n = v.length;
  const mid = (n - 1) >> 1;
  const a = selectInPlace(v, mid);
  if (n % 2 === 1) return a;
  // The next value up is the smallest of those after the middle.
  let b = Infinity;
  for (let i = mid + 1; i < n; i++) b = Math.min(b, v[i] ?? Infinity);
  return a + (b - a) / 2;
}

