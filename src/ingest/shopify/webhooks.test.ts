/** Shopify webhooks over real HTTP, signed as Shopify signs them. */
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, count, get, startTestServer, type TestServer } from "../../../test/helpers.ts";

const orderJson = readFileSync(new URL("../../../test/fixtures/shopify/order.json", import.meta.url), "utf8");

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

function sign(body: string, secret = s.shopifySecret): string {
  return createHmac("sha256", secret).update(body, "utf8").digest("base64");
}

async function deliver(path: string, body: string, signature: string | undefined, topic = "orders/create") {
  const res = await fetch(`${s.url}/webhooks/shopify/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-shopify-topic": topic, ...(signature ? { "x-shopify-hmac-sha256": signature } : {}) },
    body,
  });
  return { status: res.status, body: await res.json() };
}

describe("POST /webhooks/shopify/orders", () => {
  it("stores a signed order with its customer, consents and lines", async () => {
    const r = await deliver("orders", orderJson, sign(orderJson));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, externalId: "shopify:5678901234", created: true });
    const o = await get(`${s.url}/api/orders/shopify:5678901234`, bearer(s.adminKey));
    expect(o.body).toMatchObject({
      customerExternalId: "shopify:207119551",
      status: "paid",
      currency: "USD",
      placedAt: "2026-04-05T18:22:09.000Z",
      subtotalMinor: 19900,
      discountMinor: 1000,
      shippingMinor: 1300,
      taxMinor: 1194,
      totalMinor: 21394,
      discountCodes: ["SPRING10"],
      salesChannel: "web",
      lines: [{ productId: "632910392", sku: "IPOD-342", category: "Electronics", quantity: 1, unitPriceMinor: 19900 }],
    });
    // The shipping address is kept only as the referral guard's normalised key.
    const [keys] = await s.store.query<{ address_key: string | null }>("SELECT address_key FROM orders WHERE external_id = 'shopify:5678901234'");
    expect(keys?.address_key).toBe("123amoebobacterieaest|k2p0v6|ca");
    const c = await get(`${s.url}/api/customers/shopify:207119551`, bearer(s.adminKey));
    expect(c.body).toMatchObject({
      email: "jon@example.com",
      firstName: "Jon",
      phone: "+16135551111",
      consents: { email: { granted: true, source: "shopify" }, sms: { granted: false } },
      traits: { shopifyTags: { value: "vip, newsletter" } },
    });
  });

  it("is idempotent, and an update with a refund records the refund once", async () => {
    const updated = JSON.parse(orderJson);
    updated.financial_status = "partially_refunded";
    updated.refunds = [
      {
        id: 509562969,
        created_at: "2026-04-12T10:00:00-04:00",
        note: "it broke",
        transactions: [{ amount: "50.00", kind: "refund", status: "success" }],
        refund_line_items: [{ quantity: 1, subtotal: "50.00", line_item: { product_id: 632910392 } }],
      },
    ];
    const body = JSON.stringify(updated);
    for (let i = 0; i < 2; i++) {
      const r = await deliver("orders", body, sign(body), "orders/updated");
      expect(r.status).toBe(200);
    }
    expect(await count(s.store, "SELECT count(*) AS n FROM orders WHERE external_id = 'shopify:5678901234'")).toBe(1);
    expect(await count(s.store, "SELECT count(*) AS n FROM refunds WHERE external_id = 'shopify-refund:509562969'")).toBe(1);
    const o = await get(`${s.url}/api/orders/shopify:5678901234`, bearer(s.adminKey));
    expect(o.body).toMatchObject({ status: "partially_refunded" });
    const c = await get(`${s.url}/api/customers/shopify:207119551`, bearer(s.adminKey));
    expect(c.body).toMatchObject({ rollup: { orderCount: 1, refundCount: 1, refundedMinor: 0 } }); // USD refund, EUR workspace
  });

  it("refuses a bad or missing signature with 401 and stores nothing", async () => {
    const other = orderJson.replace("5678901234", "999");
    const before = await count(s.store, "SELECT count(*) AS n FROM orders");
    expect((await deliver("orders", other, sign(other, "wrong-secret"))).status).toBe(401);
    expect((await deliver("orders", other, sign(orderJson))).status).toBe(401);
    const missing = await deliver("orders", other, undefined);
    expect(missing.status).toBe(401);
    expect(missing.body).toMatchObject({ error: { issues: [{ field: "X-Shopify-Hmac-Sha256" }] } });
    expect(await count(s.store, "SELECT count(*) AS n FROM orders")).toBe(before);
  });

  it("names the field of a signed but malformed order", async () => {
    const bad = JSON.stringify({ ...JSON.parse(orderJson), id: 1, currency: "ZZZ" });
    const r = await deliver("orders", bad, sign(bad));
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: { issues: [{ field: "currency" }] } });
  });
});

describe("64-bit Shopify ids", () => {
  it("keeps every digit of ids past 2^53", async () => {
    const body = JSON.stringify({ ...JSON.parse(orderJson), refunds: [] }).replace('"id":5678901234', '"id":820982911946154508').replace('"id":207119551', '"id":9007199254740993123');
    const r = await deliver("orders", body, sign(body));
    expect(r.body).toMatchObject({ externalId: "shopify:820982911946154508" });
    expect((await get(`${s.url}/api/orders/shopify:820982911946154508`, bearer(s.adminKey))).body).toMatchObject({ customerExternalId: "shopify:9007199254740993123" });
  });
});

describe("POST /webhooks/shopify/customers", () => {
  it("stores a signed customer", async () => {
    const body = JSON.stringify({ id: 42, email: "Arya@Example.com", first_name: "Arya", accepts_marketing: false, created_at: "2026-01-01T00:00:00Z" });
    const r = await deliver("customers", body, sign(body), "customers/create");
    expect(r).toEqual({ status: 200, body: { ok: true, externalId: "shopify:42", created: true } });
    const c = await get(`${s.url}/api/customers/shopify:42`, bearer(s.adminKey));
    expect(c.body).toMatchObject({ email: "arya@example.com", createdAt: "2026-01-01T00:00:00.000Z", consents: { email: { granted: false } } });
  });
});

describe("without a configured secret", () => {
  it("answers 503 and stores nothing", async () => {
    const off = await startTestServer({ shopifySecret: null });
    try {
      const res = await fetch(`${off.url}/webhooks/shopify/orders`, { method: "POST", body: orderJson, headers: { "x-shopify-hmac-sha256": "x" } });
      expect(res.status).toBe(503);
      expect(await count(off.store, "SELECT count(*) AS n FROM orders")).toBe(0);
    } finally {
      await off.close();
    }
  });
});
