/**
 * Live segments as scenarios: submit events through the real tracking path →
 * move the simulated clock → recompute → assert members and the
 * Segment Entered / Exited events. Runs on PGlite and on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { count, openTestStore, type TestStore } from "../../test/helpers.ts";
import { ensureWorkspace, type Workspace } from "../workspaces/index.ts";
import { processMessages, throwIfFailed } from "../ingest/index.ts";
import { SimulatedClock, sha256Hex } from "../shared/index.ts";
import {
  createSegment,
  csvField,
  deleteSegment,
  ensureBuiltInSegments,
  evaluateSegments,
  exportSegment,
  listMembers,
  listSegments,
  normalisePhone,
  pendingChanges,
  previewSegment,
  processCustomerChanges,
  segmentHistory,
  updateSegment,
  type Segment,
} from "./index.ts";

const DAY = 86_400_000;
let t: TestStore;
let ws: Workspace;
const clock = new SimulatedClock(new Date("2026-03-10T12:00:00Z"));
let n = 0;

async function send(...messages: Record<string, unknown>[]) {
  const r = await processMessages(t.store, ws, messages.map((m) => ({ messageId: `m${++n}`, timestamp: clock.now().toISOString(), ...m })), clock.now());
  throwIfFailed(r);
}
const order = (userId: string, id: string, total: number, products: { price: number; quantity: number; category?: string }[] = [{ price: total, quantity: 1 }]) =>
  send({ type: "track", userId, event: "Order Completed", properties: { order_id: id, total, currency: "EUR", products: products.map((p, i) => ({ product_id: `p${i}`, ...p })) } });

/** Applies what changed since the last call, as the worker does. */
async function settle() {
  while ((await processCustomerChanges(t.store, ws, clock.now())).customers > 0);
}

async function members(seg: Segment): Promise<string[]> {
  const page = await listMembers(t.store, ws, seg.id, { limit: 1000 });
  return page.items.map((m) => m.externalId).sort();
}

async function logged(externalId: string): Promise<string[]> {
  const rows = await t.store.query<{ name: string; segment: string; at: Date }>(
    `SELECT e.name, e.properties->>'segmentName' AS segment, e.occurred_at AS at FROM events e JOIN customers c ON c.id = e.customer_id
      WHERE c.workspace_id = $1 AND c.external_id = $2 AND e.type = 'segment' ORDER BY e.id`,
    [ws.id, externalId],
  );
  return rows.map((r) => `${r.name}: ${r.segment} @ ${r.at.toISOString().slice(0, 10)}`);
}

const make = (name: string, rule: unknown) => createSegment(t.store, ws, { name, rule }, clock.now());

beforeAll(async () => {
  t = await openTestStore();
  ws = await ensureWorkspace(t.store, "shop", "EUR");
}, 60_000);
afterAll(async () => {
  await t.cleanup();
});

