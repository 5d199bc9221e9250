/**
 * The Loyalty page's figures on the real store (PGlite, or PostgreSQL with
 * DATABASE_URL): a small hand-built programme whose every figure is known.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestStore, type TestStore } from "../../test/helpers.ts";
import { ensureWorkspace, type Workspace } from "../workspaces/index.ts";
import { processMessages, throwIfFailed, writeCustomers } from "../ingest/index.ts";
import { SimulatedClock } from "../shared/index.ts";
import { LoyaltyMembersQuery, createReward, loyaltyMembers, loyaltyOverview, postPoints, putLoyaltySettings, redeemReward, topEarners, type PointsEntry } from "./index.ts";

let t: TestStore;
let ws: Workspace;
const clock = new SimulatedClock(new Date("2025-05-10T12:00:00Z"));
const ids = new Map<string, number>();
const id = (name: string): number => {
  const v = ids.get(name);
  if (v === undefined) throw new Error(`no customer ${name}`);
  return v;
};

let messages = 0;
async function orders(customer: string, n: number) {
  const batch = Array.from({ length: n }, () => {
    const order = `o${++messages}`;
    return {
      type: "track",
      userId: customer,
      event: "Order Completed",
      messageId: `m-${order}`,
      timestamp: clock.now().toISOString(),
      properties: { order_id: order, total: 20, subtotal: 20, currency: "EUR", products: [{ product_id: "p1", price: 20, quantity: 1 }] },
    };
  });
  throwIfFailed(await processMessages(t.store, ws, batch, clock.now()));
}
const post = (...entries: PointsEntry[]) => t.store.transaction((tx) => postPoints(tx, ws, entries, clock.now()));
const at = (iso: string) => clock.set(new Date(iso));

beforeAll(async () => {
  t = await openTestStore();
  ws = await ensureWorkspace(t.store, "report", "EUR");
  // Members: ann, bob, cat. Non-members: dan, eve, gus, and hal (an account, but nothing ever earned).
  const names = ["ann", "bob", "cat", "dan", "eve", "gus", "hal"];
  const written = await t.store.transaction((tx) => writeCustomers(tx, ws, names.map((n) => ({ externalId: n, email: `${n}@example.com` })), "api", clock.now()));
  for (const n of names) ids.set(n, written.ids.get(n) ?? 0);
  await putLoyaltySettings(
    t.store,
    ws,
    { enabled: true, bonuses: [], pointValueMinor: 0.25, tiers: { basis: "spend", windowDays: 365, levels: [{ name: "Silver", threshold: 10_000 }, { name: "Gold", threshold: 50_000 }] } },
    clock.now(),
  );
  await orders("ann", 3);
  await orders("bob", 1);
  await orders("dan", 2);
  await orders("eve", 1);
  await orders("gus", 1);
  await orders("hal", 1);

  // 2025-05: before the 12 months shown; counts in the lifetime figures.
  await post({ customerId: id("ann"), kind: "earn", points: 1000, reason: "order", key: "a1" });
  at("2025-07-03T09:00:00Z");
  await post({ customerId: id("bob"), kind: "earn", points: 200, reason: "order", key: "b1" }, { customerId: id("ann"), kind: "redeem", points: 300, reason: "manual", key: "a2" });
  at("2025-12-20T09:00:00Z");
  await post({ customerId: id("cat"), kind: "earn", points: 500, reason: "order", key: "c1" }, { customerId: id("cat"), kind: "expire", points: 100, reason: "expiry", key: "c2" });
  at("2026-03-15T09:00:00Z");
  await post(
    { customerId: id("ann"), kind: "adjust", points: -50, reason: "correction", key: "a3" },
    { customerId: id("bob"), kind: "clawback", points: 20, reason: "refund", key: "b2" },
    { customerId: id("hal"), kind: "clawback", points: 10, reason: "refund", key: "h1" }, // an account with nothing to take
  );
  at("2026-06-01T09:00:00Z");
  await post({ customerId: id("ann"), kind: "earn", points: 400, reason: "order", key: "a4" });
  const reward = await createReward(t.store, ws, { name: "€0.80 off", kind: "fixed", value: 80, cost: 80 }, clock.now());
  await redeemReward(t.store, ws, "bob", { rewardId: reward.id, key: "r1" }, clock.now());

  // Tiers, paid memberships, referrals and spins, written directly (their own code keeps them up to date).
  await t.store.query("UPDATE loyalty_accounts SET tier = 'Gold' WHERE customer_id = $1", [id("ann")]);
  await t.store.query("UPDATE loyalty_accounts SET tier = 'Silver' WHERE customer_id = ANY($1::bigint[])", [[id("bob"), id("hal")]]);
  const [plan] = await t.store.query<{ id: number }>(
    "INSERT INTO loyalty_plans (workspace_id, name, price_minor, currency, period_unit, period_count, perks, created_at) VALUES ($1, 'Club', 999, 'EUR', 'year', 1, '[]', $2) RETURNING id",
    [ws.id, clock.now()],
  );
  for (const [who, status] of [["ann", "active"], ["bob", "lapsed"], ["dan", "active"]] as const) {
    await t.store.query(
      "INSERT INTO loyalty_memberships (workspace_id, customer_id, plan_id, status, started_at, period_end, updated_at) VALUES ($1, $2, $3, $4, $5, $5, $5)",
      [ws.id, id(who), plan?.id, status, clock.now()],
    );
  }
  for (const [referrer, referee, status] of [["ann", "dan", "rewarded"], ["ann", "eve", "pending"], ["bob", "gus", "refused"]] as const) {
    await t.store.query("INSERT INTO loyalty_referrals (workspace_id, referrer_id, referee_id, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)", [ws.id, id(referrer), id(referee), status, clock.now()]);
  }
  for (const [who, period, prize, label, code, points] of [
    ["cat", "w1", "ten", "10 % off", "FID-AAAAA-BBBBB", null],
    ["cat", "w2", "none", "No luck", null, null],
    ["ann", "w2", "fifty", "50 points", null, 50],
  ] as const) {
    await t.store.query(
      "INSERT INTO loyalty_spins (workspace_id, customer_id, period, prize_id, label, kind, draw, won, code, points, idempotency_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10, $11)",
      [ws.id, id(who), period, prize, label, prize === "none" ? "none" : points !== null ? "points" : "fixed", prize !== "none", code, points, `${who}-${period}`, clock.now()],
    );
  }
  at("2026-06-15T12:00:00Z");
});
afterAll(async () => {
  await t.cleanup();
});

describe("loyaltyOverview", () => {
  it("adds up the members, the points outstanding and their liability, the lifetime figures and the redemption rate", async () => {
    const o = await loyaltyOverview(t.store, ws, clock.now());
    // Balances: ann 1000 − 300 − 50 + 400 = 1050; bob 200 − 20 − 80 = 100; cat 500 − 100 = 400; hal 0.
    expect(o).toMatchObject({ currency: "EUR", enabled: true, members: 3, pointsOutstanding: 1550, pointValueMinor: 0.25, rewardsRedeemed: 1 });
    expect(o.liabilityMinor).toBe(388); // 1550 × 0.25 = 387.5, rounded to whole cents
    expect(o.lifetime).toEqual({ earned: 2100, spent: 380, expired: 100, clawedBack: 20, adjustedDown: 50 });
    expect(o.redemptionRate).toBeCloseTo(380 / 2100, 12);
  });

  it("gives the last 12 months of points earned, redeemed and expired, empty months as zeros", async () => {
    const o = await loyaltyOverview(t.store, ws, clock.now());
    expect(o.monthly.map((m) => m.month)).toEqual(["2025-07", "2025-08", "2025-09", "2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]);
    const nonZero = o.monthly.filter((m) => m.earned + m.redeemed + m.expired > 0);
    expect(nonZero).toEqual([
      { month: "2025-07", earned: 200, redeemed: 300, expired: 0 },
      { month: "2025-12", earned: 500, redeemed: 0, expired: 100 },
      { month: "2026-06", earned: 400, redeemed: 80, expired: 0 },
    ]);
  });

  it("counts members by tier, memberships and referrals by status, spins and prizes won", async () => {
    const o = await loyaltyOverview(t.store, ws, clock.now());
    // hal holds Silver but never earned: not a member.
    expect(o.tiers).toEqual([
      { tier: "Silver", members: 1 },
      { tier: "Gold", members: 1 },
      { tier: null, members: 1 },
    ]);
    expect(o.memberships).toEqual({ active: 2, lapsed: 1, ended: 0 });
    expect(o.referrals).toEqual({ pending: 1, qualified: 0, rewarded: 1, refused: 1 });
    expect(o.wheel.spins).toBe(3);
    expect(o.wheel.prizesWon).toBe(2);
    expect(o.wheel.byPrize.map((p) => [p.prizeId, p.spins, p.won])).toEqual([
      ["fifty", 1, 1],
      ["none", 1, 0],
      ["ten", 1, 1],
    ]);
  });

  it("compares the repeat rate of members and non-members among customers with an order", async () => {
    const o = await loyaltyOverview(t.store, ws, clock.now());
    // Members with an order: ann (3), bob (1); cat has none. Non-members: dan (2), eve, gus, hal (1 each).
    expect(o.membersVsNonMembers.members).toEqual({ customers: 2, repeatCustomers: 1, repeatRate: 0.5 });
    expect(o.membersVsNonMembers.nonMembers).toEqual({ customers: 4, repeatCustomers: 1, repeatRate: 0.25 });
    expect(o.membersVsNonMembers.note).toMatch(/not the programme's effect/);
  });

  it("lists the top earners by lifetime points, and nothing for a programme without members", async () => {
    expect((await topEarners(t.store, ws, 10)).map((m) => [m.externalId, m.earned, m.balance, m.spent, m.tier])).toEqual([
      ["ann", 1400, 1050, 300, "Gold"],
      ["cat", 500, 400, 0, null],
      ["bob", 200, 100, 80, "Silver"],
    ]);
    expect((await topEarners(t.store, ws, 1)).map((m) => m.externalId)).toEqual(["ann"]);
    expect((await loyaltyOverview(t.store, ws, clock.now())).topEarners.map((m) => m.externalId)).toEqual(["ann", "cat", "bob"]);
    const empty = await ensureWorkspace(t.store, "report-empty", "USD");
    const o = await loyaltyOverview(t.store, empty, clock.now());
    expect(o).toMatchObject({ currency: "USD", enabled: false, members: 0, pointsOutstanding: 0, liabilityMinor: 0, redemptionRate: null, rewardsRedeemed: 0, tiers: [], topEarners: [] });
    expect(o.monthly).toHaveLength(12);
    expect(o.membersVsNonMembers.members.repeatRate).toBeNull();
  });
});

describe("loyaltyMembers", () => {
  it("sorts and pages the members, counting them all", async () => {
    const page = async (q: Record<string, unknown>) => {
      const r = await loyaltyMembers(t.store, ws, LoyaltyMembersQuery.parse(q));
      return { total: r.total, ids: r.items.map((m) => m.externalId) };
    };
    expect(await page({})).toEqual({ total: 3, ids: ["ann", "cat", "bob"] }); // by balance, highest first
    expect(await page({ sort: "spent", order: "asc" })).toEqual({ total: 3, ids: ["cat", "bob", "ann"] });
    expect(await page({ sort: "earned", limit: "1", offset: "1" })).toEqual({ total: 3, ids: ["cat"] });
    expect(await page({ sort: "lastActivity" })).toEqual({ total: 3, ids: ["ann", "bob", "cat"] });
    const [ann] = (await loyaltyMembers(t.store, ws, LoyaltyMembersQuery.parse({ limit: 1 }))).items;
    expect(ann).toEqual({ externalId: "ann", email: "ann@example.com", balance: 1050, earned: 1400, spent: 300, tier: "Gold", lastActivityAt: "2026-06-01T09:00:00.000Z" });
  });
});
