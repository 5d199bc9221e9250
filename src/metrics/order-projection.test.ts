/**
 * The order projection stays equal to the database as orders arrive, arrive
 * late, are cancelled and move between customers: after each change, every
 * projected figure is compared with its SQL reference. And the two pieces of
 * arithmetic it relies on (time order, the median) against plain versions.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestStore, type TestStore } from "../../test/helpers.ts";
import { parseInput, SimulatedClock } from "../shared/index.ts";
import { ensureWorkspace, type Workspace } from "../workspaces/index.ts";
import { CustomerRecord, OrderRecord, mergeCustomers, writeCustomers, writeOrders } from "../ingest/index.ts";
import {
  cohortMatrix,
  headlineMetrics,
  headlineSeries,
  OrderProjections,
  projectedCohorts,
  projectedHeadline,
  projectedIntervals,
  projectedLadder,
  projectedRetention,
  projectedSeries,
  purchaseIntervals,
  repeatLadder,
  resolvePeriod,
  retentionSeries,
} from "./index.ts";
import { timeOrder } from "./order-projection.ts";
import { medianOf } from "./projected-figures.ts";

const now = new Date("2026-06-01T00:00:00Z");
const clock = new SimulatedClock(now);

let t: TestStore;
let ws: Workspace;
let other: Workspace;
let projections: OrderProjections;

const order = (id: string, customer: string | null, at: string, eur: number, extra: Record<string, unknown> = {}) =>
  parseInput(OrderRecord, {
    externalId: id,
    ...(customer ? { customer: { externalId: customer } } : {}),
    placedAt: at,
    currency: "EUR",
    lines: [{ productId: "p", quantity: 1, unitPriceMinor: eur * 100 }],
    ...extra,
  });

const write = (w: Workspace, orders: ReturnType<typeof order>[]) => t.store.transaction((tx) => writeOrders(tx, w, orders, "test", now));

async function customerId(externalId: string): Promise<number> {
  const [r] = await t.store.query<{ id: number }>("SELECT id::float8 AS id FROM customers WHERE workspace_id = $1 AND external_id = $2", [ws.id, externalId]);
  if (!r) throw new Error(`no customer ${externalId}`);
  return r.id;
}

/** Every projected figure equals its SQL reference, over several periods. */
async function expectSameAsSql(): Promise<void> {
  const p = await projections.current(ws);
  const periods = [await resolvePeriod(t.store, ws, {}, clock), await resolvePeriod(t.store, ws, { from: "2026-02-10", to: "2026-04-20" }, clock)];
  for (const period of periods) {
    expect(await projectedHeadline(t.store, ws, p, period)).toEqual(await headlineMetrics(t.store, ws, period));
    for (const unit of ["month", "quarter"] as const) {
      expect(projectedSeries(p, period, unit)).toEqual(await headlineSeries(t.store, ws, period, unit));
      expect(projectedRetention(p, period, unit)).toEqual(await retentionSeries(t.store, ws, period, unit));
    }
    expect(projectedCohorts(p, period)).toEqual((await cohortMatrix(t.store, ws, period)).cohorts);
  }
  const intervals = projectedIntervals(p);
  const sqlIntervals = await purchaseIntervals(t.store, ws);
  expect({ ...intervals, meanDays: null }).toEqual({ ...sqlIntervals, meanDays: null });
  expect(intervals.meanDays ?? NaN).toBeCloseTo(sqlIntervals.meanDays ?? NaN, 9);
  const ladder = projectedLadder(p, 5);
  const sql = await repeatLadder(t.store, ws, 5);
  expect(ladder.map((s) => [s.n, s.customers, s.next])).toEqual(sql.map((s) => [s.n, s.customers, s.next]));
  ladder.forEach((s, i) => {
    const m = sql[i]?.medianDaysToNext ?? null;
    if (m === null) expect(s.medianDaysToNext).toBeNull();
    else expect(s.medianDaysToNext).toBeCloseTo(m, 9);
  });
}

beforeAll(async () => {
  t = await openTestStore();
  ws = await ensureWorkspace(t.store, "default", "EUR");
  other = await ensureWorkspace(t.store, "other", "EUR");
  await t.store.transaction((tx) =>
    writeCustomers(tx, ws, ["A", "B", "C"].map((id) => parseInput(CustomerRecord, { externalId: id })), "test", now),
  );
  await write(ws, [
    order("a1", "A", "2026-01-05T10:00:00Z", 100),
    order("a2", "A", "2026-02-05T10:00:00Z", 50),
    order("b1", "B", "2026-01-10T10:00:00Z", 40),
    order("b2", "B", "2026-03-15T10:00:00Z", 60),
    order("c1", "C", "2026-02-01T10:00:00Z", 80),
    order("g1", null, "2026-01-15T10:00:00Z", 25),
  ]);
  // Another shop's orders never show.
  await write(other, [order("x1", "X", "2026-02-01T10:00:00Z", 999), order("x2", "X", "2026-03-01T10:00:00Z", 999)]);
  projections = new OrderProjections(t.store);
}, 60_000);
afterAll(async () => {
  await t.cleanup();
});

