/**
 * The order log the fit and the scoring run read (binary COPY into typed
 * arrays), on the real store: what it keeps, what it leaves out, and the
 * order it puts each customer's orders in — against histories written out by
 * hand. Then the scoring run's binary write, read back row by row.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestWorkspace, type TestStore } from "../../test/helpers.ts";
import { ensureWorkspace, type Workspace } from "../workspaces/index.ts";
import { CustomerRecord, OrderRecord, RefundRecord, mergeCustomers, writeCustomers, writeOrders, writeRefunds } from "../ingest/index.ts";
import { parseInput } from "../shared/index.ts";
import { DEFAULT_LIFECYCLE_SETTINGS, orderLogOf, readOrderLog, refreshScores, scoreCustomers, type CustomerHistory } from "./index.ts";
import { dayNumber, dayOf } from "../models/index.ts";

let t: TestStore & { ws: Workspace };
const now = new Date("2025-06-01T00:00:00Z");
beforeAll(async () => {
  t = await openTestWorkspace();
});
afterAll(async () => {
  await t.cleanup();
});

const order = (id: string, customer: string | null, placedAt: string, total: number, extra: Record<string, unknown> = {}) =>
  parseInput(OrderRecord, { externalId: id, ...(customer ? { customer: { externalId: customer } } : {}), placedAt, currency: "EUR", totalMinor: total, ...extra });

describe("the order log", () => {
  it("holds every customer, their purchases oldest first, and nothing else", async () => {
    const { ws, store } = t;
    await store.transaction(async (tx) => {
      await writeCustomers(tx, ws, ["prospect", "ann", "bob"].map((externalId) => parseInput(CustomerRecord, { externalId })), "test", now);
      // Written out of order on purpose: the log orders them by time, then by id.
      await writeOrders(tx, ws, [
        order("a3", "ann", "2025-03-10T09:00:00Z", 3000, { lines: [{ productId: "p", quantity: 2, unitPriceMinor: 1500 }] }),
        order("a1", "ann", "2025-01-05T10:00:00Z", 1000),
        order("a2", "ann", "2025-01-05T10:00:00Z", 500), // same instant as a1: after it (higher id)
        order("a0", "ann", "2024-12-31T23:59:59Z", 700),
        order("ax", "ann", "2025-02-01T00:00:00Z", 9999, { status: "cancelled" }),
        order("ausd", "ann", "2025-02-02T00:00:00Z", 4444, { currency: "USD" }),
        order("afuture", "ann", "2025-06-01T00:00:00Z", 8888), // at `now`: not before it
        order("b1", "bob", "2025-05-01T12:00:00Z", 2500),
        order("guest", null, "2025-05-02T12:00:00Z", 100),
      ], "test", now);
      await writeRefunds(tx, ws, [
        parseInput(RefundRecord, { externalId: "r1", orderExternalId: "b1", customer: { externalId: "bob" }, refundedAt: "2025-05-03T00:00:00Z", currency: "EUR", amountMinor: 400 }),
        // After `now`: neither a refunded order nor refunded money yet.
        parseInput(RefundRecord, { externalId: "r2", orderExternalId: "a0", customer: { externalId: "ann" }, refundedAt: "2025-07-01T00:00:00Z", currency: "EUR", amountMinor: 700 }),
      ], "test", now);
    });
    const log = await readOrderLog(store, ws, now);
    const ids = await store.query<{ id: number; external_id: string }>("SELECT id, external_id FROM customers WHERE workspace_id = $1 ORDER BY id", [ws.id]);
    expect(Array.from(log.customerIds)).toEqual(ids.map((r) => r.id));
    const position = (externalId: string) => ids.findIndex((r) => r.external_id === externalId);
    const ordersOf = (externalId: string) => {
      const i = position(externalId);
      const out = [];
      for (let k = log.start[i] ?? 0; k < (log.start[i + 1] ?? 0); k++) {
        out.push({ day: log.day[k], total: log.totalMinor[k], unit: Number.isNaN(log.unitPriceMinor[k]) ? null : log.unitPriceMinor[k], refunded: log.refunded[k] === 1 });
      }
      return out;
    };
    expect(ordersOf("prospect")).toEqual([]);
    expect(ordersOf("ann")).toEqual([
      { day: dayNumber("2024-12-31"), total: 700, unit: null, refunded: false },
      { day: dayNumber("2025-01-05"), total: 1000, unit: null, refunded: false },
      { day: dayNumber("2025-01-05"), total: 500, unit: null, refunded: false },
      { day: dayNumber("2025-03-10"), total: 3000, unit: 1500, refunded: false },
    ]);
    expect(ordersOf("bob")).toEqual([{ day: dayNumber("2025-05-01"), total: 2500, unit: null, refunded: true }]);
    expect(log.refundedMinor[position("bob")]).toBe(400);
    expect(log.refundedMinor[position("ann")]).toBe(0);
    // Read in pages of order ids (as on PGlite), down to one order a page — lines and refunds found within each page: the same log.
    for (const pageIds of [1, 2, 1000]) expect(await readOrderLog(store, ws, now, { pageIds })).toEqual(log);
    // Without a bound, every order in the currency counts, the one at `now` too.
    const all = await readOrderLog(store, ws);
    expect(all.day.length).toBe(log.day.length + 1);
  });

  it("matches lines and refunds to orders whose ids are spread among another workspace's", async () => {
    const { store } = t;
    const ws = await ensureWorkspace(store, "spread-ids", "EUR");
    const other = await ensureWorkspace(store, "spread-ids-other", "EUR");
    const write = (w: Workspace, orders: ReturnType<typeof order>[]) => store.transaction((tx) => writeOrders(tx, w, orders, "test", now));
    await store.transaction((tx) => writeCustomers(tx, ws, [parseInput(CustomerRecord, { externalId: "cy" })], "test", now));
    await write(ws, [order("s1", "cy", "2025-01-01T00:00:00Z", 1000, { lines: [{ productId: "p", quantity: 4, unitPriceMinor: 250 }] })]);
    // 2,000 orders of another shop in between: this shop's order ids are far apart, not a dense run.
    await write(other, Array.from({ length: 2000 }, (_, k) => order(`o${k}`, null, "2025-01-02T00:00:00Z", 100)));
    await write(ws, [order("s2", "cy", "2025-02-01T00:00:00Z", 3000, { lines: [{ productId: "p", quantity: 1, unitPriceMinor: 3000 }] })]);
    await store.transaction((tx) =>
      writeRefunds(tx, ws, [parseInput(RefundRecord, { externalId: "sr", orderExternalId: "s1", customer: { externalId: "cy" }, refundedAt: "2025-03-01T00:00:00Z", currency: "EUR", amountMinor: 1000 })], "test", now),
    );
    for (const options of [{}, { pageIds: 1000 }]) {
      const log = await readOrderLog(store, ws, now, options);
      expect(Array.from(log.unitPriceMinor)).toEqual([250, 3000]);
      expect(Array.from(log.refunded)).toEqual([1, 0]);
      expect(Array.from(log.totalMinor)).toEqual([1000, 3000]);
    }
  });

  it("scores from the store exactly as from the same histories in memory, and writes every column back", async () => {
    const { ws, store } = t;
    const log = await readOrderLog(store, ws, now);
    const histories: CustomerHistory[] = Array.from(log.customerIds, (id, i) => ({
      customerId: id,
      refundedMinor: log.refundedMinor[i] ?? 0,
      orders: Array.from({ length: (log.start[i + 1] ?? 0) - (log.start[i] ?? 0) }, (_, j) => {
        const k = (log.start[i] ?? 0) + j;
        const unit = log.unitPriceMinor[k] ?? NaN;
        return { day: log.day[k] ?? 0, totalMinor: log.totalMinor[k] ?? 0, refunded: log.refunded[k] === 1, unitPriceMinor: Number.isNaN(unit) ? null : unit };
      }),
    }));
    expect(orderLogOf(histories)).toEqual(log);
    const run = await refreshScores(store, ws, now);
    expect(run.customers).toBe(3);
    const expected = scoreCustomers(histories, null, DEFAULT_LIFECYCLE_SETTINGS, dayOf(now), 100);
    const stored = await store.query<Record<string, unknown>>(
      `SELECT customer_id, model_version, stage, orders, net_revenue_minor, days_since_last_order, rhythm_days, rhythm_own, p_alive,
              next_order_on, clv_minor, rfm_r, rfm_f, rfm_m, rfm_segment, buys_less_often, buys_cheaper, returns_more, big_spender_rare, scored_at
         FROM customer_scores WHERE workspace_id = $1 ORDER BY customer_id`,
      [ws.id],
    );
    expect(stored).toEqual(
      expected.map((s) => ({
        customer_id: s.customerId,
        model_version: null,
        stage: s.stage,
        orders: s.orders,
        net_revenue_minor: s.netRevenueMinor,
        days_since_last_order: s.daysSinceLastOrder,
        rhythm_days: s.rhythmDays,
        rhythm_own: s.rhythmOwn,
        p_alive: null,
        next_order_on: null,
        clv_minor: null,
        rfm_r: s.rfm?.r ?? null,
        rfm_f: s.rfm?.f ?? null,
        rfm_m: s.rfm?.m ?? null,
        rfm_segment: s.rfm?.segment ?? null,
        buys_less_often: s.signals.buysLessOften,
        buys_cheaper: s.signals.buysCheaper,
        returns_more: s.signals.returnsMore,
        big_spender_rare: s.bigSpenderRare,
        scored_at: now,
      })),
    );
    // Hand-checked: Ann bought on three days (Dec 31, Jan 5 twice, Mar 10), Bob once and was refunded 400.
    const ann = stored.find((r) => r.orders === 4);
    expect(ann).toMatchObject({ net_revenue_minor: 5200, days_since_last_order: dayNumber("2025-06-01") - dayNumber("2025-03-10"), rhythm_days: (5 + 64) / 2, rhythm_own: true });
    expect(stored.find((r) => r.orders === 1)).toMatchObject({ net_revenue_minor: 2100, rhythm_own: false });
    expect(stored.find((r) => r.orders === 0)).toMatchObject({ stage: "prospect", rfm_r: null, days_since_last_order: null });
  });

  it("writes the same scores when PGlite rebuilds the primary key after the load, and keeps the key", async () => {
    const { ws, store } = t;
    await refreshScores(store, ws, now);
    const read = () => store.query("SELECT * FROM customer_scores WHERE workspace_id = $1 ORDER BY customer_id", [ws.id]);
    const kept = await read();
    await refreshScores(store, ws, now, undefined, { rebuildKeyFromRows: 1 }); // PGlite: dropped, loaded, rebuilt
    expect(await read()).toEqual(kept);
    const [key] = await store.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_constraint WHERE conrelid = 'customer_scores'::regclass AND conname = 'customer_scores_pkey' AND contype = 'p'");
    expect(key?.n).toBe(1);
    await expect(store.query("INSERT INTO customer_scores SELECT * FROM customer_scores WHERE workspace_id = $1 LIMIT 1", [ws.id])).rejects.toMatchObject({ sqlState: "23505" });
  });

  it("leaves no score for a customer merged away between reading the orders and writing the scores", async () => {
    const { ws, store } = t;
    const log = await readOrderLog(store, ws, now);
    const ids = await store.query<{ id: number; external_id: string }>("SELECT id, external_id FROM customers WHERE workspace_id = $1", [ws.id]);
    const bob = ids.find((r) => r.external_id === "bob")?.id ?? 0;
    const ann = ids.find((r) => r.external_id === "ann")?.id ?? 0;
    await store.transaction((tx) => mergeCustomers(tx, ws, bob, ann, now));
    const run = await refreshScores(store, ws, now, log);
    expect(run.customers).toBe(3); // bob was in the read
    const stored = await store.query<{ customer_id: number }>("SELECT customer_id FROM customer_scores WHERE workspace_id = $1 ORDER BY customer_id", [ws.id]);
    expect(stored.map((r) => r.customer_id)).not.toContain(bob);
    expect(stored).toHaveLength(2);
  });
});