describe("a shop's week, segment by segment", () => {
  let cart: Segment;
  let repeat: Segment;
  let lapsed: Segment;
  let repeatActive: Segment;

  it("an anonymous cart joins the customer on identify, and the order takes them out again", async () => {
    cart = await make("Abandoned cart", { event: "Product Added", window: { lastDays: 1 }, noOrderSince: true });
    repeat = await make("Repeat buyers", { field: "orderCount", op: "gte", value: 2 });
    lapsed = await make("No order for 90 days", { field: "daysSinceLastOrder", op: "gte", value: 90 });
    repeatActive = await make("Repeat and active", { all: [{ segment: repeat.id }, { not: { segment: lapsed.id } }] });
    expect(repeatActive.dependsOn).toEqual([repeat.id, lapsed.id]);

    await send({ type: "track", anonymousId: "anon-1", event: "Product Added", properties: { product_id: "p1", price: 30 } });
    await settle();
    expect(await members(cart)).toEqual([]);

    clock.advance(10 * 60_000);
    await send({ type: "identify", anonymousId: "anon-1", userId: "u1", traits: { email: "U1@Example.com" } });
    await settle();
    expect(await members(cart)).toEqual(["u1"]);

    clock.advance(60 * 60_000);
    await order("u1", "o1", 30);
    await settle();
    expect(await members(cart)).toEqual([]);
    expect(await logged("u1")).toEqual(["Segment Entered: Abandoned cart @ 2026-03-10", "Segment Exited: Abandoned cart @ 2026-03-10"]);
  });

  it("a cart left for more than a day leaves the segment with no new data", async () => {
    await send({ type: "track", userId: "u9", event: "Product Added", properties: { product_id: "p2" } });
    await settle();
    expect(await members(cart)).toEqual(["u9"]);
    clock.advance(DAY - 60_000);
    await evaluateSegments(t.store, ws, clock.now());
    expect(await members(cart)).toEqual(["u9"]);
    clock.advance(2 * 60_000);
    await evaluateSegments(t.store, ws, clock.now());
    expect(await members(cart)).toEqual([]);
  });

  it("a second order makes a repeat buyer; 90 days without one makes them lapsed, on day 90 exactly", async () => {
    clock.set(new Date("2026-03-15T12:00:00Z"));
    await order("u1", "o2", 45);
    await settle();
    expect(await members(repeat)).toEqual(["u1"]);
    expect(await members(repeatActive)).toEqual(["u1"]);

    clock.set(new Date(Date.parse("2026-03-15T12:00:00Z") + 90 * DAY - 1000));
    await evaluateSegments(t.store, ws, clock.now());
    expect(await members(lapsed)).toEqual([]);
    clock.advance(1000);
    await evaluateSegments(t.store, ws, clock.now());
    expect(await members(lapsed)).toEqual(["u1"]);
    expect(await members(repeatActive)).toEqual([]);
    const log = await logged("u1");
    expect(log.slice(-2)).toEqual(["Segment Entered: No order for 90 days @ 2026-06-13", "Segment Exited: Repeat and active @ 2026-06-13"]);
  });

  it("an identity merge changes membership: two one-order customers become one repeat buyer", async () => {
    await order("u2", "o3", 20);
    await order("u3", "o4", 25);
    await settle();
    expect(await members(repeat)).toEqual(["u1"]);
    const [u3] = await t.store.query<{ id: number }>("SELECT id FROM customers WHERE workspace_id = $1 AND external_id = 'u3'", [ws.id]);
    await send({ type: "alias", previousId: "u3", userId: "u2" });
    // The merged-away customer's stays went with them (the table has no foreign key: migration 017).
    expect(await count(t.store, "SELECT count(*) AS n FROM segment_memberships WHERE customer_id = $1", [u3?.id])).toBe(0);
    await settle();
    expect(await members(repeat)).toEqual(["u1", "u2"]);
    expect(await members(repeatActive)).toEqual(["u2"]);
  });

  it("a stay written for a customer merged away meanwhile is closed by the worker's next pass", async () => {
    await order("u6", "o6", 30);
    await order("u7", "o7", 35);
    await settle();
    const [u7] = await t.store.query<{ id: number }>("SELECT id FROM customers WHERE workspace_id = $1 AND external_id = 'u7'", [ws.id]);
    await send({ type: "alias", previousId: "u7", userId: "u6" });
    // What an evaluation that had read u7 before the merge committed would still write.
    await t.store.query("INSERT INTO segment_memberships (workspace_id, segment_id, customer_id, entered_at) VALUES ($1, $2, $3, $4)", [ws.id, repeat.id, u7?.id, clock.now()]);
    await settle();
    expect(await count(t.store, "SELECT count(*) AS n FROM segment_memberships WHERE customer_id = $1 AND exited_at IS NULL", [u7?.id])).toBe(0);
    expect(await members(repeat)).toContain("u6");
  });

  it("a customer who leaves, comes back and leaves again within one instant keeps every stay, even those of no length", async () => {
    const flip = await make("Flip-flop", { field: "trait.mood", op: "eq", value: "in" });
    const mood = async (v: string) => {
      await send({ type: "identify", userId: "f1", traits: { mood: v } });
      await settle();
    };
    await mood("in");
    clock.advance(60_000);
    const at = clock.now().toISOString();
    // Five moves at the same instant: the stays opened at it close at it too.
    for (const v of ["out", "in", "out", "in", "out"]) await mood(v);
    expect(await members(flip)).toEqual([]);
    const stays = await t.store.query<{ entered_at: Date; exited_at: Date | null }>(
      "SELECT entered_at, exited_at FROM segment_memberships WHERE segment_id = $1 ORDER BY entered_at, exited_at",
      [flip.id],
    );
    expect(stays.map((s) => s.exited_at?.toISOString())).toEqual([at, at, at]);
    expect(stays.slice(1).map((s) => s.entered_at.toISOString())).toEqual([at, at]);
    await mood("in");
    expect(await members(flip)).toEqual(["f1"]);
    clock.advance(60_000);
  });

  it("marks every change in the writing transaction, and an evaluation of everyone clears the marks", async () => {
    await send({ type: "identify", userId: "u5", traits: { plan: "pro" } });
    expect(await pendingChanges(t.store, ws)).toBeGreaterThan(0);
    await evaluateSegments(t.store, ws, clock.now());
    expect(await pendingChanges(t.store, ws)).toBe(0);
    // A rolled-back write leaves no mark.
    await t.store.transaction(async (tx) => {
      await tx.query("UPDATE customers SET first_name = 'X' WHERE workspace_id = $1 AND external_id = 'u5'", [ws.id]);
      throw new Error("rolled back");
    }).catch(() => undefined);
    expect(await pendingChanges(t.store, ws)).toBe(0);
  });

  it("keeps the history: size over time and every stay", async () => {
    const h = await segmentHistory(t.store, ws, cart.id, { days: 120 }, clock.now());
    const day = (d: string) => h.days.find((x) => x.day === d);
    expect(day("2026-03-10")).toMatchObject({ entered: 2, exited: 1, size: 1 });
    expect(day("2026-03-11")).toMatchObject({ entered: 0, exited: 1, size: 0 });
    // Every day's size is the stays entered before its end and not left by then.
    for (const d of h.days) {
      const end = new Date(Date.parse(`${d.day}T00:00:00Z`) + DAY);
      const [r] = await t.store.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM segment_memberships WHERE segment_id = $1 AND entered_at < $2 AND (exited_at IS NULL OR exited_at >= $2)",
        [cart.id, end],
      );
      expect(d.size, d.day).toBe(r?.n);
    }
    const stays = await t.store.query<{ n: number }>("SELECT count(*)::int AS n FROM segment_memberships WHERE segment_id = $1", [cart.id]);
    expect(stays[0]?.n).toBe(2);
  });

  it("a new segment finds the customers already in it without logging them as entering; every move after is logged, and the worker leaves a segment alone until then", async () => {
    await send({ type: "identify", userId: "g1", traits: { tier: "gold" } }, { type: "identify", userId: "g2", traits: { tier: "gold" } });
    await settle();
    const at = clock.now();
    const gold = await make("Gold tier", { field: "trait.tier", op: "eq", value: "gold" });
    expect(await members(gold)).toEqual(["g1", "g2"]);
    expect(gold.evaluation.segments).toEqual([expect.objectContaining({ segmentId: gold.id, entered: 2, exited: 0 })]);
    expect(gold.evaluation).toMatchObject({ found: 2, moved: 0 });
    const goldLog = async (who: string) => (await logged(who)).filter((l) => l.includes(": Gold tier @"));
    expect(await goldLog("g1")).toEqual([]);
    // Their stays start at the first evaluation: the history has them.
    const stays = await t.store.query<{ entered_at: Date; exited_at: Date | null }>("SELECT entered_at, exited_at FROM segment_memberships WHERE segment_id = $1", [gold.id]);
    expect(stays.map((s) => [s.entered_at.toISOString(), s.exited_at])).toEqual([[at.toISOString(), null], [at.toISOString(), null]]);

    clock.advance(60_000);
    const today = clock.now().toISOString().slice(0, 10);
    await send({ type: "identify", userId: "g3", traits: { tier: "gold" } }, { type: "identify", userId: "g1", traits: { tier: "silver" } });
    await settle();
    expect(await members(gold)).toEqual(["g2", "g3"]);
    expect(await goldLog("g3")).toEqual([`Segment Entered: Gold tier @ ${today}`]);
    expect(await goldLog("g1")).toEqual([`Segment Exited: Gold tier @ ${today}`]);

    // A segment saved but not yet evaluated (as the built-ins are when first
    // copied) keeps no members from the worker's passes: its first
    // evaluation finds them all, unlogged.
    const unevaluated = async (name: string, tier: string) => {
      const [row] = await t.store.query<{ id: number }>(
        `INSERT INTO segments (workspace_id, name, rule, depends_on, time_relative, created_at, updated_at)
         VALUES ($1, $2, $3, '{}', false, $4, $4) RETURNING id`,
        [ws.id, name, JSON.stringify({ field: "trait.tier", op: "eq", value: tier }), clock.now()],
      );
      return Number(row?.id);
    };
    const staysOf = async (id: number) => (await t.store.query<{ n: number }>("SELECT count(*)::int AS n FROM segment_memberships WHERE segment_id = $1", [id]))[0]?.n;
    const silver = await unevaluated("Silver tier", "silver");
    await send({ type: "identify", userId: "g2", traits: { tier: "silver" } });
    await settle();
    expect(await staysOf(silver)).toBe(0);
    await evaluateSegments(t.store, ws, clock.now());
    expect(await staysOf(silver)).toBe(2);
    expect((await logged("g2")).filter((l) => l.includes("Silver tier"))).toEqual([]);
    expect(await goldLog("g2")).toEqual([`Segment Exited: Gold tier @ ${today}`]);

    // Editing the rule moves customers, and those moves are logged.
    clock.advance(60_000);
    const edited = await updateSegment(t.store, ws, gold.id, { rule: { field: "trait.tier", op: "in", value: ["gold", "silver"] } }, clock.now());
    expect(edited.evaluation.segments).toEqual([expect.objectContaining({ segmentId: gold.id, entered: 2, exited: 0 })]);
    expect(edited.evaluation).toMatchObject({ found: 0, moved: 2 });
    expect(await goldLog("g1")).toEqual([`Segment Exited: Gold tier @ ${today}`, `Segment Entered: Gold tier @ ${today}`]);

    // A new segment built on one never evaluated evaluates that one first
    // (both unlogged) rather than reading its empty stays.
    const bronze = await unevaluated("Bronze tier", "bronze");
    await send({ type: "identify", userId: "g4", traits: { tier: "bronze" } });
    await settle();
    const onBronze = await make("Bronze members", { segment: bronze });
    expect(await members(onBronze)).toEqual(["g4"]);
    expect(await staysOf(bronze)).toBe(1);
    expect((await logged("g4")).filter((l) => l.includes("Bronze"))).toEqual([]);
    const [b] = await t.store.query<{ at: Date | null }>("SELECT evaluated_at AS at FROM segments WHERE id = $1", [bronze]);
    expect(b?.at).not.toBeNull();
  });
});

