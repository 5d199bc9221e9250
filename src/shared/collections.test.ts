import { describe, expect, it } from "vitest";
import { sortRuns } from "./index.ts";

describe("sortRuns", () => {
  it("sorts each run of indices on its own, stably, short runs and long ones alike", () => {
    // Keys with many ties; runs of 0, 1, 5 and 200 indices.
    const key = Array.from({ length: 206 }, (_, i) => (i * 37) % 11);
    const start = Int32Array.from([0, 0, 1, 6, 206]);
    const order = Int32Array.from({ length: 206 }, (_, i) => 205 - i); // every run reversed
    sortRuns(order, start, (a, b) => (key[a] ?? 0) < (key[b] ?? 0));
    for (let r = 0; r + 1 < start.length; r++) {
      const run = Array.from(order.subarray(start[r], start[r + 1]));
      const expected = [...run].sort((a, b) => (key[a] ?? 0) - (key[b] ?? 0) || b - a); // ties keep their reversed input order
      expect(run).toEqual(expected);
    }
  });
});
