/**
 * A shop's purchase history in the shape the models read it: for each
 * customer, their distinct purchase days (same-day purchases are one
 * transaction, amounts summed — summaries.ts explains why) in one flat,
 * typed block. Customer i's days are day[start[i]] … day[start[i+1] − 1],
 * ascending.
 *
 * Why typed arrays: a shop of a million customers has millions of orders;
 * as JS objects (one per purchase, a Map per customer) they took ~1 KB a
 * customer and seconds of hashing and garbage collection for every summary.
 * Here one pass over a few flat arrays builds the summaries for any
 * calibration end, and the validation reads the holdout from the same block
 * (docs/benchmarks.md, "Models").
 */
import { sortRuns } from "../shared/index.ts";
import type { CustomerSummary, Purchase, SummaryOptions } from "./summaries.ts";
import { UNIT_DAYS } from "./summaries.ts";
import type { SpendColumns } from "./gamma-gamma.ts";

export interface PurchaseDays {
  /**
   * Customer ids, in the order of the blocks, as the caller gave them: the
   * store's numeric ids stay numbers (a million made strings cost ~0.1 s
   * and 40 MB for a fit that only counts them).
   */
  customerIds: readonly (string | number)[];
  /** customerIds.length + 1 offsets into day/amount. */
  start: Int32Array;
  /** Distinct purchase days (whole day numbers), ascending within a customer. */
  day: Int32Array;
  /** The day's summed purchase amounts (currency units). */
  amount: Float64Array;
}

/**
 * Builds the block from purchases in any order: customers sorted by id (as
 * strings), days floored to whole days and merged.
 */
export function purchaseDaysOf(purchases: readonly Purchase[]): PurchaseDays {
  // Group by customer with one Map look-up per purchase, then lay the groups
  // out in id order (a counting sort) and sort each customer's few days. A
  // comparator sort of millions of purchases by (customer, day) took several
  // times longer.
  const groupOf = new Map<string, number>();
  const group = new Int32Array(purchases.length);
  const counts: number[] = [];
  const day = new Float64Array(purchases.length);
  for (let i = 0; i < purchases.length; i++) {
    const p = purchases[i];
    const id = p?.customerId ?? "";
    let g = groupOf.get(id);
    if (g === undefined) {
      g = counts.length;
      groupOf.set(id, g);
      counts.push(0);
    }
    group[i] = g;
    counts[g] = (counts[g] ?? 0) + 1;
    day[i] = Math.floor(p?.day ?? 0);
  }
  const ids = [...groupOf.keys()].sort();
  const start = new Int32Array(ids.length + 1);
  const fill = new Int32Array(counts.length); // where each group's next purchase goes
  ids.forEach((id, c) => {
    const g = groupOf.get(id) ?? 0;
    fill[g] = start[c] ?? 0;
    start[c + 1] = (start[c] ?? 0) + (counts[g] ?? 0);
  });
  const order = new Int32Array(purchases.length);
  for (let i = 0; i < purchases.length; i++) {
    const g = group[i] ?? 0;
    order[fill[g] ?? 0] = i;
    fill[g] = (fill[g] ?? 0) + 1;
  }
  // By day, ties in log order (so same-day amounts are summed in the order they came).
  sortRuns(order, start, (a, b) => (day[a] ?? 0) < (day[b] ?? 0) || ((day[a] ?? 0) === (day[b] ?? 0) && a < b));
  return mergeSameDays(
    ids,
    start,
    (k) => day[order[k] ?? 0] ?? 0,
    (k) => purchases[order[k] ?? 0]?.amount ?? 0,
  );
}

/**
 * The block from purchases grouped in runs — customer i's at positions
 * start[i] … start[i+1] − 1, in day order — with same-day purchases merged
 * (one transaction, amounts summed); customers with no purchase are left out.
 */
export function mergeSameDays(ids: ArrayLike<string | number>, start: Int32Array, dayAt: (k: number) => number, amountAt: (k: number) => number): PurchaseDays {
  const total = start[ids.length] ?? 0;
  const customerIds: (string | number)[] = [];
  const starts: number[] = [];
  const day = new Int32Array(total);
  const amount = new Float64Array(total);
  let n = 0;
  for (let i = 0; i < ids.length; i++) {
    const from = start[i] ?? 0;
    const to = start[i + 1] ?? 0;
    if (to <= from) continue;
    customerIds.push(ids[i] ?? "");
    const first = n;
    starts.push(first);
    for (let k = from; k < to; k++) {
      const d = dayAt(k);
      if (n > first && day[n - 1] === d) amount[n - 1] = (amount[n - 1] ?? 0) + amountAt(k);
      else {
        day[n] = d;
        amount[n] = amountAt(k);
        n++;
      }
    }
  }
  starts.push(n);
  return { customerIds, start: Int32Array.from(starts), day: day.slice(0, n), amount: amount.slice(0, n) };
}