describe("operators", () => {
  let base: number;
  beforeAll(async () => {
    clock.set(new Date("2026-07-01T09:00:00Z"));
    base = clock.now().getTime();
    await send(
      { type: "identify", userId: "ana", traits: { email: "ana@example.com", firstName: "Ana", birthday: "1990-07-05", phone: "+33 6 12 34 56 78", plan: "gold", visits: 12, vip_since: "2024-01-15", renews_on: "2026-07-04" }, context: { timezone: "Europe/Paris" } },
      { type: "identify", userId: "bob", traits: { email: "bob@example.com", firstName: "Bob", birthday: "1985-12-31", plan: "free", visits: 3 } },
      { type: "identify", userId: "cy", traits: { email: "cy@example.org" } },
    );
    // Ana: two orders, the recent one of cheaper items; Bob: one big order.
    clock.set(new Date(base - 200 * DAY));
    await order("ana", "a1", 100, [{ price: 50, quantity: 2, category: "shoes" }]);
    clock.set(new Date(base - 10 * DAY));
    await order("ana", "a2", 60, [{ price: 20, quantity: 3, category: "socks" }]);
    await order("bob", "b1", 300, [{ price: 300, quantity: 1, category: "coats" }]);
    clock.set(new Date(base));
    for (const cat of ["shoes", "shoes", "hats"]) await send({ type: "track", userId: "cy", event: "Product Viewed", properties: { product_id: "x", category: cat, price: 80 } });
    await send({ type: "track", userId: "bob", event: "Product Viewed", properties: { product_id: "y", category: "shoes", price: 10 } });
    await t.store.query(
      `INSERT INTO customer_consents (workspace_id, customer_id, channel, granted, source, changed_at)
       SELECT workspace_id, id, 'ads', external_id <> 'cy', 'test', $2 FROM customers WHERE workspace_id = $1 AND external_id IN ('ana', 'bob', 'cy')`,
      [ws.id, clock.now()],
    );
  });

  const cases: [string, unknown, string[]][] = [
    ["string eq", { field: "firstName", op: "eq", value: "Ana" }, ["ana"]],
    ["string contains, any case", { field: "email", op: "contains", value: "EXAMPLE.COM" }, ["ana", "bob"]],
    ["string startsWith", { field: "email", op: "startsWith", value: "cy@" }, ["cy"]],
    ["string in", { field: "firstName", op: "in", value: ["Ana", "Bob"] }, ["ana", "bob"]],
    ["string notIn keeps customers without a value", { field: "firstName", op: "notIn", value: ["Ana"] }, ["bob", "cy"]],
    ["exists", { field: "birthday", op: "exists" }, ["ana", "bob"]],
    ["notExists", { field: "birthday", op: "notExists" }, ["cy"]],
    ["number gte", { field: "orderCount", op: "gte", value: 2 }, ["ana"]],
    ["number between", { field: "revenue", op: "between", value: [10000, 20000] }, ["ana"]],
    ["number ne", { field: "orderCount", op: "ne", value: 2 }, ["bob", "cy"]],
    ["days since last order", { field: "daysSinceLastOrder", op: "eq", value: 10 }, ["ana", "bob"]],
    ["date withinLastDays", { field: "firstOrderAt", op: "withinLastDays", value: 30 }, ["bob"]],
    ["date moreThanDaysAgo", { field: "firstOrderAt", op: "moreThanDaysAgo", value: 100 }, ["ana"]],
    ["birthday within the next 7 days", { field: "birthday", op: "anniversaryWithinDays", value: 7 }, ["ana"]],
    ["birthday this month", { field: "birthday", op: "anniversaryThisMonth" }, ["ana"]],
    ["trait eq (text)", { field: "trait.plan", op: "eq", value: "gold" }, ["ana"]],
    ["trait gt (number)", { field: "trait.visits", op: "gt", value: 5 }, ["ana"]],
    ["trait date", { field: "trait.vip_since", op: "before", value: "2025-01-01" }, ["ana"]],
    ["trait in", { field: "trait.plan", op: "in", value: ["gold", "free"] }, ["ana", "bob"]],
    ["consent", { field: "consent.ads", op: "is", value: false }, ["cy"]],
    ["event with a property filter and a count", { event: "Product Viewed", where: [{ property: "category", op: "eq", value: "shoes" }], count: { atLeast: 2 }, window: { lastDays: 7 } }, ["cy"]],
    ["event never performed", { event: "Product Viewed", count: { atMost: 0 } }, ["ana"]],
    ["event property number", { event: "Product Viewed", where: [{ property: "price", op: "gte", value: 50 }] }, ["cy"]],
    ["orders sum in a window", { orders: "sum", window: { lastDays: 90 }, op: "gt", value: 20000 }, ["bob"]],
    ["orders count in a window, zero included", { orders: "count", window: { lastDays: 90 }, op: "lt", value: 1 }, ["cy"]],
    ["average item price fell", { orders: "averageItemPrice", window: { lastDays: 30 }, op: "lt", comparedTo: "before" }, ["ana"]],
    ["number lt", { field: "orderCount", op: "lt", value: 1 }, ["cy"]],
    ["money lte (minor units)", { field: "revenue", op: "lte", value: 16000 }, ["ana", "cy"]],
    ["date after a day", { field: "lastOrderAt", op: "after", value: "2026-06-01" }, ["ana", "bob"]],
    ["trait date in the next days", { field: "trait.renews_on", op: "withinNextDays", value: 7 }, ["ana"]],
    ["window since a day", { event: "Product Viewed", window: { since: "2026-06-30" } }, ["bob", "cy"]],
    ["window from/to, both days included", { event: "Product Viewed", window: { from: "2026-07-01", to: "2026-07-01" } }, ["bob", "cy"]],
    ["window in hours", { event: "Product Viewed", window: { lastHours: 1 } }, ["bob", "cy"]],
    ["boolean prediction of unscored customers", { field: "bigSpenderRare", op: "is", value: false }, ["ana", "bob", "cy"]],
    ["stage of an unscored customer with no order", { field: "stage", op: "eq", value: "prospect" }, ["cy"]],
    ["average order value rose (it fell)", { orders: "average", window: { lastDays: 30 }, op: "gt", comparedTo: "before" }, []],
    ["or / not", { any: [{ field: "firstName", op: "eq", value: "Bob" }, { not: { field: "orderCount", op: "gte", value: 1 } }] }, ["bob", "cy"]],
  ];
  it.each(cases)("%s", async (_label, rule, expected) => {
    const p = await previewSegment(t.store, ws, { rule, sample: 50 }, clock.now());
    const ours = p.sample.map((s) => s.externalId).filter((id) => ["ana", "bob", "cy"].includes(id)).sort();
    expect(ours).toEqual(expected);
  });

  it("previews say when an event rule has no window", async () => {
    const p = await previewSegment(t.store, ws, { rule: { event: "Product Viewed" } }, clock.now());
    expect(p.warnings[0]).toMatch(/no time window/);
    expect(p.timeRelative).toBe(false);
  });
});

