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
import type { CustomerSummary, Purchase, SummaryOptions } from "./summaries.ts";
import { UNIT_DAYS } from "./summaries.ts";

export interface PurchaseDays {
  /** Customer ids, in the order of the blocks. */
  customerIds: readonly string[];
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
  // out in id order (a counting sort); each customer's few days are then
  // sorted in place. A comparator sort of millions of purchases by
  // (customer, day) took several times longer.
  const groupOf = new Map<string, number>();
  const group = new Int32Array(purchases.length);
  const counts: number[] = [];
  for (let i = 0; i < purchases.length; i++) {
    const id = purchases[i]?.customerId ?? "";
    let g = groupOf.get(id);
    if (g === undefined) {
      g = counts.length;
      groupOf.set(id, g);
      counts.push(0);
    }
    group[i] = g;
    counts[g] = (counts[g] ?? 0) + 1;
  }
  const ids = [...groupOf.keys()].sort();
  const offset = new Int32Array(counts.length + 1);
  let at = 0;
  for (const id of ids) {
    const g = groupOf.get(id) ?? 0;
    offset[g] = at;
    at += counts[g] ?? 0;
  }
  const rawDay = new Float64Array(purchases.length);
  const rawAmount = new Float64Array(purchases.length);
  const fill = offset.slice();
  for (let i = 0; i < purchases.length; i++) {
    const p = purchases[i];
    const g = group[i] ?? 0;
    const k = fill[g] ?? 0;
    fill[g] = k + 1;
    rawDay[k] = Math.floor(p?.day ?? 0);
    rawAmount[k] = p?.amount ?? 0;
  }
  const start = new Int32Array(ids.length + 1);
  const day = new Int32Array(purchases.length);
  const amount = new Float64Array(purchases.length);
  let n = 0;
  let from = 0;
  for (let c = 0; c < ids.length; c++) {
    const to = from + (counts[groupOf.get(ids[c] ?? "") ?? 0] ?? 0);
    sortPairs(rawDay, rawAmount, from, to);
    start[c] = n;
    for (let k = from; k < to; k++) {
      const d = rawDay[k] ?? 0;
      if (n > (start[c] ?? 0) && day[n - 1] === d) {
        amount[n - 1] = (amount[n - 1] ?? 0) + (rawAmount[k] ?? 0);
      } else {
        day[n] = d;
        amount[n] = rawAmount[k] ?? 0;
        n++;
      }
    }
    from = to;
  }
  start[ids.length] = n;
  return { customerIds: ids, start, day: day.slice(0, n), amount: amount.slice(0, n) };
}

/** Sorts keys[from, to) ascending, moving values with them; stable (insertion sort: a customer has few purchases). */
function sortPairs(keys: Float64Array, values: Float64Array, from: number, to: number): void {
  if (to - from > 64) {
    // A customer with many purchases in no particular order: sort positions, then permute.
    const pos = Array.from({ length: to - from }, (_, k) => from + k).sort((i, j) => (keys[i] ?? 0) - (keys[j] ?? 0) || i - j);
    const k2 = pos.map((i) => keys[i] ?? 0);
    const v2 = pos.map((i) => values[i] ?? 0);
    keys.set(k2, from);
    values.set(v2, from);
    return;
  }
  for (let i = from + 1; i < to; i++) {
    const k = keys[i] ?? 0;
    const v = values[i] ?? 0;
    let j = i - 1;
    while (j >= from && (keys[j] ?? 0) > k) {
      keys[j + 1] = keys[j] ?? 0;
      values[j + 1] = values[j] ?? 0;
      j--;
    }
    keys[j + 1] = k;
    values[j + 1] = v;
  }
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
 * The summaries (x, t_x, T, m_x) as of `calibrationEnd`, in the block's
 * customer order; customers whose first purchase is later are left out.
 * `index[k]` is the block position of summary k, for callers that read the
 * rest of the customer's days (the holdout).
 */
export function summariseDays(pd: PurchaseDays, options: SummaryOptions): { summaries: CustomerSummary[]; index: Int32Array } {
  const unit = UNIT_DAYS[options.unit];
  const end = options.calibrationEnd;
  const summaries: CustomerSummary[] = [];
  const index: number[] = [];
  for (let i = 0; i < pd.customerIds.length; i++) {
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
    const x = k - a - 1;
    const last = pd.day[k - 1] ?? first;
    summaries.push({ customerId: pd.customerIds[i] ?? "", x, t_x: (last - first) / unit, T: (end - first) / unit, m_x: x > 0 ? repeatTotal / x : 0, firstDay: first });
    index.push(i);
  }
  return { summaries, index: Int32Array.from(index) };
}
