/** The Segment tracking API over real HTTP on loopback, against a real store. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { basic, bearer, count, get, issueFields, post, startTestServer, type TestServer } from "../../../test/helpers.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

const track = (body: Record<string, unknown>) => post(`${s.url}/v1/track`, body, basic(s.writeKey));

describe("POST /v1/identify, /v1/track, /v1/page", () => {
  it("identifies a customer with traits, consents and first touch", async () => {
    const r = await post(
      `${s.url}/v1/identify`,
      {
        userId: "u-1",
        messageId: "id-1",
        traits: { email: "Ada@Example.com", firstName: "Ada", lastName: "Lovelace", birthday: "1990-12-10", plan: "gold", consents: { email: true, sms: false } },
        context: { timezone: "Europe/Paris", locale: "fr-FR", campaign: { source: "google", medium: "cpc", name: "spring" }, page: { referrer: "https://google.com" } },
        timestamp: "2026-05-01T10:00:00Z",
      },
      basic(s.writeKey),
    );
    expect(r).toEqual({ status: 200, body: { success: true } });
    const p = await get(`${s.url}/api/customers/u-1`, bearer(s.adminKey));
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({
      externalId: "u-1",
      email: "ada@example.com",
      firstName: "Ada",
      birthday: "1990-12-10",
      timeZone: "Europe/Paris",
      locale: "fr-FR",
      acquisitionChannel: "google",
      firstTouch: { source: "google", medium: "cpc", campaign: "spring", referrer: "https://google.com" },
      traits: { plan: { value: "gold", source: "tracking" } },
      consents: { email: { granted: true, source: "tracking" }, sms: { granted: false } },
    });
  });

  it("deduplicates events by messageId", async () => {
    const msg = { userId: "u-1", event: "Product Viewed", messageId: "dup-1", properties: { product_id: "p1", name: "Mug", price: 12.5 } };
    expect((await track(msg)).status).toBe(200);
    expect((await track(msg)).status).toBe(200);
    expect(await count(s.store, "SELECT count(*) AS n FROM events WHERE message_id = 'dup-1'")).toBe(1);
    // The product seen in the event entered the catalogue.
    const p = await get(`${s.url}/api/products/p1`, bearer(s.adminKey));
    expect(p.body).toMatchObject({ title: "Mug", priceMinor: 1250 });
  });

  it("puts every product the events name in the catalogue, once, when later batches name them again", async () => {
    const viewed = (messageId: string, productId: string, name: string) => ({ type: "track", userId: "u-cat", event: "Product Viewed", messageId, properties: { product_id: productId, name, price: 3 } });
    const batch = (items: unknown[]) => post(`${s.url}/v1/batch`, { batch: items }, basic(s.writeKey));
    expect((await batch([viewed("cat-1", "cat-a", "Cup")])).status).toBe(200);
    // cat-a is remembered as noted now; cat-b is new, and an order's line names cat-c.
    const order = { type: "track", userId: "u-cat", event: "Order Completed", messageId: "cat-order", properties: { order_id: "cat-o1", total: 9, currency: "EUR", products: [{ product_id: "cat-c", name: "Saucer", price: 3, quantity: 3 }] } };
    expect((await batch([viewed("cat-2", "cat-a", "Cup renamed"), viewed("cat-3", "cat-b", "Plate"), order])).status).toBe(200);
    expect((await batch([viewed("cat-4", "cat-c", "Saucer again")])).status).toBe(200);
    for (const [id, title] of [["cat-a", "Cup"], ["cat-b", "Plate"], ["cat-c", "Saucer"]] as const) {
      expect((await get(`${s.url}/api/products/${id}`, bearer(s.adminKey))).body).toMatchObject({ title });
    }
    expect(await count(s.store, "SELECT count(*) AS n FROM products WHERE external_id LIKE 'cat-%'")).toBe(3);
  });

  it("deduplicates retries without a messageId by their content, whenever they arrive", async () => {
    const msg = { anonymousId: "anon-nomsg", event: "Cart Viewed", timestamp: "2026-05-02T10:00:00Z" };
    await track(msg);
    await track(msg);
    const bare = { anonymousId: "anon-nomsg", event: "Search", properties: { q: "teapot" } };
    await track(bare);
    s.clock.advance(5_000);
    await track(bare);
    expect(await count(s.store, "SELECT count(*) AS n FROM events WHERE anonymous_id = 'anon-nomsg'")).toBe(2);
  });

  it("joins an anonymous visitor's earlier events to the customer on identify", async () => {
    await track({ anonymousId: "anon-42", event: "Product Added", messageId: "a42-1", properties: { product_id: "p2", name: "Kettle", price: 59 }, timestamp: "2026-05-03T09:00:00Z" });
    await post(`${s.url}/v1/page`, { anonymousId: "anon-42", name: "Cart", messageId: "a42-2", timestamp: "2026-05-03T09:01:00Z" }, basic(s.writeKey));
    await post(`${s.url}/v1/identify`, { userId: "u-42", anonymousId: "anon-42", traits: { email: "u42@example.com" }, messageId: "a42-3", timestamp: "2026-05-03T09:05:00Z" }, basic(s.writeKey));
    // A later anonymous event is attributed on arrival.
    await track({ anonymousId: "anon-42", event: "Checkout Started", messageId: "a42-4", timestamp: "2026-05-03T09:06:00Z" });
    const e = await get(`${s.url}/api/customers/u-42/events`, bearer(s.adminKey));
    expect(e.status).toBe(200);
    const events = Array.isArray(e.body.events) ? e.body.events : [];
    expect(events.map((x: { messageId: string }) => x.messageId)).toEqual(["a42-4", "a42-3", "a42-2", "a42-1"]);
    const profile = await get(`${s.url}/api/customers/u-42`, bearer(s.adminKey));
    expect(profile.body).toMatchObject({ anonymousIds: ["anon-42"], rollup: { lastEventAt: "2026-05-03T09:06:00.000Z" } });
  });

  it("merges two known customers on alias", async () => {
    await post(`${s.url}/v1/identify`, { userId: "old-id", traits: { email: "merge@example.com", phone: "+33 6 12 34 56 78" }, messageId: "al-1" }, basic(s.writeKey));
    await track({ userId: "old-id", event: "Order Completed", messageId: "al-2", properties: { order_id: "AL-1", total: 30, currency: "EUR" }, timestamp: "2026-04-01T00:00:00Z" });
    await post(`${s.url}/v1/identify`, { userId: "new-id", traits: { firstName: "Grace" }, messageId: "al-3" }, basic(s.writeKey));
    // Scored before the merge: the merged-away customer's score row goes with them (customer_scores has no foreign key, migration 015).
    expect((await post(`${s.url}/api/models/score`, {}, bearer(s.adminKey))).status).toBe(200);
    const scoreOfOld = "SELECT count(*) AS n FROM customer_scores s JOIN customers c ON c.id = s.customer_id WHERE c.external_id = 'old-id'";
    expect(await count(s.store, scoreOfOld)).toBe(1);
    const oldId = (await s.store.query<{ id: number }>("SELECT id FROM customers WHERE external_id = 'old-id'"))[0]?.id;
    const r = await post(`${s.url}/v1/alias`, { previousId: "old-id", userId: "new-id", messageId: "al-4" }, basic(s.writeKey));
    expect(r.status).toBe(200);
    expect(await count(s.store, "SELECT count(*) AS n FROM customer_scores WHERE customer_id = $1", [oldId])).toBe(0);
    expect((await get(`${s.url}/api/customers/old-id`, bearer(s.adminKey))).status).toBe(404);
    const p = await get(`${s.url}/api/customers/new-id`, bearer(s.adminKey));
    expect(p.body).toMatchObject({ email: "merge@example.com", phone: "+33612345678", firstName: "Grace", rollup: { orderCount: 1, revenueMinor: 3000 } });
    const o = await get(`${s.url}/api/orders/AL-1`, bearer(s.adminKey));
    expect(o.body).toMatchObject({ customerExternalId: "new-id" });
  });

  it("adopts a prospect known by email when the shop's id arrives", async () => {
    await post(`${s.url}/v1/identify`, { anonymousId: "pop-1", traits: { email: "prospect@example.com" }, messageId: "pr-1" }, basic(s.writeKey));
    expect((await get(`${s.url}/api/customers/prospect@example.com`, bearer(s.adminKey))).status).toBe(200);
    await post(`${s.url}/v1/identify`, { userId: "shop-77", traits: { email: "prospect@example.com" }, messageId: "pr-2" }, basic(s.writeKey));
    expect((await get(`${s.url}/api/customers/prospect@example.com`, bearer(s.adminKey))).status).toBe(404);
    const p = await get(`${s.url}/api/customers/shop-77`, bearer(s.adminKey));
    expect(p.body).toMatchObject({ email: "prospect@example.com", anonymousIds: ["pop-1"] });
  });
});

describe("E-commerce v2 events", () => {
  it("turns Order Completed into an order with lines and updates the rollup", async () => {
    const r = await track({
      userId: "buyer-1",
      event: "Order Completed",
      messageId: "oc-1",
      timestamp: "2026-05-10T12:00:00Z",
      properties: {
        order_id: "50314b8e",
        total: 27.5,
        shipping: 3,
        tax: 2,
        discount: 2.5,
        coupon: "hasbros",
        currency: "EUR",
        products: [
          { product_id: "507f1f77", sku: "45790-32", name: "Monopoly", price: 19, quantity: 1, category: "Games" },
          { product_id: "505bd76785", sku: "46493-32", name: "Uno", price: 3.25, quantity: 2, category: "Games" },
        ],
      },
    });
    expect(r.status).toBe(200);
    const o = await get(`${s.url}/api/orders/50314b8e`, bearer(s.adminKey));
    expect(o.body).toMatchObject({
      customerExternalId: "buyer-1",
      totalMinor: 2750,
      subtotalMinor: 2550,
      shippingMinor: 300,
      taxMinor: 200,
      discountMinor: 250,
      discountCodes: ["hasbros"],
      currency: "EUR",
      placedAt: "2026-05-10T12:00:00.000Z",
      lines: [
        { productId: "507f1f77", quantity: 1, unitPriceMinor: 1900, totalMinor: 1900 },
        { productId: "505bd76785", quantity: 2, unitPriceMinor: 325, totalMinor: 650 },
      ],
    });
    const again = await track({ userId: "buyer-1", event: "Order Completed", messageId: "oc-1-retry-with-new-id", properties: { order_id: "50314b8e", total: 27.5, currency: "EUR" } });
    expect(again.status).toBe(200);
    const p = await get(`${s.url}/api/customers/buyer-1`, bearer(s.adminKey));
    expect(p.body).toMatchObject({ rollup: { orderCount: 1, revenueMinor: 2750, firstOrderAt: "2026-05-10T12:00:00.000Z" } });
  });

  it("does not let a re-sent Order Completed change a known order", async () => {
    await post(`${s.url}/api/orders`, { externalId: "SHIPPED-1", customer: { externalId: "buyer-3" }, status: "fulfilled", placedAt: "2026-05-01T00:00:00Z", currency: "EUR", totalMinor: 900 }, bearer(s.adminKey));
    const r = await track({ userId: "buyer-3", event: "Order Completed", messageId: "resent-1", properties: { order_id: "SHIPPED-1", total: 9 } });
    expect(r.status).toBe(200);
    expect((await get(`${s.url}/api/orders/SHIPPED-1`, bearer(s.adminKey))).body).toMatchObject({ status: "fulfilled", source: "api" });
    // The track call is behaviour (it sets the last event time); the order it names is not counted twice.
    expect((await get(`${s.url}/api/customers/buyer-3`, bearer(s.adminKey))).body).toMatchObject({ rollup: { orderCount: 1, lastEventAt: s.clock.now().toISOString() } });
  });

  it("turns Order Refunded into a refund, whole or partial", async () => {
    await track({ userId: "buyer-2", event: "Order Completed", messageId: "oc-2", properties: { order_id: "R-ORD", total: 40, currency: "EUR" } });
    const partial = await track({ userId: "buyer-2", event: "Order Refunded", messageId: "rf-1", properties: { order_id: "R-ORD", products: [{ product_id: "x", price: 10, quantity: 1 }] } });
    expect(partial.status).toBe(200);
    const whole = await track({ userId: "buyer-2", event: "Order Refunded", messageId: "rf-2", properties: { order_id: "R-ORD" } });
    expect(whole.status).toBe(200);
    const p = await get(`${s.url}/api/customers/buyer-2`, bearer(s.adminKey));
    expect(p.body).toMatchObject({ rollup: { orderCount: 1, refundCount: 2, refundedMinor: 1000 + 4000 } });
    const unknown = await track({ userId: "buyer-2", event: "Order Refunded", messageId: "rf-3", properties: { order_id: "NOPE" } });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ error: { issues: [{ field: "properties.order_id" }] } });
  });

  it("records a guest order when the visitor is unknown", async () => {
    await track({ anonymousId: "guest-anon", event: "Order Completed", messageId: "g-1", properties: { order_id: "G-1", total: 12, currency: "USD" } });
    const o = await get(`${s.url}/api/orders/G-1`, bearer(s.adminKey));
    expect(o.body).toMatchObject({ guest: true, customerExternalId: null, currency: "USD", totalMinor: 1200 });
  });

  it("keys a checkout that only gives an email by that email", async () => {
    await track({ anonymousId: "mail-anon", event: "Order Completed", messageId: "g-2", context: { traits: { email: "Guest@Example.com" } }, properties: { order_id: "G-2", total: 15 } });
    const o = await get(`${s.url}/api/orders/G-2`, bearer(s.adminKey));
    expect(o.body).toMatchObject({ guest: false, customerExternalId: "guest@example.com", email: "guest@example.com", currency: "EUR" });
    const p = await get(`${s.url}/api/customers/guest@example.com`, bearer(s.adminKey));
    expect(p.body).toMatchObject({ anonymousIds: ["mail-anon"], rollup: { orderCount: 1, revenueMinor: 1500 } });
  });
});

describe("POST /v1/batch", () => {
  it("keeps the good messages and names the bad ones", async () => {
    const r = await post(
      `${s.url}/v1/batch`,
      {
        batch: [
          { type: "track", userId: "b-1", event: "Product Viewed", messageId: "b-ok-1" },
          { type: "track", userId: "b-1", messageId: "b-bad-1" },
          { type: "page", anonymousId: "b-anon", name: "Home", messageId: "b-ok-2" },
          { type: "track", event: "No One", messageId: "b-bad-2" },
          { type: "track", userId: "b-1", event: "Order Completed", messageId: "b-bad-3", properties: { order_id: "B-1", total: "abc", currency: "EUR" } },
          { type: "track", userId: "b-1", event: "Order Completed", messageId: "b-bad-4", properties: { order_id: "B-2", total: 10, currency: "XYZ" } },
          { type: "nonsense", userId: "b-1", messageId: "b-bad-5" },
          { type: "track", userId: "b-1", event: "Product Viewed", messageId: "b-bad-6", properties: "P100" },
          { type: "page", anonymousId: "b-anon", messageId: "b-bad-7", context: ["not", "an", "object"] },
        ],
        context: { library: { name: "analytics-node", version: "6.0.0" } },
      },
      basic(s.writeKey),
    );
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ success: false, accepted: 2, duplicates: 0 });
    const failed = Array.isArray(r.body.failed) ? r.body.failed : [];
    expect(failed.map((f: { index: number; field: string }) => [f.index, f.field])).toEqual([
      [1, "event"],
      [3, "userId"],
      [4, "properties.total"],
      [5, "properties.currency"],
      [6, "type"],
      [7, "properties"],
      [8, "context"],
    ]);
    expect(failed.find((f: { index: number }) => f.index === 7)).toMatchObject({ messageId: "b-bad-6", message: "expected a JSON object" });
    expect(await count(s.store, "SELECT count(*) AS n FROM events WHERE message_id LIKE 'b-%'")).toBe(2);
    // The batch's context reached each message.
    const [ev] = await s.store.query<{ context: { library?: { name?: string } } }>("SELECT context FROM events WHERE message_id = 'b-ok-1'");
    expect(ev?.context.library?.name).toBe("analytics-node");
    expect(await count(s.store, "SELECT count(*) AS n FROM orders WHERE external_id IN ('B-1', 'B-2')")).toBe(0);
  });

  it("rejects a batch whose every message is bad with 400", async () => {
    const r = await post(`${s.url}/v1/batch`, { batch: [{ type: "track", messageId: "x" }] }, basic(s.writeKey));
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: { code: "invalid_input", issues: [{ field: "batch.0.event", message: "is required" }] } });
  });

  it("applies Segment's clock-skew correction", async () => {
    s.clock.set(new Date("2026-06-01T12:00:00Z"));
    await post(
      `${s.url}/v1/batch`,
      { batch: [{ type: "track", userId: "skew", event: "Skewed", messageId: "skew-1", originalTimestamp: "2026-06-01T13:00:00Z" }], sentAt: "2026-06-01T13:00:10Z" },
      basic(s.writeKey),
    );
    const [ev] = await s.store.query<{ occurred_at: Date }>("SELECT occurred_at FROM events WHERE message_id = 'skew-1'");
    expect(ev?.occurred_at.toISOString()).toBe("2026-06-01T11:59:50.000Z");
  });
});

describe("concurrent batches", () => {
  it("store every event when many batches touch the same customers and products at once", async () => {
    // Each batch names the same 20 customers and 10 products in its own order: without one
    // lock order PostgreSQL deadlocks and aborts some of them.
    const batches = Array.from({ length: 12 }, (_, b) => ({
      batch: Array.from({ length: 60 }, (_, i) => {
        const k = (i * 7 + b * 13) % 60;
        return { type: "track", userId: `cc-${k % 20}`, anonymousId: `cc-anon-${k % 20}`, event: "Product Added", messageId: `cc-${b}-${i}`, properties: { product_id: `cc-p${(k * 3 + b) % 10}`, name: "Thing", price: 5 } };
      }),
    }));
    const results = await Promise.all(batches.map((body) => post(`${s.url}/v1/batch`, body, basic(s.writeKey))));
    expect(results.map((r) => r.status)).toEqual(batches.map(() => 200));
    expect(await count(s.store, "SELECT count(*) AS n FROM events WHERE message_id LIKE 'cc-%'")).toBe(12 * 60);
  });
});

describe("analytics.js 2.0 (browser) paths", () => {
  it("accepts /v1/t, /v1/i, /v1/p and /v1/b with the write key in a text/plain body", async () => {
    const send = async (path: string, body: unknown) => {
      const res = await fetch(`${s.url}/v1/${path}`, { method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify(body) });
      return res.status;
    };
    expect(await send("p", { type: "page", anonymousId: "ajs-1", name: "Home", writeKey: s.writeKey, messageId: "ajs-p" })).toBe(200);
    expect(await send("t", { type: "track", anonymousId: "ajs-1", event: "Product Viewed", writeKey: s.writeKey, messageId: "ajs-t" })).toBe(200);
    expect(await send("i", { type: "identify", userId: "ajs-user", anonymousId: "ajs-1", traits: { email: "ajs@example.com" }, writeKey: s.writeKey, messageId: "ajs-i" })).toBe(200);
    expect(await send("b", { batch: [{ type: "track", anonymousId: "ajs-1", event: "Cart Viewed", messageId: "ajs-b" }], writeKey: s.writeKey })).toBe(200);
    const e = await get(`${s.url}/api/customers/ajs-user/events`, bearer(s.adminKey));
    expect((Array.isArray(e.body.events) ? e.body.events : []).map((x: { messageId: string }) => x.messageId).sort()).toEqual(["ajs-b", "ajs-i", "ajs-p", "ajs-t"]);
  });
});

describe("tracking auth and bad input", () => {
  it("refuses a missing or unknown key with 401", async () => {
    expect((await post(`${s.url}/v1/track`, { userId: "x", event: "E" })).status).toBe(401);
    const bad = await post(`${s.url}/v1/track`, { userId: "x", event: "E" }, basic("fw_not-a-key"));
    expect(bad.status).toBe(401);
    expect(bad.body).toMatchObject({ error: { code: "unauthorized" } });
  });

  it("accepts the write key in the body, as analytics.js beacons send it", async () => {
    const r = await post(`${s.url}/v1/track`, { userId: "beacon", event: "E", writeKey: s.writeKey, messageId: "beacon-1" });
    expect(r.status).toBe(200);
  });

  it("names the problem with invalid JSON", async () => {
    const r = await post(`${s.url}/v1/track`, "{not json", basic(s.writeKey));
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: { issues: [{ field: "(body)" }] } });
  });

  it("refuses bodies over 500 KB with 413 and stores nothing", async () => {
    const before = await count(s.store, "SELECT count(*) AS n FROM events");
    const big = { batch: Array.from({ length: 60 }, (_, i) => ({ type: "track", userId: "big", event: "Big", messageId: `big-${i}`, properties: { pad: "x".repeat(10_000) } })) };
    const r = await post(`${s.url}/v1/batch`, big, basic(s.writeKey));
    expect(r.status).toBe(413);
    expect(r.body).toMatchObject({ error: { code: "payload_too_large" } });
    expect(await count(s.store, "SELECT count(*) AS n FROM events")).toBe(before);
  });

  it("rejects a single message over 32 KB inside a batch", async () => {
    const r = await post(
      `${s.url}/v1/batch`,
      { batch: [{ type: "track", userId: "m", event: "Ok", messageId: "small-1" }, { type: "track", userId: "m", event: "Huge", messageId: "huge-1", properties: { pad: "x".repeat(40_000) } }] },
      basic(s.writeKey),
    );
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ accepted: 1, failed: [{ index: 1, field: "(message)" }] });
  });

  it("rejects invalid traits with the field's path", async () => {
    const r = await post(`${s.url}/v1/identify`, { userId: "t", traits: { email: "not-an-email", birthday: "1990-02-30" } }, basic(s.writeKey));
    expect(r.status).toBe(400);
    expect(issueFields(r.body)).toEqual(expect.arrayContaining(["traits.email", "traits.birthday"]));
  });
});