describe("bad rules", () => {
  const bad: [string, unknown, string, RegExp][] = [
    ["unknown field", { all: [{ field: "orderCount", op: "gte", value: 1 }, { field: "shoeSize", op: "eq", value: 3 }] }, "rule.all.1.field", /not a known field/],
    ["operator of another type", { field: "orderCount", op: "contains", value: "1" }, "rule.op", /not an operator for number/],
    ["value of the wrong shape", { field: "orderCount", op: "gte", value: "many" }, "rule.value", /number/],
    ["impossible window", { event: "Product Added", window: { from: "2026-02-01", to: "2026-01-01" } }, "rule.window.to", /empty/],
    ["zero-day window", { not: { event: "Product Added", window: { lastDays: 0 } } }, "rule.not.window.lastDays", /between/],
    ["unknown key", { field: "orderCount", op: "gte", value: 1, extra: true }, "rule.extra", /not a known field/],
    ["enum value", { field: "stage", op: "eq", value: "champion" }, "rule.value", /one of/],
    ["not a rule", { any: [42] }, "rule.any.0", /must be an object/],
    ["missing segment", { segment: 999999 }, "rule", /does not exist/],
    ["days beyond the limit", { field: "daysSinceLastOrder", op: "gte", value: 3_000_000 }, "rule.value", /whole number of days/],
    ["fractional days", { field: "daysSinceLastOrder", op: "between", value: [0.5, 3] }, "rule.value", /whole number of days/],
    ["a time where a day is expected", { field: "signedUpAt", op: "before", value: "2024-01-01 10:00" }, "rule.value", /YYYY-MM-DD/],
    ["a count beyond an integer", { event: "X", window: { lastDays: 1 }, count: { atLeast: 3_000_000_000 } }, "rule.count.atLeast", /./],
    ["the NUL character", { field: "email", op: "eq", value: "a\u0000b" }, "rule.value", /./],
    ["count the wrong way round", { event: "X", window: { lastDays: 1 }, count: { atLeast: 3, atMost: 1 } }, "rule.count", /atLeast/],
  ];
  it.each(bad)("%s", async (_label, rule, field, message) => {
    const err = await previewSegment(t.store, ws, { rule }, clock.now()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "invalid_input", issues: [{ field, message: expect.stringMatching(message) }] });
  });

  it("values and names that look like SQL are only ever data", async () => {
    const evil = "x'); DROP TABLE customers; --";
    for (const rule of [
      { field: "email", op: "eq", value: evil },
      { field: `trait.${evil}`, op: "exists" },
      { event: evil, window: { lastDays: 1 }, where: [{ property: `a'.b"); DELETE FROM events; --`, op: "eq", value: evil }] },
      { field: "email", op: "contains", value: "%' OR 1=1 --" },
    ]) {
      const p = await previewSegment(t.store, ws, { rule }, clock.now());
      expect(p.count).toBe(0);
    }
    const seg = await make(evil, { field: "firstName", op: "eq", value: evil });
    expect(seg.name).toBe(evil);
    const [c] = await t.store.query<{ n: number }>("SELECT count(*)::int AS n FROM customers WHERE workspace_id = $1", [ws.id]);
    expect(c?.n).toBeGreaterThan(3);
  });

  it("a segment cannot refer to itself through another, nor be deleted while used", async () => {
    const a = await make("A", { field: "orderCount", op: "gte", value: 1 });
    const b = await make("B", { segment: a.id });
    await expect(updateSegment(t.store, ws, a.id, { rule: { segment: b.id } }, clock.now())).rejects.toMatchObject({ code: "invalid_input", issues: [{ field: "rule" }] });
    await expect(deleteSegment(t.store, ws, a.id)).rejects.toMatchObject({ code: "conflict" });
    await expect(make("A", { field: "orderCount", op: "gte", value: 1 })).rejects.toMatchObject({ code: "conflict", issues: [{ field: "name" }] });
    await evaluateSegments(t.store, ws, clock.now(), [a.id]);
    expect(await count(t.store, "SELECT count(*) AS n FROM segment_memberships WHERE segment_id = $1", [a.id])).toBeGreaterThan(0);
    await deleteSegment(t.store, ws, b.id);
    await deleteSegment(t.store, ws, a.id);
    // Its stays went with it.
    expect(await count(t.store, "SELECT count(*) AS n FROM segment_memberships WHERE segment_id = ANY($1::bigint[])", [[a.id, b.id]])).toBe(0);
  });
});

