/**
 * /api/loyalty over real HTTP: settings, manual entries with idempotency
 * keys, refusals naming the field, a customer's points, crediting orders.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { bearer, get, issueFields, post, startTestServer, type TestServer } from "../../test/helpers.ts";

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
