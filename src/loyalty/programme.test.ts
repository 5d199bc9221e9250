/**
 * The rest of the programme, on PGlite and PostgreSQL: VIP tiers (rolling
 * window, events, progress, multiplier, exclusive rewards), referrals (the
 * welcome code, the referrer's points after the return window, every
 * guard), spin-to-win (odds, stock, one spin per period, replay, opt-in,
 * audit), paid membership (periods, renewal, lapse, cancellation, perks) and
 * customer tokens.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sign } from "hono/jwt";
import { openTestStore, type TestStore } from "../../test/helpers.ts";
import { loyaltyShop, orderMessage, refused } from "./test-shop.ts";
import { previewSegment } from "../segments/index.ts";
import {
  DRAW_RANGE,
  acceptReferral,
  addPeriod,
  assignTiers,
  cancelMembership,
  createPlan,
  createReward,
  creditPoints,
  customerLoyalty,
  expireMemberships,
  issueCustomerToken,
  membershipOf,
  prizeAt,
  putLoyaltySettings,
  recordMembershipPayment,
  redeemReward,
  referralCodeOf,
  rewardsFor,
  rotateStorefrontSecret,
  runLoyaltyPass,
  settleReferrals,
  spinWheel,
  storefrontSecret,
  tierProgress,
  verifyCustomerToken,
  wheelAudit,
  mailboxOf,
  postCustomerEntry,
  WheelSettings,
  type TierSettings,
} from "./index.ts";

let t: TestStore;
beforeAll(async () => {
  t = await openTestStore();
});
afterAll(async () => {
  await t.cleanup();
});

const DAY = 86_400_000;
const shop = (start?: string) => loyaltyShop(t, start);
const events = async (wsId: string, name: string) =>
  t.store.query<{ external_id: string; properties: Record<string, unknown> }>(
    "SELECT c.external_id, e.properties FROM events e JOIN customers c ON c.id = e.customer_id WHERE e.workspace_id = $1 AND e.name = $2 ORDER BY e.id",
    [wsId, name],
  );
const tierOf = async (id: number) => (await t.store.query<{ tier: string | null }>("SELECT tier FROM loyalty_accounts WHERE customer_id = $1", [id]))[0]?.tier ?? null;

const TIERS: TierSettings = {
  basis: "spend",
  windowDays: 365,
  levels: [
    { name: "Silver", threshold: 10_000, multiplier: 1, perks: [] },
    { name: "Gold", threshold: 50_000, multiplier: 1.5, perks: ["free shipping"] },
  ],
};

describe("VIP tiers", () => {
  it("refuses thresholds that do not rise, naming the field", async () => {
    const s = await shop();
    const bad = await refused(putLoyaltySettings(t.store, s.ws, { enabled: true, tiers: { levels: [{ name: "A", threshold: 100 }, { name: "B", threshold: 100 }] } }, s.clock.now()));
    expect(bad.issues[0]?.field).toBe("tiers.levels.1.threshold");
  });

  it("moves members up and down on their spend over a rolling year, with Tier Changed events, progress, the tier's multiplier and exclusive rewards", async () => {
    const s = await shop();
    const ann = await s.customer("ann");
    const bob = await s.customer("bob");
    await putLoyaltySettings(t.store, s.ws, { enabled: true, pointsPerUnit: 1, tiers: TIERS }, s.clock.now());
    s.clock.advance(60_000);
    await s.track(orderMessage("ann", "a1", 120));
    await runLoyaltyPass(t.store, s.ws, s.clock.now());
    expect(await tierOf(ann)).toBe("Silver");
    expect(await tierProgress(t.store, s.ws, TIERS, ann, s.clock.now())).toMatchObject({ value: 12_000, tier: { name: "Silver" }, next: { name: "Gold", remaining: 38_000 }, message: "Spend €380.00 more to reach Gold" });

    // An order lifts its customer on the next pass (the incremental one: same day).
    s.clock.advance(3_600_000);
    await s.track(orderMessage("ann", "a2", 400));
    expect(await creditPoints(t.store, s.ws, s.clock.now())).toMatchObject({ orders: 1, points: 400 });
    expect(await assignTiers(t.store, s.ws, s.clock.now())).toMatchObject({ checked: 1, upgraded: 1, downgraded: 0 });
    expect(await tierOf(ann)).toBe("Gold");
    // Gold earns × 1.5 on orders credited from now on.
    await s.track(orderMessage("ann", "a3", 100));
    expect(await creditPoints(t.store, s.ws, s.clock.now())).toMatchObject({ orders: 1, points: 150 });

    // A Gold-only reward: bob (no tier) is refused and keeps his points; ann redeems it.
    await s.post({ customerId: bob, kind: "earn", points: 1000, reason: "seed", key: "seed-bob" });
    const gold = await createReward(t.store, s.ws, { name: "Gold gift", kind: "freeShipping", cost: 100, minTier: "Gold" }, s.clock.now());
    const no = await refused(redeemReward(t.store, s.ws, "bob", { rewardId: gold.id, key: "g1" }, s.clock.now()));
    expect(no).toMatchObject({ code: "forbidden" });
    expect(no.issues[0]?.field).toBe("rewardId");
    expect(await s.balance(bob)).toBe(1000);
    expect((await rewardsFor(t.store, s.ws, bob)).find((r) => r.id === gold.id)).toMatchObject({ affordable: true, barrier: "is for Gold members and above" });
    expect(await redeemReward(t.store, s.ws, "ann", { rewardId: gold.id, key: "g2" }, s.clock.now())).toMatchObject({ created: true });
    expect((await refused(createReward(t.store, s.ws, { name: "x", kind: "freeShipping", cost: 1, minTier: "Platinum" }, s.clock.now()))).issues[0]?.field).toBe("minTier");

    // Segments and templates see the tier.
    const golds = await previewSegment(t.store, s.ws, { rule: { field: "loyaltyTier", op: "eq", value: "Gold" }, sample: 5 }, s.clock.now());
    expect(golds.sample.map((m) => m.externalId)).toEqual(["ann"]);

    // A year and a day later the spend has left the window: the daily full pass takes the tier away.
    s.clock.advance(366 * DAY);
    expect(await assignTiers(t.store, s.ws, s.clock.now())).toMatchObject({ downgraded: 1 });
    expect(await tierOf(ann)).toBeNull();
    const changes = await events(s.ws.id, "Tier Changed");
    expect(changes.map((e) => [e.properties.from, e.properties.to, e.properties.direction])).toEqual([
      [null, "Silver", "up"],
      ["Silver", "Gold", "up"],
      ["Gold", null, "down"],
    ]);
    // Nothing new: the same day's pass changes nothing.
    expect(await assignTiers(t.store, s.ws, s.clock.now())).toMatchObject({ upgraded: 0, downgraded: 0 });
  });
});

describe("referrals", () => {
  const open = { enabled: true, creditAfterDays: 14, referrals: { enabled: true, referrerPoints: 500, welcome: { kind: "fixed", value: 1000 }, minOrderMinor: 2000, maxRewardedPerYear: 2, landingUrl: "https://shop.example/welcome" } };

  it("gives the referee a welcome code and the referrer points once the first order is past the return window", async () => {
    const s = await shop();
    const ann = await s.customer("ann", { firstName: "Ann" });
    const bob = await s.customer("bob");
    await putLoyaltySettings(t.store, s.ws, open, s.clock.now());
    const code = await referralCodeOf(t.store, s.ws, ann, s.clock.now());
    expect(code).toMatch(/^ANN-[A-Z2-9]{6}$/);
    expect(await referralCodeOf(t.store, s.ws, ann, s.clock.now())).toBe(code);
    const r = await acceptReferral(t.store, s.ws, bob, { code: code.toLowerCase() }, s.clock.now());
    expect(r).toMatchObject({ referrer: "ann", referee: "bob", status: "pending", created: true, welcome: { kind: "fixed", value: 1000 } });
    expect(r.welcomeCode).toMatch(/^FID-/);
    // The same use again answers the same referral.
    expect(await acceptReferral(t.store, s.ws, bob, { code }, s.clock.now())).toMatchObject({ id: r.id, welcomeCode: r.welcomeCode, created: false });

    s.clock.advance(DAY);
    await s.track(orderMessage("bob", "b1", 30));
    expect(await settleReferrals(t.store, s.ws, s.clock.now())).toMatchObject({ qualified: 1, rewarded: 0 });
    s.clock.advance(13 * DAY);
    expect(await settleReferrals(t.store, s.ws, s.clock.now())).toMatchObject({ rewarded: 0 });
    s.clock.advance(DAY);
    expect(await settleReferrals(t.store, s.ws, s.clock.now())).toMatchObject({ rewarded: 1, points: 500 });
    expect(await settleReferrals(t.store, s.ws, s.clock.now())).toMatchObject({ rewarded: 0, points: 0 });
    expect(await s.balance(ann)).toBe(500);
    expect((await events(s.ws.id, "Referral Accepted")).map((e) => [e.external_id, e.properties.referrer])).toEqual([["bob", "ann"]]);
  });

  it("refuses self-referral (same person, email, phone, address or card), repeat customers, a second referrer, small or refunded first orders, and past the yearly limit", async () => {
    const s = await shop();
    const ann = await s.customer("ann", { email: "a.nn+shop@gmail.com", phone: "+33 6 12 34 56 78" });
    await putLoyaltySettings(t.store, s.ws, open, s.clock.now());
    const zed = await s.customer("zed");
    const annCode = await referralCodeOf(t.store, s.ws, ann, s.clock.now());
    const zedCode = await referralCodeOf(t.store, s.ws, zed, s.clock.now());
    await s.track(orderMessage("ann", "a1", 50, { shipping_address: { address1: "12, Rue de la Paix", zip: "75002", country: "FR" }, payment_fingerprint: "card_ann" }));
    const why = async (id: number, code = annCode) => (await refused(acceptReferral(t.store, s.ws, id, { code }, s.clock.now()))).message;

    expect(await why(ann)).toMatch(/yourself/);
    expect(await why(await s.customer("twin", { email: "ann@googlemail.com" }))).toMatch(/email address/);
    expect(await why(await s.customer("phone", { phone: "+33612345678" }))).toMatch(/phone number/);
    const old = await s.customer("old");
    await s.track(orderMessage("old", "o1", 40));
    expect(await why(old)).toMatch(/new customers/);
    expect((await refused(acceptReferral(t.store, s.ws, old, { code: "NOPE-123456" }, s.clock.now()))).issues[0]?.field).toBe("code");
    const two = await s.customer("two");
    await acceptReferral(t.store, s.ws, two, { code: zedCode }, s.clock.now());
    expect((await refused(acceptReferral(t.store, s.ws, two, { code: annCode }, s.clock.now()))).code).toBe("conflict");
    expect(mailboxOf("A.Nn+x@GMail.com")).toBe("ann@gmail.com");

    // Five referees: one ships to ann's address, one pays with ann's card, one spends too little, one is refunded; the last three good ones meet the yearly limit of 2.
    const referees = ["addr", "card", "small", "refunded", "good1", "good2", "good3"];
    for (const r of referees) await acceptReferral(t.store, s.ws, await s.customer(r), { code: annCode }, s.clock.now());
    s.clock.advance(DAY);
    await s.track(
      orderMessage("addr", "x1", 50, { shipping_address: { address1: "12 rue de la paix", zip: "75 002", country: "fr" } }),
      orderMessage("card", "x2", 50, { payment_fingerprint: "card_ann" }),
      orderMessage("small", "x3", 15),
      orderMessage("refunded", "x4", 50),
      orderMessage("good1", "x5", 50),
      orderMessage("good2", "x6", 50),
      orderMessage("good3", "x7", 50),
    );
    expect(await settleReferrals(t.store, s.ws, s.clock.now())).toMatchObject({ qualified: 5, refused: 2 });
    s.clock.advance(DAY);
    await s.track({ type: "track", userId: "refunded", event: "Order Refunded", properties: { order_id: "x4", total: 50, currency: "EUR" } });
    s.clock.advance(14 * DAY);
    expect(await settleReferrals(t.store, s.ws, s.clock.now())).toMatchObject({ rewarded: 2, refused: 3, points: 1000 });
    const rows = await t.store.query<{ referee: string; status: string; refused_why: string | null }>(
      "SELECT c.external_id AS referee, r.status, r.refused_why FROM loyalty_referrals r JOIN customers c ON c.id = r.referee_id WHERE r.workspace_id = $1 AND r.referrer_id = $2 ORDER BY r.id",
      [s.ws.id, ann],
    );
    expect(rows.map((r) => [r.referee, r.status, r.refused_why?.replace(/ \(.*\)$/, "") ?? null])).toEqual([
      ["addr", "refused", "the first order ships to the referrer's address"],
      ["card", "refused", "the first order was paid with the referrer's payment method"],
      ["small", "refused", "the first order is below the minimum"],
      ["refunded", "refused", "the first order was cancelled or refunded"],
      ["good1", "rewarded", null],
      ["good2", "rewarded", null],
      ["good3", "refused", "the referrer was rewarded for 2 referrals in the last 365 days"],
    ]);
    expect(await s.balance(ann)).toBe(1000);
  });
});

describe("spin to win", () => {
  const wheel = {
    enabled: true,
    periodDays: 7,
    requireEmailOptIn: false,
    prizes: [
      { id: "nothing", label: "Try again", weight: 50, kind: "none" },
      { id: "points", label: "100 points", weight: 30, kind: "points", value: 100 },
      { id: "tenner", label: "€10 off", weight: 15, kind: "fixed", value: 1000, stock: 1 },
      { id: "ship", label: "Free shipping", weight: 5, kind: "freeShipping" },
    ],
  };

  it("checks the odds sum to 100 % and lays every draw over them exactly", async () => {
    const s = await shop();
    const bad = await refused(putLoyaltySettings(t.store, s.ws, { enabled: true, wheel: { ...wheel, prizes: wheel.prizes.slice(0, 3) } }, s.clock.now()));
    expect(bad.issues[0]).toMatchObject({ field: "wheel.prizes", message: "the odds sum to 95 %, not 100 %" });
    const prizes = WheelSettings.parse(wheel).prizes;
    const counts = new Map<string, number>();
    for (let d = 0; d < DRAW_RANGE; d += 1) {
      const p = prizeAt(prizes, d)?.id ?? "(none)";
      counts.set(p, (counts.get(p) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ nothing: 500_000, points: 300_000, tenner: 150_000, ship: 50_000 });
  });

  it("gives what the draw lands on, once per period, keeps to the stock, answers a replay the same, and audits it all", async () => {
    const s = await shop();
    const ann = await s.customer("ann");
    const bob = await s.customer("bob");
    await putLoyaltySettings(t.store, s.ws, { enabled: true, wheel }, s.clock.now());
    const at = (d: number) => () => d;
    const first = await spinWheel(t.store, s.ws, ann, { key: "s1" }, s.clock.now(), at(850_000));
    expect(first).toMatchObject({ prizeId: "tenner", won: true, kind: "fixed", value: 1000, created: true });
    expect(first.code).toMatch(/^FID-/);
    expect(await spinWheel(t.store, s.ws, ann, { key: "s1" }, s.clock.now(), at(0))).toMatchObject({ id: first.id, code: first.code, created: false });
    const again = await refused(spinWheel(t.store, s.ws, ann, { key: "s2" }, s.clock.now()));
    expect(again).toMatchObject({ code: "conflict" });
    expect(again.issues[0]?.field).toBe("wheel");
    // Bob lands on the same prize: the only one was given, so it counts as no prize.
    expect(await spinWheel(t.store, s.ws, bob, { key: "b1" }, s.clock.now(), at(900_000))).toMatchObject({ prizeId: "tenner", won: false, code: null, label: "€10 off (out of stock)" });
    // A week later ann may spin again: points go through the ledger.
    s.clock.advance(7 * DAY);
    expect(await spinWheel(t.store, s.ws, ann, { key: "s3" }, s.clock.now(), at(500_000))).toMatchObject({ prizeId: "points", won: true, points: 100 });
    expect(await s.balance(ann)).toBe(100);
    // Ten spins at once by one customer: one goes through.
    s.clock.advance(7 * DAY);
    const burst = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => spinWheel(t.store, s.ws, bob, { key: `burst${i}` }, s.clock.now(), at(100_000))));
    expect(burst.filter((r) => r.status === "fulfilled")).toHaveLength(1);

    const audit = await wheelAudit(t.store, s.ws);
    expect(audit.spins).toBe(4);
    expect(audit.outOfStock).toBe(1);
    expect(audit.prizes.find((p) => p.id === "tenner")).toMatchObject({ odds: 15, won: 1, stock: 1, left: 0 });
    const spins = await t.store.query<{ draw: number }>("SELECT draw FROM loyalty_spins WHERE workspace_id = $1", [s.ws.id]);
    expect(spins.every((r) => r.draw >= 0 && r.draw < DRAW_RANGE)).toBe(true);
    expect((await events(s.ws.id, "Wheel Spun")).length).toBe(4);
  });

  it("asks for email consent as the price of a spin when set, and records it", async () => {
    const s = await shop();
    const ann = await s.customer("ann");
    await putLoyaltySettings(t.store, s.ws, { enabled: true, wheel: { ...wheel, requireEmailOptIn: true } }, s.clock.now());
    const no = await refused(spinWheel(t.store, s.ws, ann, { key: "s1" }, s.clock.now()));
    expect(no.issues[0]?.field).toBe("optIn");
    expect(await t.store.query("SELECT 1 FROM loyalty_spins WHERE customer_id = $1", [ann])).toHaveLength(0);
    await spinWheel(t.store, s.ws, ann, { key: "s2", optIn: true }, s.clock.now());
    const [consent] = await t.store.query<{ granted: boolean; source: string }>("SELECT granted, source FROM customer_consents WHERE customer_id = $1 AND channel = 'email'", [ann]);
    expect(consent).toEqual({ granted: true, source: "spin to win" });
  });
});

describe("paid membership", () => {
  it("starts, renews from the period's end, lapses unpaid, restarts, cancels to the period's end, with events; replayed payments change nothing", async () => {
    const s = await shop("2026-01-31T10:00:00Z");
    const ann = await s.customer("ann");
    const bob = await s.customer("bob");
    await putLoyaltySettings(t.store, s.ws, { enabled: true }, s.clock.now());
    const plan = await createPlan(t.store, s.ws, { name: "Club", priceMinor: 999, period: { unit: "month" }, perks: { freeShipping: true, pointsMultiplier: 2 } }, s.clock.now());
    expect(addPeriod(new Date("2026-01-31T10:00:00Z"), plan.period).toISOString()).toBe("2026-02-28T10:00:00.000Z");

    const started = await recordMembershipPayment(t.store, s.ws, ann, "start", { planId: plan.id, key: "pay1" }, s.clock.now());
    expect(started).toMatchObject({ status: "active", periodEnd: "2026-02-28T10:00:00.000Z", created: true, perks: { freeShipping: true, pointsMultiplier: 2 } });
    expect(await recordMembershipPayment(t.store, s.ws, ann, "start", { planId: plan.id, key: "pay1" }, s.clock.now())).toMatchObject({ created: false, periodEnd: "2026-02-28T10:00:00.000Z" });
    expect((await refused(recordMembershipPayment(t.store, s.ws, ann, "start", { planId: plan.id, key: "pay2" }, s.clock.now()))).code).toBe("conflict");
    expect((await refused(recordMembershipPayment(t.store, s.ws, bob, "renewal", { key: "pay3" }, s.clock.now()))).issues[0]?.field).toBe("customer");

    // A paid member earns × 2 on orders.
    s.clock.advance(DAY);
    await s.track(orderMessage("ann", "a1", 40), orderMessage("bob", "b1", 40));
    expect(await creditPoints(t.store, s.ws, s.clock.now())).toMatchObject({ points: 80 + 40 });
    const members = await previewSegment(t.store, s.ws, { rule: { field: "paidMember", op: "is", value: true }, sample: 5 }, s.clock.now());
    expect(members.sample.map((m) => m.externalId)).toEqual(["ann"]);

    // Renewal early: from the end of the period paid for.
    expect(await recordMembershipPayment(t.store, s.ws, ann, "renewal", { key: "pay4" }, s.clock.now())).toMatchObject({ periodEnd: "2026-03-28T10:00:00.000Z" });
    // Unpaid past the period: lapsed.
    s.clock.advance(60 * DAY);
    expect(await expireMemberships(t.store, s.ws, s.clock.now())).toEqual({ lapsed: 1, ended: 0 });
    expect((await membershipOf(t.store, s.ws, ann))?.perks).toBeNull();
    // Paying after a lapse restarts from now.
    const back = await recordMembershipPayment(t.store, s.ws, ann, "renewal", { key: "pay5" }, s.clock.now());
    expect(back).toMatchObject({ status: "active", periodEnd: addPeriod(s.clock.now(), plan.period).toISOString() });
    // Cancelled: active to the period's end, then ended.
    expect(await cancelMembership(t.store, s.ws, ann, {}, s.clock.now())).toMatchObject({ status: "active", cancelAtPeriodEnd: true });
    s.clock.advance(31 * DAY);
    expect(await expireMemberships(t.store, s.ws, s.clock.now())).toEqual({ lapsed: 0, ended: 1 });
    expect((await refused(cancelMembership(t.store, s.ws, ann, {}, s.clock.now()))).code).toBe("unprocessable");

    const names = (await t.store.query<{ name: string }>("SELECT name FROM events WHERE workspace_id = $1 AND name LIKE 'Membership %' ORDER BY id", [s.ws.id])).map((e) => e.name);
    expect(names).toEqual(["Membership Started", "Membership Renewed", "Membership Lapsed", "Membership Renewed", "Membership Cancelled", "Membership Ended"]);
    const [payments] = await t.store.query<{ n: number }>("SELECT count(*)::int AS n FROM loyalty_membership_payments WHERE customer_id = $1", [ann]);
    expect(payments?.n).toBe(3);
  });

  it("keeps members-only rewards for paid members", async () => {
    const s = await shop();
    const ann = await s.customer("ann");
    await s.post({ customerId: ann, kind: "earn", points: 500, reason: "seed", key: "seed" });
    const perk = await createReward(t.store, s.ws, { name: "Early access", kind: "percent", value: 10, cost: 100, membersOnly: true }, s.clock.now());
    expect((await refused(redeemReward(t.store, s.ws, "ann", { rewardId: perk.id, key: "r1" }, s.clock.now()))).code).toBe("forbidden");
    const plan = await createPlan(t.store, s.ws, { name: "Club", priceMinor: 4900, period: { unit: "year" } }, s.clock.now());
    await recordMembershipPayment(t.store, s.ws, ann, "start", { planId: plan.id, key: "p1" }, s.clock.now());
    expect(await redeemReward(t.store, s.ws, "ann", { rewardId: perk.id, key: "r1" }, s.clock.now())).toMatchObject({ created: true });
  });
});

describe("customer tokens", () => {
  it("accepts a token the shop signed and refuses forged, altered, expired, over-long, unknown-customer and rotated-out ones", async () => {
    const s = await shop();
    const ann = await s.customer("ann");
    await putLoyaltySettings(t.store, s.ws, { enabled: true, tiers: TIERS, referrals: { enabled: true } }, s.clock.now());
    const secret = await storefrontSecret(t.store, s.ws, s.clock.now());
    const now = Math.floor(s.clock.now().getTime() / 1000);
    const token = await sign({ sub: "ann", iat: now, exp: now + 3600 }, secret, "HS256");
    expect(await verifyCustomerToken(t.store, s.ws, token, s.clock.now())).toEqual({ customerId: ann, externalId: "ann" });
    const why = async (tok: string | undefined) => (await refused(verifyCustomerToken(t.store, s.ws, tok, s.clock.now()))).message;
    expect(await why(undefined)).toMatch(/required/);
    expect(await why(await sign({ sub: "ann", iat: now, exp: now + 3600 }, "not-the-secret", "HS256"))).toMatch(/not valid/);
    const [h, , sig] = token.split(".");
    const forgedBody = Buffer.from(JSON.stringify({ sub: "bob", iat: now, exp: now + 3600 })).toString("base64url");
    expect(await why(`${h}.${forgedBody}.${sig}`)).toMatch(/not valid/);
    expect(await why(await sign({ sub: "ann", iat: now }, secret, "HS256"))).toMatch(/no expiry/);
    expect(await why(await sign({ sub: "ann", iat: now, exp: now + 90 * 86_400 }, secret, "HS256"))).toMatch(/30 days/);
    expect(await why(await sign({ sub: "nobody", iat: now, exp: now + 3600 }, secret, "HS256"))).toMatch(/no customer/);
    s.clock.advance(3_601_000);
    expect(await why(token)).toMatch(/expired/);
    const issued = await issueCustomerToken(t.store, s.ws, { customer: "ann", ttlSeconds: 600 }, s.clock.now());
    expect((await verifyCustomerToken(t.store, s.ws, issued.token, s.clock.now())).externalId).toBe("ann");
    await rotateStorefrontSecret(t.store, s.ws, s.clock.now());
    expect(await why(issued.token)).toMatch(/not valid/);

    const me = await customerLoyalty(t.store, s.ws, { customerId: ann, externalId: "ann" }, s.clock.now());
    expect(me).toMatchObject({ customer: "ann", enabled: true, balance: 0, tier: { value: 0, tier: null, next: { name: "Silver" }, message: "Spend €100.00 more to reach Silver" }, membership: null, wheel: null });
    expect(me.referral?.code).toMatch(/^FRIEND-/);
  });
});

describe("what the review found", () => {
  it("keeps crediting everyone else when one order's key was taken by hand, and reports the step that failed", async () => {
    const s = await shop();
    const ann = await s.customer("ann");
    const bob = await s.customer("bob");
    await putLoyaltySettings(t.store, s.ws, { enabled: true }, s.clock.now());
    s.clock.advance(60_000);
    await s.track(orderMessage("ann", "o1", 10), orderMessage("bob", "o2", 20));
    // A hand-made entry on the key ann's order will use (the API refuses such keys; the ledger itself does not).
    await s.post({ customerId: ann, kind: "adjust", points: 5, reason: "by hand", key: "order:o1" });
    const lines = await runLoyaltyPass(t.store, s.ws, s.clock.now());
    expect(lines.join("\n")).toMatch(/1 orders, 0 refunds, 0 bonuses credited \(20 points\); 1 skipped: order:o1/);
    expect(await s.balance(bob)).toBe(20);
    expect(await s.balance(ann)).toBe(5);
  });

  it("floors points after the float error: 100 × 1.15 earns 115", async () => {
    const s = await shop();
    await s.customer("ann");
    await putLoyaltySettings(t.store, s.ws, { enabled: true, campaigns: [{ name: "x", multiplier: 1.15, from: "2026-01-01", to: "2026-12-31" }] }, s.clock.now());
    s.clock.advance(60_000);
    await s.track(orderMessage("ann", "o1", 100));
    expect(await creditPoints(t.store, s.ws, s.clock.now())).toMatchObject({ orders: 1, points: 115 });
  });

  it("keeps a tier-only reward closed when its tier leaves the settings", async () => {
    const s = await shop();
    const ann = await s.customer("ann");
    await s.post({ customerId: ann, kind: "earn", points: 500, reason: "seed", key: "seed" });
    await putLoyaltySettings(t.store, s.ws, { enabled: true, tiers: TIERS }, s.clock.now());
    const gold = await createReward(t.store, s.ws, { name: "Gold gift", kind: "freeShipping", cost: 100, minTier: "Gold" }, s.clock.now());
    await putLoyaltySettings(t.store, s.ws, { enabled: true }, s.clock.now());
    expect((await refused(redeemReward(t.store, s.ws, "ann", { rewardId: gold.id, key: "g" }, s.clock.now()))).code).toBe("forbidden");
  });

  it("counts points clawed back against a tier on points", async () => {
    const s = await shop();
    const ann = await s.customer("ann");
    const tiers = { basis: "points", windowDays: 365, levels: [{ name: "Gold", threshold: 100 }] };
    await putLoyaltySettings(t.store, s.ws, { enabled: true, tiers }, s.clock.now());
    await s.post({ customerId: ann, kind: "earn", points: 150, reason: "order", key: "e1" }, { customerId: ann, kind: "clawback", points: 100, reason: "refund", key: "c1" });
    expect(await assignTiers(t.store, s.ws, s.clock.now())).toMatchObject({ upgraded: 0 });
    expect(await tierOf(ann)).toBeNull();
  });

  it("answers a replayed spin and referral the same after the wheel and referrals are switched off", async () => {
    const s = await shop();
    const ann = await s.customer("ann");
    const bob = await s.customer("bob");
    await putLoyaltySettings(t.store, s.ws, { enabled: true, referrals: { enabled: true }, wheel: { enabled: true, prizes: [{ id: "p", label: "10 points", weight: 100, kind: "points", value: 10 }] } }, s.clock.now());
    const spin = await spinWheel(t.store, s.ws, ann, { key: "s1" }, s.clock.now());
    const code = await referralCodeOf(t.store, s.ws, ann, s.clock.now());
    const referral = await acceptReferral(t.store, s.ws, bob, { code }, s.clock.now());
    await putLoyaltySettings(t.store, s.ws, { enabled: true }, s.clock.now());
    expect(await spinWheel(t.store, s.ws, ann, { key: "s1" }, s.clock.now())).toMatchObject({ id: spin.id, kind: "points", value: 10, created: false });
    expect(await acceptReferral(t.store, s.ws, bob, { code }, s.clock.now())).toMatchObject({ id: referral.id, created: false });
    expect((await refused(spinWheel(t.store, s.ws, ann, { key: "s2" }, s.clock.now()))).issues[0]?.field).toBe("wheel");
  });

  it("refuses manual entries on the keys the programme writes itself", async () => {
    const s = await shop();
    await s.customer("ann");
    const bad = await refused(postCustomerEntry(t.store, s.ws, "ann", { kind: "earn", points: 5, reason: "x", key: "order:123" }, s.clock.now()));
    expect(bad.issues[0]?.field).toBe("key");
  });
});