describe("the order projection", () => {
  it("loads the workspace's purchases, in time order, in one read or in pages", async () => {
    const p = await projections.current(ws);
    expect(p.orders.length).toBe(6);
    const at = Array.from(p.orders.at.subarray(0, p.orders.length));
    expect(at).toEqual([...at].sort((a, b) => a - b));
    await expectSameAsSql();
    // Pages of two ids: each page is a COPY of its own.
    const paged = await new OrderProjections(t.store, { pageIds: 2 }).current(ws);
    expect(Array.from(paged.orders.id.subarray(0, paged.orders.length))).toEqual(Array.from(p.orders.id.subarray(0, p.orders.length)));
  });

  it("appends new orders, and merges in ones placed before the latest", async () => {
    await write(ws, [order("a3", "A", "2026-04-01T10:00:00Z", 30), order("n1", "N", "2026-04-02T10:00:00Z", 10)]);
    await expectSameAsSql();
    // An import of older history: lands between orders already held.
    await write(ws, [order("c0", "C", "2026-01-20T10:00:00Z", 20), order("b0", "B", "2026-01-10T10:00:00Z", 5), order("g0", null, "2026-02-02T10:00:00Z", 7)]);
    const p = await projections.current(ws);
    expect(p.orders.length).toBe(11);
    await expectSameAsSql();
  });

  it("takes out a cancelled order and re-points orders of merged customers", async () => {
    await write(ws, [order("b2", "B", "2026-03-15T10:00:00Z", 60, { status: "cancelled" })]);
    expect((await projections.current(ws)).orders.length).toBe(10);
    await expectSameAsSql();
    // N turns out to be C: N's order becomes C's (ingest's identity merge).
    const [n, c] = [await customerId("N"), await customerId("C")];
    await t.store.transaction((tx) => mergeCustomers(tx, ws, n, c, now));
    await expectSameAsSql();
    const p = await projections.current(ws);
    const cNumber = p.orders.customer[p.orders.length - 1];
    expect(p.facts().orderCount[cNumber ?? -1]).toBe(3); // c0, c1 and N's n1
  });

  it("sees an order committed after a catch-up that began while it was being written (PostgreSQL: concurrent writers)", async () => {
    if (t.kind !== "postgres") return; // PGlite runs one transaction at a time: there is no such overlap.
    let release = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const slow = t.store.transaction(async (tx) => {
      await writeOrders(tx, ws, [order("late", "A", "2026-05-01T10:00:00Z", 70)], "test", now);
      await tx.query("SELECT 1 AS late_writer_waiting");
      await gate;
    });
    // Wait until the writer holds its transaction id, then catch up while it is open.
    for (let i = 0; i < 100; i++) {
      const [r] = await t.store.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'idle in transaction' AND query LIKE '%late_writer_waiting%'",
      );
      if ((r?.n ?? 0) > 0) break;
      await new Promise((r) => setImmediate(r));
    }
    const before = (await projections.current(ws)).orders.length;
    release();
    await slow;
    expect((await projections.current(ws)).orders.length).toBe(before + 1);
    await expectSameAsSql();
  });
});

describe("a projection that cannot be read", () => {
  it("fails the request that asked, leaves nothing unhandled, and is tried again by the next", async () => {
    const closed = await openTestStore();
    const w = await ensureWorkspace(closed.store, "default", "EUR");
    await closed.cleanup();
    const p = new OrderProjections(closed.store);
    await expect(p.current(w)).rejects.toThrow();
    await expect(p.current(w)).rejects.toThrow();
  });
});

describe("time order and the median", () => {
  it("orders rows by (instant, id) like ORDER BY placed_at, id, ties included", () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const n = 5_000;
    const day = 86_400_000_000;
    // Few distinct instants, so many ties; spread over 40 days.
    const at = Float64Array.from({ length: n }, () => Math.floor(random() * 40) * day + Math.floor(random() * 30) * 1_000_000);
    const id = Float64Array.from({ length: n }, () => Math.floor(random() * 1e9));
    const pick = Int32Array.from({ length: n }, (_, i) => i);
    const expected = Array.from(pick).sort((p, q) => (at[p] ?? 0) - (at[q] ?? 0) || (id[p] ?? 0) - (id[q] ?? 0));
    expect(Array.from(timeOrder(at, id, pick))).toEqual(expected);
    // A day-stamped log: a whole day at one instant, ids in any order.
    const sameAt = new Float64Array(n).fill(3 * day);
    const byId = Array.from(pick).sort((p, q) => (id[p] ?? 0) - (id[q] ?? 0));
    expect(Array.from(timeOrder(sameAt, id, pick))).toEqual(byId);
  });

  it("gives percentile_cont(0.5): the middle value, or the mean of the two middle ones", () => {
    const plain = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      const m = (s.length - 1) / 2;
      return ((s[Math.floor(m)] ?? 0) + (s[Math.ceil(m)] ?? 0)) / 2;
    };
    for (const xs of [[3], [5, 1], [2, 9, 4], [1, 1, 1, 2], [7, 3, 3, 9, 0, 12, 5, 5]]) {
      expect(medianOf(Float64Array.from(xs))).toBe(plain(xs));
    }
  });
});
