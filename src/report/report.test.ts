import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestWorkspace, type TestStore } from "../../test/helpers.ts";
import { parseInput, SimulatedClock } from "../shared/index.ts";
import { OrderRecord, ProductRecord, writeOrders, writeProducts } from "../ingest/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { renderReport } from "./index.ts";

const clock = new SimulatedClock(new Date("2026-06-01T00:00:00Z"));
let t: TestStore;
let ws: Workspace;
beforeAll(async () => {
  const opened = await openTestWorkspace();
  t = opened;
  ws = opened.ws;
  await t.store.transaction(async (tx) => {
    await writeProducts(tx, ws, [parseInput(ProductRecord, { externalId: "x", title: "</script><script>alert(1)</script>", category: "<b>bold</b>" })], clock.now());
    const order = (id: string, customer: string, at: string, cents: number) =>
      parseInput(OrderRecord, { externalId: id, customer: { externalId: customer, acquisitionChannel: "<img src=x onerror=alert(2)>" }, placedAt: at, currency: "EUR", lines: [{ productId: "x", quantity: 1, unitPriceMinor: cents }] });
    await writeOrders(tx, ws, [order("1", "a", "2026-03-01T10:00:00Z", 1000), order("2", "a", "2026-04-01T10:00:00Z", 2500), order("3", "b", "2026-04-02T10:00:00Z", 4000)], "test", clock.now());
  });
});
afterAll(async () => {
  await t.cleanup();
});

describe("the HTML report", () => {
  it("is one self-contained file with the figures, the chart data and Chart.js inside", async () => {
    const html = await renderReport(t.store, ws, clock, { cac: 2000 });
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=["']?https?:/i); // nothing fetched from elsewhere
    expect(html).toContain("Chart.js v4"); // the library's own banner
    expect(html).toContain("<b>€75.00</b>"); // revenue: 10 + 25 + 40 euros
    expect(html).toContain("<b>50.0 %</b>"); // repeat customer rate: a ordered twice, b once
    const data = JSON.parse(/<script type="application\/json" id="charts">(.*?)<\/script>/s.exec(html)?.[1] ?? "{}");
    expect(data.revenue).toMatchObject({ labels: ["2026-03", "2026-04", "2026-05", "2026-06"], series: [{ data: [1000, 6500, 0, 0] }] });
    expect(html).toMatch(/Budget advice: \d+\.\d % on retention/);
  });

  it("escapes what shops and visitors typed", async () => {
    const html = await renderReport(t.store, ws, clock);
    expect(html).not.toContain("<script>alert(1)");
    expect(html).not.toContain("<img src=x");
    expect(html).not.toContain("<b>bold</b>");
    expect(html).toContain("&#60;/script&#62;&#60;script&#62;alert(1)");
  });
});
