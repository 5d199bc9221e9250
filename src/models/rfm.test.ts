import { describe, expect, it } from "vitest";
import { RFM_SEGMENTS, quintileScores, rfmScores, rfmSegment } from "./index.ts";

describe("RFM scores", () => {
  it("are quintiles by rank, with equal values sharing a score", () => {
    const recency = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const frequency = [1, 1, 1, 1, 1, 1, 2, 2, 3, 10];
    const monetary = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
    const scores = rfmScores(recency.map((r, i) => ({ id: i, recencyDays: r, frequency: frequency[i] ?? 1, monetary: monetary[i] ?? 0 })));
    // R: 1 + ⌊5·(customers less recent)/10⌋; the most recent gets 5.
    expect(scores.map((s) => s.r)).toEqual([5, 5, 4, 4, 3, 3, 2, 2, 1, 1]);
    // F: the six one-order customers all get 1 (none is "worse"); 2 orders: 6 worse → 4.
    expect(scores.map((s) => s.f)).toEqual([1, 1, 1, 1, 1, 1, 4, 4, 5, 5]);
    expect(scores.map((s) => s.m)).toEqual([1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
    expect(scores[0]).toMatchObject({ code: "511", segment: "new" });
    expect(scores[9]).toMatchObject({ code: "155", segment: "can't lose them" });
    expect(scores[7]).toMatchObject({ code: "244", segment: "can't lose them" });
    expect(scores[6]).toMatchObject({ code: "244" });
  });

  it("name every one of the 125 scores, and every name is used", () => {
    const seen = new Set<string>();
    for (let r = 1; r <= 5; r++) for (let f = 1; f <= 5; f++) for (let m = 1; m <= 5; m++) seen.add(rfmSegment(r, f, m));
    expect([...seen].sort()).toEqual([...RFM_SEGMENTS].sort());
  });

  it("follow the documented rules", () => {
    expect(rfmSegment(5, 5, 5)).toBe("champions");
    expect(rfmSegment(4, 4, 3)).toBe("loyal"); // frequent and recent, smaller baskets
    expect(rfmSegment(3, 5, 5)).toBe("loyal");
    expect(rfmSegment(5, 2, 1)).toBe("potential loyalists");
    expect(rfmSegment(5, 1, 5)).toBe("new");
    expect(rfmSegment(4, 1, 1)).toBe("promising");
    expect(rfmSegment(3, 3, 2)).toBe("need attention");
    expect(rfmSegment(3, 1, 4)).toBe("about to sleep");
    expect(rfmSegment(2, 3, 1)).toBe("at risk");
    expect(rfmSegment(1, 5, 5)).toBe("can't lose them");
    expect(rfmSegment(2, 2, 5)).toBe("hibernating");
    expect(rfmSegment(1, 1, 1)).toBe("lost");
  });

  it("refuse customers without an order or with a non-finite value", () => {
    expect(() => rfmScores([{ id: "a", recencyDays: 3, frequency: 0, monetary: 0 }])).toThrow(RangeError);
    expect(() => rfmScores([{ id: "a", recencyDays: Number.NaN, frequency: 1, monetary: 0 }])).toThrow(RangeError);
    expect(rfmScores([])).toEqual([]);
  });
});

describe("quintileScores", () => {
  it("gives 1 + ⌊5 · (values strictly worse) / n⌋ for every value, ties included, at any size", () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let n = 1; n <= 60; n++) {
      // Few distinct values, so ties are common; negatives too (net revenue after refunds).
      const values = Float64Array.from({ length: n }, () => Math.floor(rand() * 7) - 2);
      for (const higherIsBetter of [true, false]) {
        const direct = Array.from(values, (v) => {
          const worse = values.filter((w) => (higherIsBetter ? w < v : w > v)).length;
          return Math.min(5, 1 + Math.floor((5 * worse) / n));
        });
        expect(Array.from(quintileScores(values, higherIsBetter))).toEqual(direct);
      }
    }
  });
});
