/**
 * RFM: recency, frequency and monetary scores from 1 to 5, and the named
 * segments marketers use (champions, loyal, … lost). Pure: it scores the
 * customers it is given against each other.
 *
 * Scores are quintiles by rank (Hughes 1994, "Strategic Database Marketing",
 * the RFM method), with one rule added: customers with the same value get
 * the same score. Most shops have a majority of one-order customers; ranking
 * them arbitrarily into different F scores would make the segments noise. So
 * a value's score is 1 + ⌊5 · (customers strictly worse) / n⌋, and the five
 * groups can be uneven.
 */
import { orderStatistics } from "../shared/index.ts";

export interface RfmInput<Id> {
  id: Id;
  /** Days since the last order (smaller is better). */
  recencyDays: number;
  /** Orders (larger is better). */
  frequency: number;
  /** Revenue, any unit (larger is better). */
  monetary: number;
}

export const RFM_SEGMENTS = [
  "champions",
  "loyal",
  "potential loyalists",
  "new",
  "promising",
  "need attention",
  "about to sleep",
  "at risk",
  "can't lose them",
  "hibernating",
  "lost",
] as const;
export type RfmSegment = (typeof RFM_SEGMENTS)[number];

export interface RfmScore<Id> {
  id: Id;
  r: number;
  f: number;
  m: number;
  /** "545": R, F and M digits. */
  code: string;
  segment: RfmSegment;
}

/**
 * The segment of a score, by the first rule that matches (the table is in
 * src/models/README.md). Every (R, F, M) matches exactly one rule: the rules
 * are read in order and the last ones cover what is left.
 */
export function rfmSegment(r: number, f: number, m: number): RfmSegment {
  if (r >= 4 && f >= 4 && m >= 4) return "champions";
  if (r <= 2 && f >= 4 && m >= 4) return "can't lose them"; // bought much and often, long ago
  if (r <= 2 && f >= 3) return "at risk";
  if (r >= 3 && f >= 4) return "loyal";
  if (r >= 4 && f >= 2) return "potential loyalists";
  if (r === 5) return "new"; // f = 1 here
  if (r === 4) return "promising"; // f = 1
  if (r === 3 && f >= 2) return "need attention";
  if (r === 3) return "about to sleep"; // f = 1
  if (r === 2) return "hibernating"; // f ≤ 2
  return "lost"; // r = 1, f ≤ 2
}

/**
 * Score of each value: 1 + ⌊5 · (values strictly worse) / n⌋, ties equal.
 * The score only moves where "worse" crosses c_k = ⌈k·n/5⌉ (k = 1…4), and
 * worse ≥ c holds exactly when v is beyond the c-th value from the bad end of
 * the sorted values; so four order statistics (selected, not sorted) and
 * four comparisons per value score a million customers.
 */
export function quintileScores(values: Float64Array, higherIsBetter: boolean): Uint8Array {
  const n = values.length;
  if (n === 0) return new Uint8Array(0);
  // Higher is better: worse = #values < v, and worse ≥ c ⇔ asc[c − 1] < v.
  // Lower is better: worse = #values > v, and worse ≥ c ⇔ asc[n − c] > v.
  const cuts = orderStatistics(
    values,
    [1, 2, 3, 4].map((k) => {
      const c = Math.ceil((k * n) / 5);
      return higherIsBetter ? c - 1 : n - c;
    }),
  );
  const [c1 = NaN, c2 = NaN, c3 = NaN, c4 = NaN] = cuts;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i] ?? 0;
    out[i] = higherIsBetter
      ? 1 + (v > c1 ? 1 : 0) + (v > c2 ? 1 : 0) + (v > c3 ? 1 : 0) + (v > c4 ? 1 : 0)
      : 1 + (v < c1 ? 1 : 0) + (v < c2 ? 1 : 0) + (v < c3 ? 1 : 0) + (v < c4 ? 1 : 0);
  }
  return out;
}

function quintiles(values: readonly number[], higherIsBetter: boolean): Uint8Array {
  return quintileScores(Float64Array.from(values), higherIsBetter);
}

export function rfmScores<Id>(customers: readonly RfmInput<Id>[]): RfmScore<Id>[] {
  for (const c of customers) {
    if (![c.recencyDays, c.frequency, c.monetary].every(Number.isFinite) || c.recencyDays < 0 || c.frequency < 1) {
      throw new RangeError(`RFM needs a finite recency ≥ 0 and a frequency ≥ 1 (customers with an order): ${JSON.stringify({ ...c, id: String(c.id) })}`);
    }
  }
  const r = quintiles(customers.map((c) => c.recencyDays), false);
  const f = quintiles(customers.map((c) => c.frequency), true);
  const m = quintiles(customers.map((c) => c.monetary), true);
  return customers.map((c, i) => {
    const ri = r[i] ?? 1;
    const fi = f[i] ?? 1;
    const mi = m[i] ?? 1;
    return { id: c.id, r: ri, f: fi, m: mi, code: `${ri}${fi}${mi}`, segment: rfmSegment(ri, fi, mi) };
  });
}