describe("exports", () => {
  it("a CSV with the chosen columns, money in major units, formulas defused", async () => {
    const seg = await make("Named", { field: "firstName", op: "exists" });
    await t.store.query("UPDATE customers SET last_name = '=HYPERLINK(1)' WHERE workspace_id = $1 AND external_id = 'bob'", [ws.id]);
    let out = "";
    const s = await exportSegment(t.store, ws, seg.id, { format: "csv", columns: "externalId,lastName,revenue" }, (c) => {
      out += c;
    });
    expect(s.rows).toBe(2);
    expect(out).toBe("externalId,lastName,revenue_EUR\r\nana,,160.00\r\nbob,'=HYPERLINK(1),300.00\r\n");
    await expect(exportSegment(t.store, ws, seg.id, { columns: "externalId,password" }, () => {})).rejects.toMatchObject({ issues: [{ field: "columns" }] });
  });

  it("an audience: only customers who consented to ads, normalised then SHA-256", async () => {
    const seg = await make("Everyone named", { any: [{ field: "firstName", op: "exists" }, { field: "externalId", op: "eq", value: "cy" }] });
    let out = "";
    const s = await exportSegment(t.store, ws, seg.id, { format: "audience", platform: "google" }, (c) => {
      out += c;
    });
    expect(s).toEqual({ rows: 2, withoutAdsConsent: 1, unreachable: 0, invalidPhones: 0 });
    const lines = out.trim().split("\r\n");
    expect(lines[0]).toBe("Email,Phone");
    expect(lines).toContain(`${sha256Hex("ana@example.com")},${sha256Hex("+33612345678")}`);
    expect(lines).toContain(`${sha256Hex("bob@example.com")},`);
    let meta = "";
    await exportSegment(t.store, ws, seg.id, { format: "audience", platform: "meta" }, (c) => {
      meta += c;
    });
    expect(meta).toContain(`${sha256Hex("ana@example.com")},${sha256Hex("33612345678")}`);
  });

  it("a negative amount stays a number; text that starts like a formula does not", () => {
    expect(csvField("-12.50")).toBe("-12.50");
    expect(csvField("-cmd|calc")).toBe("'-cmd|calc");
    expect(csvField('say "hi", then')).toBe('"say ""hi"", then"');
  });

  it("phones become E.164, with the shop's country for national numbers", () => {
    expect(normalisePhone("06 12 34 56 78", "FR")).toBe("+33612345678");
    expect(normalisePhone("0033612345678", undefined)).toBe("+33612345678");
    expect(normalisePhone("06 12 34 56 78", undefined)).toBeNull();
    expect(normalisePhone("12", "FR")).toBeNull();
  });
});

describe("built-in segments", () => {
  it("are copied once, evaluated, and stay deleted when the shop deletes one", async () => {
    const other = await ensureWorkspace(t.store, "builtins", "EUR");
    expect(await ensureBuiltInSegments(t.store, other, clock.now())).toBe(9);
    expect(await ensureBuiltInSegments(t.store, other, clock.now())).toBe(0);
    const list = await listSegments(t.store, other);
    expect(list.map((s) => s.builtIn)).toEqual(["vip", "big-spenders-rare", "one-time-buyers", "at-risk", "lapsed", "new-customers", "birthday-this-month", "abandoned-cart", "subscribers-never-bought"]);
    const first = list[0];
    if (!first) throw new Error("no segment");
    await deleteSegment(t.store, other, first.id);
    expect(await ensureBuiltInSegments(t.store, other, clock.now())).toBe(0);
    const r = await evaluateSegments(t.store, other, clock.now());
    expect(r.segments).toHaveLength(8);
  });
});
