/** What the products memory keeps: per workspace, from committed notes only, bounded. */
import { describe, expect, it } from "vitest";
import { KnownProducts } from "./known-products.ts";

describe("KnownProducts", () => {
  it("remembers per workspace, and starts afresh past its limit", () => {
    const known = new KnownProducts(3);
    expect(known.of("w1").has("a")).toBe(false);
    known.add("w1", ["a", "b"]);
    expect([...known.of("w1")]).toEqual(["a", "b"]);
    expect(known.of("w2").size).toBe(0);
    known.add("w1", ["c", "d"]);
    // The limit (3) was reached at d: the memory started again from d.
    expect([...known.of("w1")]).toEqual(["d"]);
  });
});
