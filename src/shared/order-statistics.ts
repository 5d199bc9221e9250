/**
 * Order statistics without sorting: the value that would sit at position k
 * of `values` sorted ascending, found by selection (Hoare's FIND, in Wirth's
 * form: Wirth 1976, "Algorithms + Data Structures = Programs", §2.3.4),
 * linear on average where a sort is n·log n. Scoring a million customers
 * needs a dozen of them (RFM quintile cuts, medians, top-share thresholds),
 * and sorting a copy of a million numbers for each took ~70 ms
 * (docs/benchmarks.md, "Models"). Values must not be NaN.
 */

/**
 * Rearranges a[lo..hi] (inclusive; by default all of `a`) so that a[k]
 * holds the value of sorted rank k among them, everything before it ≤ it
 * and everything after ≥ it; returns it. Needs lo ≤ k ≤ hi.
 */
export function selectInPlace(a: Float64Array, k: number, lo = 0, hi = a.length - 1): number {
  if (!(Number.isInteger(k) && lo <= k && k <= hi && lo >= 0 && hi < a.length)) throw new RangeError(`cannot select rank ${k} within [${lo}, ${hi}] of ${a.length} values`);
  while (lo < hi) {
    // Median of three as the pivot, so sorted or reversed input splits evenly.
    const x = medianOfThree(a[lo] ?? 0, a[k] ?? 0, a[hi] ?? 0);
    let i = lo;
    let j = hi;
    do {
      while ((a[i] ?? 0) < x) i++;
      while (x < (a[j] ?? 0)) j--;
      if (i <= j) {
        const t = a[i] ?? 0;
        a[i] = a[j] ?? 0;
        a[j] = t;
        i++;
        j--;
      }
    } while (i <= j);
    if (j < k) lo = i;
    if (k < i) hi = j;
  }
  return a[k] ?? NaN;
}

function medianOfThree(p: number, q: number, r: number): number {
  return p < q ? (q < r ? q : p < r ? r : p) : p < r ? p : q < r ? r : q;
}

/**
 * The values at sorted positions `ranks` (each 0 … n − 1), in the order
 * asked. Works on a copy: `values` is left as it is.
 */
export function orderStatistics(values: Float64Array, ranks: readonly number[]): number[] {
  const n = values.length;
  for (const k of ranks) if (!(Number.isInteger(k) && k >= 0 && k < n)) throw new RangeError(`no rank ${k} among ${n} values`);
  const a = values.slice();
  const byRank = [...ranks.keys()].sort((u, v) => (ranks[u] ?? 0) - (ranks[v] ?? 0));
  const out = new Array<number>(ranks.length);
  // Ascending ranks: each selection leaves everything above its rank to the right, where the next one looks.
  let lo = 0;
  for (const u of byRank) {
    const k = ranks[u] ?? 0;
    out[u] = selectInPlace(a, k, Math.min(lo, k), n - 1);
    lo = k;
  }
  return out;
}

/** The median of `values` (the mean of the middle two for an even count); NaN when empty. */
export function medianOfValues(values: Float64Array): number {
  const n = values.length;
  if (n === 0) return NaN;
  if (n % 2 === 1) return orderStatistics(values, [n >> 1])[0] ?? NaN;
  const [low = NaN, high = NaN] = orderStatistics(values, [(n >> 1) - 1, n >> 1]);
  return (low + high) / 2;
}
