/**
 * /api/loyalty over real HTTP: settings, manual entries with idempotency
 * keys, refusals naming the field, a customer's points, crediting orders.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { sign } from "hono/jwt";
import { bearer, get, issueFields, post, startTestServer, type TestServer } from "../../test/helpers.ts";
import { createApp } from "./index.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

const api = (path: string) => get(`${s.url}/api${path}`, bearer(s.adminKey));
async function put(path: string, body: unknown) {
  const res = await fetch(`${s.url}/api${path}`, { method: "PUT", headers: { "content-type": "application/json", ...bearer(s.adminKey) }, body: JSON.stringify(body) });
  return { status: res.status, body: z.record(z.string(), z.unknown()).parse(await res.json()) };
}

describe("/api/loyalty", () => {
  it("enables the programme, credits an order placed after, and keeps entries idempotent", async () => {
    expect((await api("/loyalty/settings")).body).toMatchObject({ enabled: false, pointsPerUnit: 1 });
    const bad = await put("/loyalty/settings", { enabled: true, pointsPerUnit: -1 });
    expect(bad.status).toBe(400);
    expect(issueFields(bad.body)).toContain("pointsPerUnit");
    const on = await put("/loyalty/settings", { enabled: true, pointsPerUnit: 1, bonuses: [] });
    expect(on.body["startsAt"]).toBe(s.clock.now().toISOString());
    s.clock.advance(60_000);
    expect((await post(`${s.url}/api/customers`, { externalId: "ann", email: "ann@example.com" }, bearer(s.adminKey))).status).toBe(201);
    await post(`${s.url}/v1/track`, { userId: "ann", event: "Order Completed", timestamp: s.clock.now().toISOString(), properties: { order_id: "o1", total: 42, subtotal: 42, currency: "EUR" } }, { authorization: `Basic ${Buffer.from(`${s.writeKey}:`).toString("base64")}` });
    const credited = await post(`${s.url}/api/loyalty/credit`, {}, bearer(s.adminKey));
    expect(credited.body).toMatchObject({ orders: 1, points: 42 });

    const entry = { kind: "redeem", points: 40, reason: "reward", key: "redeem-1" };
    const first = await post(`${s.url}/api/loyalty/customers/ann/entries`, entry, bearer(s.adminKey));
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ created: true, points: -40, balanceAfter: 2 });
    const again = await post(`${s.url}/api/loyalty/customers/ann/entries`, entry, bearer(s.adminKey));
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ created: false, balanceAfter: 2 });

    const tooMuch = await post(`${s.url}/api/loyalty/customers/ann/entries`, { ...entry, key: "redeem-2", points: 3 }, bearer(s.adminKey));
    expect(tooMuch.status).toBe(422);
    expect(issueFields(tooMuch.body)).toEqual(["points"]);
    const negative = await post(`${s.url}/api/loyalty/customers/ann/entries`, { kind: "earn", points: -3, reason: "x", key: "n" }, bearer(s.adminKey));
    expect(negative.status).toBe(400);
    expect(issueFields(negative.body)).toEqual(["points"]);
    const reused = await post(`${s.url}/api/loyalty/customers/ann/entries`, { kind: "earn", points: 5, reason: "x", key: "redeem-1" }, bearer(s.adminKey));
    expect(reused.status).toBe(409);
    expect((await post(`${s.url}/api/loyalty/customers/nobody/entries`, entry, bearer(s.adminKey))).status).toBe(404);

    const points = await api("/loyalty/customers/ann");
    expect(points.body).toMatchObject({ balance: 2, earned: 42, spent: 40 });
    expect(z.array(z.object({ kind: z.string() })).parse(points.body["entries"]).map((e) => e.kind)).toEqual(["redeem", "earn"]);
  });

  it("lists rewards, adds one (naming a bad field), and redeems it for a code once per key", async () => {
    const bad = await post(`${s.url}/api/loyalty/rewards`, { name: "Broken", kind: "fixed", cost: 10 }, bearer(s.adminKey));
    expect(bad.status).toBe(400);
    expect(issueFields(bad.body)).toEqual(["value"]);
    const made = await post(`${s.url}/api/loyalty/rewards`, { name: "Free delivery", kind: "freeShipping", cost: 50 }, bearer(s.adminKey));
    expect(made.status).toBe(201);
    const rewardId = Number(made.body["id"]);
    await post(`${s.url}/api/loyalty/customers/ann/entries`, { kind: "earn", points: 100, reason: "gift", key: "gift-1" }, bearer(s.adminKey));
    const first = await post(`${s.url}/api/loyalty/customers/ann/redemptions`, { rewardId, key: "red-1" }, bearer(s.adminKey));
    expect(first.status).toBe(201);
    const again = await post(`${s.url}/api/loyalty/customers/ann/redemptions`, { rewardId, key: "red-1" }, bearer(s.adminKey));
    expect(again.status).toBe(200);
    expect(again.body["code"]).toBe(first.body["code"]);
    // 2 + 100 − 50 = 52 left: a second one still fits, a third does not.
    const second = await post(`${s.url}/api/loyalty/customers/ann/redemptions`, { rewardId, key: "red-2" }, bearer(s.adminKey));
    expect(second.status).toBe(201);
    const short = await post(`${s.url}/api/loyalty/customers/ann/redemptions`, { rewardId, key: "red-3" }, bearer(s.adminKey));
    expect(short.status).toBe(422);
    expect(issueFields(short.body)).toEqual(["rewardId"]);
    expect(z.array(z.object({ id: z.number() })).parse(Object.values((await api("/loyalty/rewards")).body)).map((r) => r.id)).toContain(rewardId);
  });

  it("is in the OpenAPI document", async () => {
    const doc = await get(`${s.url}/api/openapi.json`);
    const paths = Object.keys(z.record(z.string(), z.unknown()).parse(doc.body["paths"]));
    expect(paths).toEqual(expect.arrayContaining(["/api/loyalty/settings", "/api/loyalty/customers/{externalId}/entries"]));
  });
});

describe("/api/loyalty/overview and /api/loyalty/members", () => {
  it("need the admin key", async () => {
    for (const path of ["/api/loyalty/overview", "/api/loyalty/members"]) {
      expect((await get(`${s.url}${path}`)).status, path).toBe(401);
      expect((await get(`${s.url}${path}`, bearer(s.writeKey))).status, path).toBe(403);
    }
  });

  it("answer the programme's figures and its members, sorted and paged", async () => {
    expect((await post(`${s.url}/api/customers`, { externalId: "zoe", email: "zoe@example.com" }, bearer(s.adminKey))).status).toBe(201);
    expect((await post(`${s.url}/api/loyalty/customers/zoe/entries`, { kind: "earn", points: 100_000, reason: "welcome", key: "zoe-1" }, bearer(s.adminKey))).status).toBe(201);
    const overview = await api("/loyalty/overview");
    expect(overview.status).toBe(200);
    const o = z
      .object({
        currency: z.string(),
        members: z.number(),
        pointsOutstanding: z.number(),
        pointValueMinor: z.number(),
        liabilityMinor: z.number(),
        monthly: z.array(z.object({ month: z.string(), earned: z.number() })),
        membersVsNonMembers: z.object({ note: z.string() }),
        topEarners: z.array(z.object({ externalId: z.string() })),
      })
      .parse(overview.body);
    expect(o.currency).toBe("EUR");
    expect(o.members).toBeGreaterThanOrEqual(1);
    expect(o.pointsOutstanding).toBeGreaterThanOrEqual(100_000);
    expect(o.liabilityMinor).toBe(Math.round(o.pointsOutstanding * o.pointValueMinor));
    expect(o.monthly).toHaveLength(12);
    expect(o.monthly.at(-1)?.month).toBe(s.clock.now().toISOString().slice(0, 7));
    expect(o.monthly.at(-1)?.earned).toBeGreaterThanOrEqual(100_000);
    expect(o.topEarners[0]?.externalId).toBe("zoe");
    expect(o.membersVsNonMembers.note).toContain("not the programme's effect");

    const members = await api("/loyalty/members?sort=earned&limit=1");
    expect(members.status).toBe(200);
    const m = z.object({ total: z.number(), items: z.array(z.object({ externalId: z.string(), email: z.string().nullable(), balance: z.number(), earned: z.number() })) }).parse(members.body);
    expect(m.total).toBe(o.members);
    expect(m.items).toEqual([expect.objectContaining({ externalId: "zoe", email: "zoe@example.com", balance: 100_000, earned: 100_000 })]);
    const last = z.object({ items: z.array(z.object({ externalId: z.string() })) }).parse((await api(`/loyalty/members?sort=earned&order=asc&limit=500&offset=0`)).body);
    expect(last.items.at(-1)?.externalId).toBe("zoe");
  });

  it("refuse a bad query with 400, naming the parameter", async () => {
    for (const [q, field] of [
      ["limit=0", "limit"],
      ["limit=abc", "limit"],
      ["limit=501", "limit"],
      ["offset=-1", "offset"],
      ["sort=name", "sort"],
      ["order=up", "order"],
      ["limit=5&limit=6", "limit"],
    ] as const) {
      const r = await api(`/loyalty/members?${q}`);
      expect(r.status, q).toBe(400);
      expect(issueFields(r.body), q).toEqual([field]);
    }
  });

  it("are in the OpenAPI document, under Loyalty", async () => {
    const doc = z.object({ paths: z.record(z.string(), z.record(z.string(), z.object({ tags: z.array(z.string()), parameters: z.array(z.object({ name: z.string() })).optional() }))) }).parse((await get(`${s.url}/api/openapi.json`)).body);
    expect(doc.paths["/api/loyalty/overview"]?.["get"]?.tags).toEqual(["Loyalty"]);
    expect(doc.paths["/api/loyalty/members"]?.["get"]?.tags).toEqual(["Loyalty"]);
    expect(doc.paths["/api/loyalty/members"]?.["get"]?.parameters?.map((p) => p.name)).toEqual(["sort", "order", "limit", "offset"]);
  });
});

describe("/api/storefront (the widget, with customer tokens) and the programme's admin endpoints", () => {
  let w: TestServer;
  beforeAll(async () => {
    w = await startTestServer();
  });
  afterAll(async () => {
    await w.close();
  });
  const admin = (path: string, body: unknown) => post(`${w.url}/api/loyalty${path}`, body, bearer(w.adminKey));
  const me = (path: string, token: string, headers: Record<string, string> = {}) => get(`${w.url}/api/storefront${path}`, { ...bearer(token), ...headers });
  const act = (path: string, token: string, body: unknown) => post(`${w.url}/api/storefront${path}`, body, bearer(token));

  it("serves a customer their own programme: balance, tier progress, rewards, redemption, spin, referral, history; refuses bad tokens; allows only the shop's origins", async () => {
    const settings = {
      enabled: true,
      tiers: { basis: "points", levels: [{ name: "Gold", threshold: 1000, multiplier: 2 }] },
      referrals: { enabled: true, landingUrl: "https://shop.example/hello" },
      wheel: { enabled: true, periodDays: 1, prizes: [{ id: "fifty", label: "50 points", weight: 100, kind: "points", value: 50 }] },
      storefront: { allowedOrigins: ["https://shop.example"] },
    };
    const res = await fetch(`${w.url}/api/loyalty/settings`, { method: "PUT", headers: { "content-type": "application/json", ...bearer(w.adminKey) }, body: JSON.stringify(settings) });
    expect(res.status).toBe(200);
    for (const [id, firstName, lastName] of [["ann", "Ann", "Doe"], ["bob", "Bob", "Smith"]]) {
      expect((await post(`${w.url}/api/customers`, { externalId: id, email: `${id}@example.com`, firstName, lastName }, bearer(w.adminKey))).status).toBe(201);
    }
    // The shop's backend signs the token with the secret from the admin API.
    const setup = await get(`${w.url}/api/loyalty/storefront`, bearer(w.adminKey));
    const secret = z.string().parse(setup.body["secret"]);
    const now = Math.floor(w.clock.now().getTime() / 1000);
    const ann = await sign({ sub: "ann", iat: now, exp: now + 3600 }, secret, "HS256");

    const first = await me("/me", ann);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ customer: "ann", balance: 0, tier: { basis: "points", next: { name: "Gold", remaining: 1000 }, message: "Earn 1000 points more to reach Gold" } });
    const referral = z.object({ code: z.string(), link: z.string() }).parse(first.body["referral"]);
    expect(referral.link).toBe(`https://shop.example/hello?ref=${referral.code}`);

    // Refused tokens: none, forged, for someone else's secret.
    const none = await get(`${w.url}/api/storefront/me`);
    expect(none.status).toBe(401);
    expect(issueFields(none.body)).toEqual(["Authorization"]);
    expect((await me("/me", await sign({ sub: "ann", iat: now, exp: now + 3600 }, "guessed", "HS256"))).status).toBe(401);
    expect((await me("/me", `${ann.slice(0, -2)}xx`)).status).toBe(401);

    // CORS: the shop's origin may read answers (errors too); another origin gets no grant.
    const fromShop = await fetch(`${w.url}/api/storefront/me`, { headers: { ...bearer(ann), origin: "https://shop.example" } });
    expect(fromShop.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    const deniedButReadable = await fetch(`${w.url}/api/storefront/me`, { headers: { origin: "https://shop.example" } });
    expect(deniedButReadable.status).toBe(401);
    expect(deniedButReadable.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    const fromElsewhere = await fetch(`${w.url}/api/storefront/me`, { headers: { ...bearer(ann), origin: "https://evil.example" } });
    expect(fromElsewhere.headers.get("access-control-allow-origin")).toBeNull();
    const preflight = await fetch(`${w.url}/api/storefront/me/redemptions`, { method: "OPTIONS", headers: { origin: "https://shop.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");

    // Points, a reward, and a redemption that a replay answers the same.
    expect((await admin("/customers/ann/entries", { kind: "earn", points: 500, reason: "welcome", key: "w1" })).status).toBe(201);
    const reward = await admin("/rewards", { name: "€5 off", kind: "fixed", value: 500, cost: 200 });
    const rewards = await fetch(`${w.url}/api/storefront/me/rewards`, { headers: bearer(ann) }).then((r) => r.json());
    expect(z.array(z.object({ name: z.string(), affordable: z.boolean(), barrier: z.string().nullable() })).parse(rewards)).toEqual([expect.objectContaining({ name: "€5 off", affordable: true, barrier: null })]);
    const redeemed = await act("/me/redemptions", ann, { rewardId: reward.body["id"], key: "widget-1" });
    expect(redeemed.status).toBe(201);
    const replay = await act("/me/redemptions", ann, { rewardId: reward.body["id"], key: "widget-1" });
    expect(replay.status).toBe(200);
    expect(replay.body["code"]).toBe(redeemed.body["code"]);
    const broke = await act("/me/redemptions", ann, { rewardId: reward.body["id"], key: "widget-2" });
    const broke2 = await act("/me/redemptions", ann, { rewardId: reward.body["id"], key: "widget-3" });
    expect([broke.status, broke2.status]).toEqual([201, 422]);
    expect(issueFields(broke2.body)).toEqual(["rewardId"]);
    expect((await me("/me", ann)).body["balance"]).toBe(100);
    // Keys are each customer's own: bob sending ann's key does not get ann's code (he has no points: refused).
    const bobToken = await sign({ sub: "bob", iat: now, exp: now + 3600 }, secret, "HS256");
    const bobTry = await act("/me/redemptions", bobToken, { rewardId: reward.body["id"], key: "widget-1" });
    expect(bobTry.status).toBe(422);
    expect(JSON.stringify(bobTry.body)).not.toContain(String(redeemed.body["code"]));

    // One spin per day; a replay answers the same spin.
    const spin = await act("/me/spins", ann, { key: "spin-1" });
    expect(spin.status).toBe(201);
    expect(spin.body).toMatchObject({ prizeId: "fifty", won: true, points: 50 });
    expect((await act("/me/spins", ann, { key: "spin-1" })).body["id"]).toBe(spin.body["id"]);
    const twice = await act("/me/spins", ann, { key: "spin-2" });
    expect(twice.status).toBe(409);
    expect(issueFields(twice.body)).toEqual(["wheel"]);
    expect((await act("/me/spins", ann, { nokey: true })).status).toBe(400);

    // Bob comes with ann's code (his token issued by Fidelio for the shop's backend).
    const issued = await admin("/storefront/tokens", { customer: "bob", ttlSeconds: 600 });
    expect(issued.status).toBe(201);
    const bob = z.string().parse(issued.body["token"]);
    expect((await admin("/storefront/tokens", { customer: "nobody" })).status).toBe(404);
    const used = await act("/me/referral", bob, { code: referral.code });
    expect(used.status).toBe(201);
    // Each side sees the other by first name and initial only; the welcome code only its owner.
    expect(used.body).toMatchObject({ friend: "Ann D.", status: "pending" });
    expect(String(used.body["welcomeCode"])).toMatch(/^FID-/);
    expect(JSON.stringify(used.body)).not.toContain("ann@example.com");
    expect((await act("/me/referral", ann, { code: referral.code })).status).toBe(422);
    const mine = await me("/me/referrals", ann);
    expect(z.array(z.object({ friend: z.string(), welcomeCode: z.null() })).parse(mine.body["referrals"]).map((r) => r.friend)).toEqual(["Bob S."]);
    expect(JSON.stringify(mine.body)).not.toContain(String(used.body["welcomeCode"]));
    expect(JSON.stringify(mine.body)).not.toContain("bob");

    // History, a page at a time.
    const history = await fetch(`${w.url}/api/storefront/me/history?limit=2`, { headers: bearer(ann) }).then((r) => r.json());
    expect(z.array(z.object({ kind: z.string() })).parse(history).map((h) => h.kind)).toEqual(["earn", "redeem"]);
    const badPage = await me("/me/history?limit=abc", ann);
    expect(badPage.status).toBe(400);
    expect(issueFields(badPage.body)).toEqual(["limit"]);

    // Rotating the secret retires every token signed with the old one.
    await admin("/storefront/rotate", {});
    expect((await me("/me", ann)).status).toBe(401);
  });

  it("documents every loyalty and storefront route in the OpenAPI document", async () => {
    const app = createApp({ store: w.store, clock: w.clock, workspace: w.workspace, maxBodyBytes: 1024, shopifyWebhookSecret: undefined });
    const doc = z.object({ paths: z.record(z.string(), z.record(z.string(), z.unknown())) }).parse((await get(`${w.url}/api/openapi.json`)).body);
    const routes = app.routes.filter((r) => /^\/api\/(loyalty|storefront)\//.test(r.path) && r.method !== "ALL");
    expect(routes.length).toBeGreaterThan(25);
    const undocumented = routes.map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`).filter((m) => {
      const [method = "", path = ""] = m.split(" ");
      return doc.paths[path]?.[method.toLowerCase()] === undefined;
    });
    expect(undocumented).toEqual([]);
  });

  it("keeps paid memberships as the shop's billing reports them, audits the wheel, and runs the worker's pass on demand", async () => {
    const plan = await admin("/plans", { name: "Club", priceMinor: 999, period: { unit: "month" }, perks: { freeShipping: true } });
    expect(plan.status).toBe(201);
    const badPlan = await admin("/plans", { name: "Club", priceMinor: -1, period: { unit: "week" } });
    expect(badPlan.status).toBe(400);
    expect(issueFields(badPlan.body).sort()).toEqual(["period.unit", "priceMinor"]);
    const started = await admin("/customers/ann/membership", { planId: plan.body["id"], key: "inv-1" });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ status: "active", perks: { freeShipping: true } });
    expect((await admin("/customers/ann/membership", { planId: plan.body["id"], key: "inv-1" })).status).toBe(200);
    expect((await admin("/customers/ann/membership/renewals", { key: "inv-2" })).body).toMatchObject({ status: "active" });
    // The body is optional: an empty POST cancels at the period's end.
    const cancel = await fetch(`${w.url}/api/loyalty/customers/ann/membership/cancel`, { method: "POST", headers: bearer(w.adminKey) });
    expect(cancel.status).toBe(200);
    expect(await cancel.json()).toMatchObject({ status: "active", cancelAtPeriodEnd: true });
    const unknownParam = await get(`${w.url}/api/loyalty/members?sortt=balance`, bearer(w.adminKey));
    expect(unknownParam.status).toBe(400);
    expect(issueFields(unknownParam.body)).toEqual(["sortt"]);
    expect((await admin("/customers/nobody/membership", { planId: plan.body["id"], key: "x" })).status).toBe(404);
    // A plan no longer offered takes no new members; members already in keep it.
    const patch = (path: string, body: unknown) => fetch(`${w.url}/api/loyalty${path}`, { method: "PATCH", headers: { "content-type": "application/json", ...bearer(w.adminKey) }, body: JSON.stringify(body) });
    expect((await patch(`/plans/${String(plan.body["id"])}`, { active: false, priceMinor: 1299 })).status).toBe(200);
    const closed = await admin("/customers/bob/membership", { planId: plan.body["id"], key: "inv-3" });
    expect(closed.status).toBe(422);
    expect(issueFields(closed.body)).toEqual(["planId"]);
    expect((await patch("/plans/abc", { active: true })).status).toBe(400);
    expect((await patch("/plans/999999", { active: true })).status).toBe(404);
    const period = await patch(`/plans/${String(plan.body["id"])}`, { period: { unit: "day" } });
    expect(period.status).toBe(400);
    const reward = await admin("/rewards", { name: "Tote bag", kind: "freeProduct", productId: "tote", cost: 900 });
    const retired = await patch(`/rewards/${String(reward.body["id"])}`, { active: false, cost: 1000 });
    expect(await retired.json()).toMatchObject({ active: false, cost: 1000, kind: "freeProduct" });
    expect((await patch(`/rewards/${String(reward.body["id"])}`, { minTier: "Platinum" })).status).toBe(400);
    const points = await get(`${w.url}/api/loyalty/customers/ann`, bearer(w.adminKey));
    expect(points.body).toMatchObject({ membership: { status: "active" }, tier: { basis: "points" } });

    const audit = await get(`${w.url}/api/loyalty/wheel`, bearer(w.adminKey));
    expect(audit.body).toMatchObject({ spins: 1, prizes: [{ id: "fifty", odds: 100, drawn: 1, won: 1 }] });
    const run = await admin("/run", {});
    expect(run.status).toBe(200);
    expect(Array.isArray(run.body["log"])).toBe(true);
  });
});
