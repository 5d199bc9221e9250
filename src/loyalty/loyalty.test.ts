/**
 * The points ledger and earning, on PGlite and PostgreSQL: balances derived
 * and never negative, idempotent keys, parallel redemptions serialised,
 * earning on orders through the real tracking path, clawback on refunds,
 * bonuses, campaigns, the return window.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestStore, type TestStore } from "../../test/helpers.ts";
import { loyaltyShop, orderMessage, refused } from "./test-shop.ts";
import { AppError } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { previewSegment } from "../segments/index.ts";
import { createReward, creditPoints, expirePoints, ledgerOf, putLoyaltySettings, redeemReward } from "./index.ts";

let t: TestStore;
beforeAll(async () => {
  t = await openTestStore();
});
afterAll(async () => {
  await t.cleanup();
});

const shop = (start?: string) => loyaltyShop(t, start);

describe("the ledger", () => {
  it("derives the balance from entries, never below zero, and refuses bad entries without changing anything", async () => {
    const s = await shop();
    const ann = await s.customer("ann");
    await s.post({ customerId: ann, kind: "earn", points: 500, reason: "welcome", key: "k1" });
    await s.post({ customerId: ann, kind: "redeem", points: 200, reason: "reward", key: "k2" });
    await s.post({ customerId: ann, kind: "adjust", points: -50, reason: "correction", key: "k3" });
    expect(await s.balance(ann)).toBe(250);
    const tooMuch = await refused(s.post({ customerId: ann, kind: "redeem", points: 251, reason: "reward", key: "k4" }));
    expect(tooMuch.code).toBe("unprocessable");
    expect(tooMuch.issues[0]?.field).toBe("points");
    expect((await refused(s.post({ customerId: ann, kind: "earn", points: -5, reason: "x", key: "k5" }))).issues[0]?.field).toBe("entries.0.points");
    expect((await refused(s.post({ customerId: ann, kind: "redeem", points: 1.5, reason: "x", key: "k6" }))).code).toBe("invalid_input");
    expect((await refused(s.post({ customerId: ann, kind: "adjust", points: -1000, reason: "x", key: "k7" }))).code).toBe("unprocessable");
    expect((await refused(s.post({ customerId: 999_999_999, kind: "earn", points: 5, reason: "x", key: "k8" }))).code).toBe("not_found");
    expect(await s.balance(ann)).toBe(250);
    // An expiry or a clawback larger than the balance takes what is left.
    const [taken] = await s.post({ customerId: ann, kind: "clawback", points: 400, reason: "refund", key: "k9" });
    expect(taken).toMatchObject({ points: -250, balanceAfter: 0, created: true });
    await s.consistent(ann);
    const history = await ledgerOf(t.store, s.ws, ann);
    expect(history.map((h) => [h.kind, h.points, h.balanceAfter])).toEqual([
      ["clawback", -250, 0],
      ["adjust", -50, 250],
      ["redeem", -200, 300],
      ["earn", 500, 500],
    ]);
    const events = await t.store.query<{ name: string }>("SELECT name FROM events WHERE workspace_id = $1 AND type = 'loyalty' ORDER BY id", [s.ws.id]);
    expect(events.map((e) => e.name)).toEqual(["Points Earned", "Points Redeemed", "Points Adjusted", "Points Clawed Back"]);
  });

  it("writes a key once: a repeat answers what the first did; the same key for another entry is refused", async () => {
    const s = await shop();
    const ann = await s.customer("ann");
    const [first] = await s.post({ customerId: ann, kind: "earn", points: 100, reason: "order", key: "order:1" });
    const [again] = await s.post({ customerId: ann, kind: "earn", points: 100, reason: "order", key: "order:1" });
    expect(first).toMatchObject({ created: true, balanceAfter: 100 });
    expect(again).toMatchObject({ created: false, points: 100, balanceAfter: 100 });
    const inOne = await s.post({ customerId: ann, kind: "earn", points: 7, reason: "x", key: "dup" }, { customerId: ann, kind: "earn", points: 7, reason: "x", key: "dup" });
    expect(inOne.map((p) => p.created)).toEqual([true, false]);
    expect((await refused(s.post({ customerId: ann, kind: "redeem", points: 10, reason: "x", key: "order:1" }))).code).toBe("conflict");
    expect(await s.balance(ann)).toBe(107);
    await s.consistent(ann);
  });

  it("serialises 50 parallel redemptions of one customer: exactly the balance is spent", async () => {
    const s = await shop();
    const ann = await s.customer("ann");
    await s.post({ customerId: ann, kind: "earn", points: 1000, reason: "seed", key: "seed" });
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => s.post({ customerId: ann, kind: "redeem", points: 100, reason: "reward", key: `r${i}` })));
    const ok = results.filter((r) => r.status === "fulfilled");
    const failed = results.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
    expect(ok).toHaveLength(10);
    expect(failed).toHaveLength(40);
    expect(failed.every((e) => e instanceof AppError && e.code === "unprocessable")).toBe(true);
    expect(await s.balance(ann)).toBe(0);
    await s.consistent(ann);
  });

  it("credits once when the same request is retried 20 times at once", async () => {
    const s = await shop();
    const ann = await s.customer("ann");
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => s.post({ customerId: ann, kind: "earn", points: 250, reason: "order", key: "order:retried" })));
    expect(results.every((r) => r.status === "fulfilled")).toBe(true);
    expect(await s.balance(ann)).toBe(250);
    const [n] = await t.store.query<{ n: number }>("SELECT count(*)::int AS n FROM loyalty_ledger WHERE customer_id = $1", [ann]);
    expect(n?.n).toBe(1);
  });
});

describe("rewards", () => {
  it("redeems for a unique code, answers the same code to a retry, and refuses a short balance, the limit and a bad reward, changing nothing", async () => {
    const s = await shop();
    const ann = await s.customer("ann");
    await s.post({ customerId: ann, kind: "earn", points: 1000, reason: "seed", key: "seed" });
    const fiver = await createReward(t.store, s.ws, { name: "€5 off", kind: "fixed", value: 500, cost: 400, perCustomerLimit: 2 }, s.clock.now());
    const big = await createReward(t.store, s.ws, { name: "Free kettle", kind: "freeProduct", productId: "kettle", cost: 5000 }, s.clock.now());
    const first = await redeemReward(t.store, s.ws, "ann", { rewardId: fiver.id, key: "r1" }, s.clock.now());
    expect(first).toMatchObject({ created: true, points: 400, balanceAfter: 600 });
    expect(first.code).toMatch(/^FID-[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}$/);
    const retry = await redeemReward(t.store, s.ws, "ann", { rewardId: fiver.id, key: "r1" }, s.clock.now());
    expect(retry).toMatchObject({ created: false, code: first.code, balanceAfter: 600 });
    const second = await redeemReward(t.store, s.ws, "ann", { rewardId: fiver.id, key: "r2" }, s.clock.now());
    expect(second.code).not.toBe(first.code);
    const limit = await refused(redeemReward(t.store, s.ws, "ann", { rewardId: fiver.id, key: "r3" }, s.clock.now()));
    expect(limit).toMatchObject({ code: "conflict" });
    expect(limit.issues[0]?.field).toBe("rewardId");
    const short = await refused(redeemReward(t.store, s.ws, "ann", { rewardId: big.id, key: "r4" }, s.clock.now()));
    expect(short.code).toBe("unprocessable");
    expect((await refused(redeemReward(t.store, s.ws, "ann", { rewardId: 999_999, key: "r5" }, s.clock.now()))).code).toBe("not_found");
    expect((await refused(redeemReward(t.store, s.ws, "ann", { rewardId: fiver.id }, s.clock.now()))).issues[0]?.field).toBe("key");
    expect((await refused(createReward(t.store, s.ws, { name: "Broken", kind: "percent", cost: 10 }, s.clock.now()))).issues[0]?.field).toBe("value");
    expect((await refused(createReward(t.store, s.ws, { name: "Broken", kind: "percent", value: 150, cost: 10 }, s.clock.now()))).issues[0]?.field).toBe("value");
    expect(await s.balance(ann)).toBe(200);
    const [n] = await t.store.query<{ n: number }>("SELECT count(*)::int AS n FROM loyalty_redemptions WHERE customer_id = $1", [ann]);
    expect(n?.n).toBe(2);
    await s.consistent(ann);
  });

  it("lets only one of many parallel redemptions through a limit of one", async () => {
    const s = await shop();
    const ann = await s.customer("ann");
    await s.post({ customerId: ann, kind: "earn", points: 10_000, reason: "seed", key: "seed" });
    const once = await createReward(t.store, s.ws, { name: "Welcome gift", kind: "freeShipping", cost: 100, perCustomerLimit: 1 }, s.clock.now());
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => redeemReward(t.store, s.ws, "ann", { rewardId: once.id, key: `k${i}` }, s.clock.now())));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(await s.balance(ann)).toBe(9_900);
    await s.consistent(ann);
  });

  it("queues the code to the shop's webhook through the outbox when one is set", async () => {
    const s = await shop();
    const ann = await s.customer("ann");
    await putLoyaltySettings(t.store, s.ws, { codeWebhookUrl: "https://shop.example/discount-codes" }, s.clock.now());
    await s.post({ customerId: ann, kind: "earn", points: 500, reason: "seed", key: "seed" });
    const r = await createReward(t.store, s.ws, { name: "10 %", kind: "percent", value: 10, cost: 300 }, s.clock.now());
    const red = await redeemReward(t.store, s.ws, "ann", { rewardId: r.id, key: "x" }, s.clock.now());
    const [m] = await t.store.query<{ channel: string; content: Record<string, unknown> }>("SELECT channel, content FROM messages WHERE workspace_id = $1", [s.ws.id]);
    expect(m).toMatchObject({ channel: "webhook", content: { url: "https://shop.example/discount-codes", code: red.code } });
  });
});

describe("expiry", () => {
  const D = 86_400_000;
  const reminders = async (ws: Workspace) =>
    (await t.store.query<{ points: number; on: string }>("SELECT (properties ->> 'points')::int AS points, properties ->> 'expiresOn' AS on FROM events WHERE workspace_id = $1 AND name = 'Points Expiring' ORDER BY id", [ws.id])).map((r) => [r.points, r.on]);

  it("inactivity: reminds once before, then expires the whole balance; activity starts the clock again", async () => {
    const s = await shop("2026-01-01T12:00:00Z");
    await putLoyaltySettings(t.store, s.ws, { enabled: true, bonuses: [], expiry: { mode: "inactivity", days: 365, remindDaysBefore: 30 } }, s.clock.now());
    const ann = await s.customer("ann");
    const bob = await s.customer("bob");
    await s.post({ customerId: ann, kind: "earn", points: 500, reason: "x", key: "a1" }, { customerId: bob, kind: "earn", points: 300, reason: "x", key: "b1" });
    s.clock.advance(200 * D);
    await s.post({ customerId: bob, kind: "redeem", points: 100, reason: "reward", key: "b2" }); // bob is active again
    for (let day = 0; day < 170; day += 1) {
      s.clock.advance(D);
      await expirePoints(t.store, s.ws, s.clock.now());
    }
    // Day 370: ann's 500 expired on day 365, reminded on day 335; bob's clock restarted on day 200.
    expect(await s.balance(ann)).toBe(0);
    expect(await s.balance(bob)).toBe(200);
    expect(await reminders(s.ws)).toEqual([[500, "2027-01-01"]]);
    await s.consistent(ann);
  });

  it("age: points expire a year after they were earned, the oldest spent first", async () => {
    const s = await shop("2026-01-01T12:00:00Z");
    await putLoyaltySettings(t.store, s.ws, { enabled: true, bonuses: [], expiry: { mode: "age", days: 365, remindDaysBefore: 10 } }, s.clock.now());
    const cat = await s.customer("cat");
    await s.post({ customerId: cat, kind: "earn", points: 100, reason: "x", key: "c1" }); // day 0
    s.clock.advance(100 * D);
    await s.post({ customerId: cat, kind: "earn", points: 50, reason: "x", key: "c2" }); // day 100
    s.clock.advance(100 * D);
    await s.post({ customerId: cat, kind: "redeem", points: 30, reason: "reward", key: "c3" }); // spends the oldest first
    for (let day = 200; day < 470; day += 1) {
      s.clock.advance(D);
      await expirePoints(t.store, s.ws, s.clock.now());
      // The clock is at day + 1 after each step.
      if (day === 363) expect(await s.balance(cat)).toBe(120);
      if (day === 364) expect(await s.balance(cat)).toBe(50); // the 70 left of the first 100 went on day 365
    }
    expect(await s.balance(cat)).toBe(0); // the 50 went on day 465
    // Each reminder ten days before: on day 355 for day 365, on day 455 for day 465.
    expect(await reminders(s.ws)).toEqual([
      [70, "2027-01-01"],
      [50, "2027-04-11"],
    ]);
    await s.consistent(cat);
  });
});

describe("segments", () => {
  it("can select customers by points balance", async () => {
    const s = await shop();
    const ann = await s.customer("ann");
    const bob = await s.customer("bob");
    await s.post({ customerId: ann, kind: "earn", points: 600, reason: "x", key: "a" }, { customerId: bob, kind: "earn", points: 50, reason: "x", key: "b" });
    const p = await previewSegment(t.store, s.ws, { rule: { field: "loyaltyPoints", op: "gte", value: 500 }, sample: 5 }, s.clock.now());
    expect(p.count).toBe(1);
    expect(p.sample.map((m) => m.externalId)).toEqual(["ann"]);
  });
});

describe("earning", () => {
  const order = orderMessage;

  it("credits orders placed since the start (net of discounts), claws back refunds pro rata, and gives bonuses once", async () => {
    const s = await shop();
    await s.customer("ann");
    await s.track(order("ann", "before", 80)); // before the programme: earns nothing
    s.clock.advance(3_600_000);
    await putLoyaltySettings(t.store, s.ws, { enabled: true, pointsPerUnit: 2, bonuses: [{ event: "Signed Up", points: 100 }, { event: "Review Submitted", points: 30, once: "perYear" }] }, s.clock.now());
    s.clock.advance(3_600_000);
    await s.track(order("ann", "a1", 45.5, { discount: 5.5 }));
    await s.track({ type: "track", userId: "ann", event: "Signed Up" }, { type: "track", userId: "ann", event: "Signed Up" });
    await s.track({ type: "track", userId: "ann", event: "Review Submitted" }, { type: "track", userId: "ann", event: "Review Submitted" });
    s.clock.advance(60_000);
    const first = await creditPoints(t.store, s.ws, s.clock.now());
    const [ann] = await t.store.query<{ id: number }>("SELECT id FROM customers WHERE workspace_id = $1 AND external_id = 'ann'", [s.ws.id]);
    const id = Number(ann?.id);
    // 45.50 subtotal − 5.50 discount = 40.00 → 80 points; + 100 sign-up + 30 review.
    expect(first).toMatchObject({ orders: 1, bonuses: 2, points: 210 });
    expect(await s.balance(id)).toBe(210);
    expect(await creditPoints(t.store, s.ws, s.clock.now())).toMatchObject({ orders: 0, bonuses: 0, points: 0 });
    // A refund of a quarter of the order takes back a quarter of its points.
    s.clock.advance(86_400_000);
    await s.track({ type: "track", userId: "ann", event: "Order Refunded", properties: { order_id: "a1", total: 10, currency: "EUR" } });
    expect(await creditPoints(t.store, s.ws, s.clock.now())).toMatchObject({ refunds: 1, points: -20 });
    expect(await s.balance(id)).toBe(190);
    await s.consistent(id);
  });

  it("waits for the return window, and nets out what was refunded within it", async () => {
    const s = await shop();
    await s.customer("bob");
    await putLoyaltySettings(t.store, s.ws, { enabled: true, pointsPerUnit: 1, creditAfterDays: 14, bonuses: [] }, s.clock.now());
    s.clock.advance(60_000);
    await s.track(order("bob", "b1", 100));
    await creditPoints(t.store, s.ws, s.clock.now());
    const [bob] = await t.store.query<{ id: number }>("SELECT id FROM customers WHERE workspace_id = $1 AND external_id = 'bob'", [s.ws.id]);
    const id = Number(bob?.id);
    expect(await s.balance(id)).toBe(0);
    s.clock.advance(5 * 86_400_000);
    await s.track({ type: "track", userId: "bob", event: "Order Refunded", properties: { order_id: "b1", total: 30, currency: "EUR" } });
    for (let day = 0; day < 10; day += 1) {
      s.clock.advance(86_400_000);
      await creditPoints(t.store, s.ws, s.clock.now());
    }
    expect(await s.balance(id)).toBe(70); // credited on day 14, net of the refund, and not clawed back again
    await s.consistent(id);
  });

  it("multiplies during a campaign", async () => {
    const s = await shop("2026-11-27T10:00:00Z");
    await s.customer("cat");
    await putLoyaltySettings(t.store, s.ws, { enabled: true, pointsPerUnit: 1, bonuses: [], campaigns: [{ name: "Black Friday", multiplier: 3, from: "2026-11-27", to: "2026-11-28" }] }, s.clock.now());
    s.clock.advance(60_000);
    await s.track(order("cat", "c1", 20));
    s.clock.advance(2 * 86_400_000);
    await s.track(order("cat", "c2", 20));
    await creditPoints(t.store, s.ws, s.clock.now());
    const [cat] = await t.store.query<{ id: number }>("SELECT id FROM customers WHERE workspace_id = $1 AND external_id = 'cat'", [s.ws.id]);
    expect(await s.balance(Number(cat?.id))).toBe(60 + 20);
  });

  it("credits nothing while the programme is off", async () => {
    const s = await shop();
    await s.customer("dan");
    await s.track(order("dan", "d1", 50));
    expect(await creditPoints(t.store, s.ws, s.clock.now())).toMatchObject({ orders: 0, points: 0 });
  });
});
