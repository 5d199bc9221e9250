import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { count, openTestWorkspace, type TestStore } from "../../test/helpers.ts";
import type { Workspace } from "../workspaces/index.ts";
import { generateDemo, loadDemo, loadDemoLoyalty } from "./index.ts";

const end = new Date("2026-01-01T00:00:00Z");

describe("the demo shop", () => {
  it("is deterministic: the same seed and end date give the same shop", () => {
    const a = [...generateDemo({ customers: 300, seed: 7, end })];
    const b = [...generateDemo({ customers: 300, seed: 7, end })];
    const c = [...generateDemo({ customers: 300, seed: 8, end })];
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a)).not.toBe(JSON.stringify(c));
  });

  let t: TestStore;
  let ws: Workspace;
  beforeAll(async () => {
    const opened = await openTestWorkspace();
    t = opened;
    ws = opened.ws;
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it("has varied rhythms, channels, replenishable products, carts, returns and guests", async () => {
    const s = await loadDemo(t.store, ws, { customers: 600, seed: 42, end });
    expect(s.customers).toBe(600);
    expect(s.orders).toBeGreaterThan(600);
    expect(s.refunds).toBeGreaterThan(10);
    const q = (sql: string) => count(t.store, sql);
    expect(await q("SELECT count(DISTINCT acquisition_channel) AS n FROM customers")).toBe(6);
    expect(await q("SELECT count(*) AS n FROM products WHERE usage_days IS NOT NULL")).toBeGreaterThan(5);
    expect(await q("SELECT count(*) AS n FROM orders WHERE customer_id IS NULL")).toBeGreaterThan(0);
    expect(await q("SELECT count(*) AS n FROM customer_rollups WHERE order_count = 0")).toBeGreaterThan(30); // prospects
    expect(await q("SELECT count(*) AS n FROM customer_rollups WHERE order_count >= 5")).toBeGreaterThan(10); // regulars
    expect(await q("SELECT min(placed_at) < '2024-03-01' AND max(placed_at) > '2025-10-01' AS n FROM orders")).toBe(1);
    // Every order is preceded by an add-to-cart, and some carts are abandoned.
    expect(await q("SELECT count(*) AS n FROM events WHERE name = 'Product Added'")).toBeGreaterThan(s.orders);
    // Events sent before the visitor was known joined the customer.
    expect(await q("SELECT count(*) AS n FROM events WHERE anonymous_id IS NOT NULL AND customer_id IS NULL")).toBe(0);
    // Re-loading the same demo adds nothing.
    const again = await loadDemo(t.store, ws, { customers: 600, seed: 42, end });
    expect(again).toMatchObject({ customers: 0, orders: 0, refunds: 0, events: 0 });
  });

  it("runs a year of its loyalty programme: members earn and climb tiers, some redeem, some pay for the plan, some spin", async () => {
    const l = await loadDemoLoyalty(t.store, ws, end);
    expect(l.members).toBeGreaterThan(300);
    expect(l.redemptions).toBeGreaterThan(0);
    expect(l.paidMembers).toBeGreaterThan(0);
    const q = (sql: string) => count(t.store, sql);
    // The points were earned month by month, not all on one day.
    expect(await q("SELECT count(DISTINCT date_trunc('month', created_at)) AS n FROM loyalty_ledger WHERE kind = 'earn'")).toBeGreaterThanOrEqual(12);
    expect(await q("SELECT count(DISTINCT tier) AS n FROM loyalty_accounts")).toBe(2);
    expect(await q("SELECT count(*) AS n FROM loyalty_spins")).toBeGreaterThan(10);
    // Balances are the ledger's sums.
    expect(await q("SELECT count(*) AS n FROM loyalty_accounts a WHERE a.balance <> (SELECT COALESCE(sum(points), 0) FROM loyalty_ledger l WHERE l.customer_id = a.customer_id)")).toBe(0);
  });
});
