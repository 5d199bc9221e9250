/** Items grouped by a key, in the order they come. */
export function groupBy<T, K>(items: Iterable<T>, key: (item: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/**
 * Sorts each run order[start[i]], …, order[start[i+1] − 1] of an index
 * array in place, by `before(a, b)` (a strict "comes before" on the indices
 * themselves). Runs are a customer's orders or purchases: few, and usually
 * in order already, so an insertion sort; a long run falls back to the
 * built-in sort.
 */
export function sortRuns(order: Int32Array, start: Int32Array, before: (a: number, b: number) => boolean): void {
  const compare = (a: number, b: number) => (before(a, b) ? -1 : before(b, a) ? 1 : 0);
  for (let i = 0; i + 1 < start.length; i++) {
    const from = start[i] ?? 0;
    const to = start[i + 1] ?? 0;
    if (to - from > 64) {
      order.set(Array.from(order.subarray(from, to)).sort(compare), from);
      continue;
    }
    for (let k = from + 1; k < to; k++) {
      const v = order[k] ?? 0;
      let j = k - 1;
      while (j >= from && before(v, order[j] ?? 0)) {
        order[j + 1] = order[j] ?? 0;
        j--;
      }
      order[j + 1] = v;
    }
  }
}

/**
 * A typed array filled by push when the count is not known in advance
 * (rows arriving from a COPY): doubles as it fills; `done()` gives an
 * array of exactly the length pushed, `view()` the same values without a
 * copy (valid until the next push).
 */
export class GrowingColumn<A extends Float64Array | Int32Array | Uint8Array> {
  length = 0;
  #data: A;
  constructor(
    private readonly make: (n: number) => A,
    private readonly head: (a: A, n: number) => A,
  ) {
    this.#data = make(1024);
  }
  push(v: number): void {
    if (this.length === this.#data.length) {
      const bigger = this.make(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.length++] = v;
  }
  view(): A {
    return this.head(this.#data, this.length);
  }
  done(): A {
    if (this.length === this.#data.length) return this.#data;
    const out = this.make(this.length);
    out.set(this.#data.subarray(0, this.length));
    return out;
  }
}

export const float64Column = () => new GrowingColumn((n) => new Float64Array(n), (a, n) => a.subarray(0, n));
export const int32Column = () => new GrowingColumn((n) => new Int32Array(n), (a, n) => a.subarray(0, n));
export const uint8Column = () => new GrowingColumn((n) => new Uint8Array(n), (a, n) => a.subarray(0, n));
