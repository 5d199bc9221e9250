/**
 * "Existing Segment clients pointed at Fidelio's host work unchanged": the
 * official @segment/analytics-node library, configured only with Fidelio's
 * host and a write key, sends identify/track/page/screen/group/alias.
 */
import { Analytics } from "@segment/analytics-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, count, get, startTestServer, type TestServer } from "../../../test/helpers.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

describe("@segment/analytics-node against Fidelio", () => {
  it("delivers every call, and E-commerce events become orders", async () => {
    const analytics = new Analytics({ writeKey: s.writeKey, host: s.url, flushAt: 20, maxRetries: 0 });
    const errors: unknown[] = [];
    analytics.on("error", (e) => errors.push(e));
    analytics.page({ anonymousId: "seg-anon", name: "Home", properties: { url: "https://shop.example.com/" } });
    analytics.track({ anonymousId: "seg-anon", event: "Product Added", properties: { product_id: "sku-9", name: "Teapot", price: 35, quantity: 1 } });
    analytics.identify({ userId: "seg-user", anonymousId: "seg-anon", traits: { email: "seg@example.com", name: "Sam Segment" } });
    analytics.track({ userId: "seg-user", event: "Order Completed", properties: { order_id: "SEG-1", total: 35, currency: "EUR", products: [{ product_id: "sku-9", price: 35, quantity: 1 }] } });
    analytics.screen({ userId: "seg-user", name: "Cart" });
    analytics.group({ userId: "seg-user", groupId: "company-1", traits: { name: "Acme" } });
    analytics.alias({ userId: "seg-user", previousId: "seg-anon-2" });
    await analytics.closeAndFlush({ timeout: 20_000 });
    expect(errors).toEqual([]);

    expect(await count(s.store, "SELECT count(*) AS n FROM events WHERE type IN ('page','track','identify','screen','group','alias')")).toBe(7);
    const p = await get(`${s.url}/api/customers/seg-user`, bearer(s.adminKey));
    expect(p.body).toMatchObject({ email: "seg@example.com", firstName: "Sam", lastName: "Segment", anonymousIds: ["seg-anon", "seg-anon-2"], rollup: { orderCount: 1, revenueMinor: 3500 } });
    const events = await get(`${s.url}/api/customers/seg-user/events?limit=20`, bearer(s.adminKey));
    const names = (Array.isArray(events.body.events) ? events.body.events : []).map((e: { type: string; name: string | null }) => `${e.type}:${e.name ?? ""}`);
    // The page view and the cart addition made before login are the customer's.
    expect(names).toEqual(expect.arrayContaining(["page:Home", "track:Product Added", "track:Order Completed", "order:Order Completed", "screen:Cart", "group:", "alias:"]));
  });
});
