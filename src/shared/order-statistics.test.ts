import { describe, expect, it } from "vitest";
import { medianOfValues, orderStatistics, selectInPlace } from "./index.ts";

/** A seeded generator, so that a failure can be replayed. */
function lcg(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    return x / 2_147_483_648;
  };
}

describe("order statistics by selection", () => {
  const rand = lcg(7);
  const cases: Record<string, Float64Array> = {
    random: Float64Array.from({ length: 10_001 }, () => rand() * 1000 - 500),
    "many ties": Float64Array.from({ length: 5000 }, () => Math.floor(rand() * 4)),
    sorted: Float64Array.from({ length: 3000 }, (_, i) => i),
    reversed: Float64Array.from({ length: 3000 }, (_, i) => 3000 - i),
    "all equal": new Float64Array(999).fill(2.5),
    "one value": Float64Array.of(-3),
    "with infinities": Float64Array.of(Infinity, 1, -Infinity, 0, 1),
  };

  it.each(Object.entries(cases))("gives what sorting gives at every rank asked, in any order (%s)", (_, values) => {
    const before = values.slice();
    const sorted = values.slice().sort();
    const n = values.length;
    const ranks = [n - 1, 0, n >> 1, Math.floor(n / 5), Math.ceil((4 * n) / 5) - 1, n >> 1, Math.max(0, n - 2)];
    expect(orderStatistics(values, ranks)).toEqual(ranks.map((k) => sorted[k]));
    expect(values).toEqual(before); // a copy is rearranged, not the caller's values
    const mid = n >> 1;
    expect(medianOfValues(values)).toBe(n % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2);
  });

  it.each(Object.entries(cases))("selects in place: the rank's value in its place, nothing larger before it, nothing smaller after (%s)", (_, values) => {
    const sorted = values.slice().sort();
    for (const k of [0, values.length >> 1, values.length - 1]) {
      const a = values.slice();
      expect(selectInPlace(a, k)).toBe(sorted[k]);
      expect(a[k]).toBe(sorted[k]);
      const pivot = a[k] ?? 0;
      expect(a.subarray(0, k).every((v) => v <= pivot)).toBe(true);
      expect(a.subarray(k + 1).every((v) => v >= pivot)).toBe(true);
      expect(a.slice().sort()).toEqual(sorted); // a permutation: nothing lost or made up
    }
  });

  it("refuses a rank outside the values, and has no median of nothing", () => {
    expect(() => selectInPlace(Float64Array.of(1, 2, 3), 0, 1, 2)).toThrow("cannot select rank 0 within [1, 2]");
    expect(() => selectInPlace(new Float64Array(0), 0)).toThrow("cannot select rank 0");
    expect(() => orderStatistics(Float64Array.of(1, 2), [2])).toThrow("no rank 2 among 2 values");
    expect(() => orderStatistics(Float64Array.of(1, 2), [0.5])).toThrow("no rank 0.5");
    expect(medianOfValues(new Float64Array(0))).toBeNaN();
    expect(medianOfValues(Float64Array.of(4, 1))).toBe(2.5);
  });
});