/** First and last purchase day over everyone (Infinity / −Infinity when empty). */
export function purchaseDayRange(pd: PurchaseDays): { first: number; last: number } {
  let first = Infinity;
  let last = -Infinity;
  for (let i = 0; i < pd.customerIds.length; i++) {
    const a = pd.start[i] ?? 0;
    const b = pd.start[i + 1] ?? 0;
    if (b <= a) continue;
    const f = pd.day[a] ?? Infinity;
    const l = pd.day[b - 1] ?? -Infinity;
    if (f < first) first = f;
    if (l > last) last = l;
  }
  return { first, last };
}

/**
 * The summaries as of `calibrationEnd` as columns, one entry per customer
 * whose first purchase is on or before it (block order): x, t_x and T in
 * whole days, m_x, the first day, and `index`, the block position (for
 * callers that read the rest of the customer's days, such as the holdout).
 * A million customers as objects cost a second of allocation and garbage
 * collection per summary pass; these are a few flat arrays
 * (docs/benchmarks.md, "Models").
 */
export interface SummaryColumns {
  length: number;
  /** Days in one model time unit: t_x = txDays / unitDays, T = TDays / unitDays. */
  unitDays: number;
  index: Int32Array;
  x: Int32Array;
  txDays: Int32Array;
  TDays: Int32Array;
  /** Mean value of the repeat transactions (0 when x = 0). */
  m_x: Float64Array;
  firstDay: Int32Array;
}

export function summaryColumns(pd: PurchaseDays, options: SummaryOptions): SummaryColumns {
  const end = options.calibrationEnd;
  const n = pd.customerIds.length;
  const index = new Int32Array(n);
  const x = new Int32Array(n);
  const txDays = new Int32Array(n);
  const TDays = new Int32Array(n);
  const m_x = new Float64Array(n);
  const firstDay = new Int32Array(n);
  let length = 0;
  for (let i = 0; i < n; i++) {
    const a = pd.start[i] ?? 0;
    const b = pd.start[i + 1] ?? 0;
    const first = pd.day[a];
    if (b <= a || first === undefined || first > end) continue;
    let k = a + 1;
    let repeatTotal = 0;
    while (k < b && (pd.day[k] ?? Infinity) <= end) {
      repeatTotal += pd.amount[k] ?? 0;
      k++;
    }
    const repeats = k - a - 1;
    index[length] = i;
    x[length] = repeats;
    txDays[length] = (pd.day[k - 1] ?? first) - first;
    TDays[length] = end - first;
    m_x[length] = repeats > 0 ? repeatTotal / repeats : 0;
    firstDay[length] = first;
    length++;
  }
  return {
    length,
    unitDays: UNIT_DAYS[options.unit],
    index: index.slice(0, length),
    x: x.slice(0, length),
    txDays: txDays.slice(0, length),
    TDays: TDays.slice(0, length),
    m_x: m_x.slice(0, length),
    firstDay: firstDay.slice(0, length),
  };
}

/** The customers with repeat transactions and a spend (x ≥ 1, m_x > 0): what Gamma-Gamma is fitted on (Fader & Hardie 2013). */
export function spendColumns(c: SummaryColumns): SpendColumns {
  let n = 0;
  for (let k = 0; k < c.length; k++) if ((c.x[k] ?? 0) > 0 && (c.m_x[k] ?? 0) > 0) n++;
  const x = new Float64Array(n);
  const m_x = new Float64Array(n);
  for (let k = 0, j = 0; k < c.length; k++) {
    if ((c.x[k] ?? 0) > 0 && (c.m_x[k] ?? 0) > 0) {
      x[j] = c.x[k] ?? 0;
      m_x[j] = c.m_x[k] ?? 0;
      j++;
    }
  }
  return { length: n, x, m_x };
}

/**
 * The summaries (x, t_x, T, m_x) as of `calibrationEnd` as objects, in the
 * block's customer order; customers whose first purchase is later are left
 * out. `index[k]` is the block position of summary k.
 */
export function summariseDays(pd: PurchaseDays, options: SummaryOptions): { summaries: CustomerSummary[]; index: Int32Array } {
  const c = summaryColumns(pd, options);
  const summaries: CustomerSummary[] = [];
  for (let k = 0; k < c.length; k++) {
    summaries.push({
      customerId: String(pd.customerIds[c.index[k] ?? 0] ?? ""),
      x: c.x[k] ?? 0,
      t_x: (c.txDays[k] ?? 0) / c.unitDays,
      T: (c.TDays[k] ?? 0) / c.unitDays,
      m_x: c.m_x[k] ?? 0,
      firstDay: c.firstDay[k] ?? 0,
    });
  }
  return { summaries, index: c.index };
}
