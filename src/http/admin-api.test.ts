/** The admin REST API over real HTTP: each endpoint, batches, auth and bad input. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { basic, bearer, count, get, issueFields, post, startTestServer, type TestServer } from "../../test/helpers.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

const admin = (path: string, body: unknown) => post(`${s.url}/api${path}`, body, bearer(s.adminKey));
const read = (path: string) => get(`${s.url}/api${path}`, bearer(s.adminKey));

describe("customers", () => {
  it("creates, then updates without losing what was not sent", async () => {
    const created = await admin("/customers", {
      externalId: "c-1",
      email: "c1@example.com",
      firstName: "Ana",
      birthday: "1985-03-04",
      timeZone: "Europe/Madrid",
      acquisitionChannel: "paid_search",
      firstTouch: { source: "google", medium: "cpc", campaign: "brand" },
      consents: [{ channel: "email", granted: true, source: "checkout", at: "2026-01-01T00:00:00Z" }],
      traits: { shoeSize: 38 },
    });
    expect(created).toEqual({ status: 201, body: { externalId: "c-1", created: true } });
    s.clock.set(new Date("2026-06-02T00:00:00Z"));
    const updated = await admin("/customers", { externalId: "c-1", lastName: "Silva", acquisitionChannel: "email", consents: [{ channel: "email", granted: false }], traits: { shoeSize: 39 } });
    expect(updated).toEqual({ status: 200, body: { externalId: "c-1", created: false } });
    const p = await read("/customers/c-1");
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({
      email: "c1@example.com",
      firstName: "Ana",
      lastName: "Silva",
      birthday: "1985-03-04",
      acquisitionChannel: "paid_search", // the first touch is never overwritten
      traits: { shoeSize: { value: 39, source: "api", learnedAt: "2026-06-02T00:00:00.000Z" } },
      consents: { email: { granted: false, source: "api", changedAt: "2026-06-02T00:00:00.000Z" } },
      rollup: { orderCount: 0, revenueMinor: 0, currency: "EUR" },
    });
    // Consent changes are in the event log, with their time and source.
    const e = await read("/customers/c-1/events");
    const names = (Array.isArray(e.body.events) ? e.body.events : []).map((x: { name: string }) => x.name);
    expect(names).toEqual(["Consent Revoked", "Consent Granted"]);
  });

  it("accepts a batch, keeps the good items and names the bad ones", async () => {
    const r = await admin("/customers", [
      { externalId: "b-1", email: "b1@example.com" },
      { externalId: "b-2", email: "nope" },
      { email: "b3@example.com" },
      { firstName: "no id" },
      { externalId: "b-5", timeZone: "Mars/Olympus" },
      { externalId: "b-6", unknownField: 1 },
    ]);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: false, failed: 4 });
    const results = Array.isArray(r.body.results) ? r.body.results : [];
    expect(results.map((x: { ok: boolean; issues?: { field: string }[] }) => (x.ok ? "ok" : x.issues?.[0]?.field))).toEqual([
      "ok",
      "1.email",
      "ok",
      "3.externalId",
      "4.timeZone",
      "5.unknownField", // the unknown field itself is named
    ]);
    expect(await count(s.store, "SELECT count(*) AS n FROM customers WHERE external_id IN ('b-1', 'b3@example.com')")).toBe(2);
  });

  it("returns 404 for an unknown customer", async () => {
    const r = await read("/customers/nobody");
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ error: { code: "not_found" } });
  });

  it("pages a customer's events newest first", async () => {
    for (let i = 0; i < 5; i++) {
      await post(`${s.url}/v1/track`, { userId: "pager", event: `E${i}`, messageId: `pg-${i}`, timestamp: `2026-05-0${i + 1}T00:00:00Z` }, basic(s.writeKey));
    }
    const first = await read("/customers/pager/events?limit=2");
    const names = (b: Record<string, unknown>) => (Array.isArray(b.events) ? b.events.map((e: { name: string }) => e.name) : []);
    expect(names(first.body)).toEqual(["E4", "E3"]);
    const second = await read(`/customers/pager/events?limit=2&before=${String(first.body.next)}`);
    expect(names(second.body)).toEqual(["E2", "E1"]);
    const bad = await read("/customers/pager/events?limit=0");
    expect(bad.status).toBe(400);
    expect(issueFields(bad.body)).toEqual(["limit"]);
  });
});

describe("products, orders and refunds", () => {
  it("upserts and reads a product", async () => {
    expect((await admin("/products", { externalId: "sku-1", title: "Beans", category: "coffee", priceMinor: 1290, currency: "eur", usageDays: 30 })).status).toBe(201);
    expect((await admin("/products", { externalId: "sku-1", title: "Beans 1kg" })).status).toBe(200);
    expect((await read("/products/sku-1")).body).toMatchObject({ title: "Beans 1kg", category: "coffee", priceMinor: 1290, currency: "EUR", usageDays: 30 });
  });

  it("records an order idempotently and keeps the rollup current", async () => {
    const order = {
      externalId: "O-1",
      customer: { externalId: "c-9", email: "c9@example.com" },
      placedAt: "2026-03-01T10:00:00+01:00",
      currency: "EUR",
      shippingMinor: 490,
      discountMinor: 100,
      discountCodes: ["WELCOME"],
      salesChannel: "web",
      lines: [
        { productId: "sku-1", quantity: 2, unitPriceMinor: 1290 },
        { productId: "sku-2", quantity: 1, unitPriceMinor: 500, discountMinor: 50 },
      ],
    };
    expect((await admin("/orders", order)).status).toBe(201);
    expect((await admin("/orders", order)).body).toEqual({ externalId: "O-1", created: false });
    const o = await read("/orders/O-1");
    expect(o.body).toMatchObject({ placedAt: "2026-03-01T09:00:00.000Z", subtotalMinor: 3030, totalMinor: 3030 - 100 + 490, customerExternalId: "c-9" });
    await admin("/orders", { ...order, externalId: "O-2", placedAt: "2026-04-01T00:00:00Z", lines: [{ quantity: 1, unitPriceMinor: 1000 }] });
    const p = await read("/customers/c-9");
    expect(p.body).toMatchObject({ rollup: { orderCount: 2, revenueMinor: 3420 + 1390, firstOrderAt: "2026-03-01T09:00:00.000Z", lastOrderAt: "2026-04-01T00:00:00.000Z" } });
    // A cancellation arriving later takes the order out of the rollup.
    await admin("/orders", { ...order, externalId: "O-2", status: "cancelled", placedAt: "2026-04-01T00:00:00Z", lines: [{ quantity: 1, unitPriceMinor: 1000 }] });
    expect((await read("/customers/c-9")).body).toMatchObject({ rollup: { orderCount: 1, revenueMinor: 3420, lastOrderAt: "2026-03-01T09:00:00.000Z" } });
  });

  it("counts other currencies as orders but keeps revenue in the workspace currency", async () => {
    await admin("/orders", { externalId: "USD-1", customer: { externalId: "c-usd" }, placedAt: "2026-03-01T00:00:00Z", currency: "USD", totalMinor: 5000 });
    await admin("/orders", { externalId: "JPY-1", customer: { externalId: "c-usd" }, placedAt: "2026-03-02T00:00:00Z", currency: "JPY", totalMinor: 800 });
    expect((await read("/customers/c-usd")).body).toMatchObject({ rollup: { orderCount: 2, revenueMinor: 0 } });
  });

  it("records refunds against orders and refuses an unknown order with 422", async () => {
    const r = await admin("/refunds", { externalId: "RF-1", orderExternalId: "O-1", refundedAt: "2026-03-10T00:00:00Z", currency: "EUR", amountMinor: 1290, reason: "damaged", lines: [{ productId: "sku-1", quantity: 1, amountMinor: 1290 }] });
    expect(r.status).toBe(201);
    expect((await read("/refunds/RF-1")).body).toMatchObject({ orderExternalId: "O-1", customerExternalId: "c-9", amountMinor: 1290 });
    expect((await read("/customers/c-9")).body).toMatchObject({ rollup: { refundCount: 1, refundedMinor: 1290 } });
    const unknown = await admin("/refunds", { externalId: "RF-2", orderExternalId: "NOPE", refundedAt: "2026-03-10T00:00:00Z", currency: "EUR", amountMinor: 1 });
    expect(unknown.status).toBe(422);
    expect(issueFields(unknown.body)).toEqual(["orderExternalId"]);
  });

  it("rejects bad orders naming the field", async () => {
    const base = { externalId: "BAD", placedAt: "2026-01-01T00:00:00Z", currency: "EUR", lines: [{ quantity: 1, unitPriceMinor: 100 }] };
    const cases: [unknown, string][] = [
      [{ ...base, currency: "XXY" }, "currency"],
      [{ ...base, placedAt: "yesterday" }, "placedAt"],
      [{ ...base, lines: [{ quantity: -1, unitPriceMinor: 100 }] }, "lines.0.quantity"],
      [{ ...base, lines: [{ quantity: 1, unitPriceMinor: 1.5 }] }, "lines.0.unitPriceMinor"],
      [{ ...base, externalId: undefined }, "externalId"],
      [{ ...base, discountMinor: 500 }, "totalMinor"],
      [{ ...base, totalMinor: "12" }, "totalMinor"],
    ];
    for (const [body, field] of cases) {
      const r = await admin("/orders", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(issueFields(r.body)[0]).toBe(field);
    }
    expect((await read("/orders/BAD")).status).toBe(404);
  });
});

describe("auth, limits and the OpenAPI document", () => {
  it("refuses requests without a key, with a bad key, and with a write key", async () => {
    expect((await get(`${s.url}/api/customers/c-1`)).status).toBe(401);
    expect((await get(`${s.url}/api/customers/c-1`, bearer("fa_wrong"))).status).toBe(401);
    const w = await get(`${s.url}/api/customers/c-1`, bearer(s.writeKey));
    expect(w.status).toBe(403);
    expect(w.body).toMatchObject({ error: { code: "forbidden" } });
    expect((await post(`${s.url}/api/customers`, { externalId: "w" }, bearer(s.writeKey))).status).toBe(403);
  });

  it("rejects oversized and non-JSON bodies", async () => {
    expect((await admin("/customers", "[")).status).toBe(400);
    const big = await admin("/customers", { externalId: "big", traits: { blob: "x".repeat(600 * 1024) } });
    expect(big.status).toBe(413);
    expect(await count(s.store, "SELECT count(*) AS n FROM customers WHERE external_id = 'big'")).toBe(0);
  });

  it("refuses text with a NUL character (which PostgreSQL cannot store) by field, not with a 500", async () => {
    const c = await admin("/customers", { externalId: "nul-1", firstName: "Ada\u0000" });
    expect(c.status).toBe(400);
    expect(c.body).toMatchObject({ error: { code: "invalid_input", issues: [{ field: "firstName", message: expect.stringMatching(/NUL character/) }] } });
    // In an array of items, the bad one is named and the others are kept.
    const many = await admin("/customers", [{ externalId: "nul-2" }, { externalId: "nul-3", traits: { ["note\u0000"]: 1 } }]);
    expect(JSON.stringify(many.body)).toContain("NUL character");
    expect(await count(s.store, "SELECT count(*) AS n FROM customers WHERE external_id LIKE 'nul-%'")).toBe(1);
    // In a path parameter the database refuses it; the answer is still the request's fault.
    const p = await get(`${s.url}/api/customers/nul%00x`, bearer(s.adminKey));
    expect(p.status).toBe(400);
    expect(p.body).toMatchObject({ error: { code: "invalid_input" } });
  });

  it("answers unknown routes with a JSON 404", async () => {
    const r = await get(`${s.url}/api/nothing-here`, bearer(s.adminKey));
    expect(r.status).toBe(404);
  });

  it("serves an OpenAPI 3.1 document describing every route", async () => {
    const r = await get(`${s.url}/api/openapi.json`);
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe("3.1.0");
    const paths = Object.keys(typeof r.body.paths === "object" && r.body.paths !== null ? r.body.paths : {});
    expect(paths).toEqual(
      expect.arrayContaining(["/v1/track", "/v1/batch", "/api/customers", "/api/customers/{externalId}/events", "/api/orders", "/api/refunds", "/api/products", "/webhooks/shopify/orders"]),
    );
    expect(JSON.stringify(r.body.components)).toContain("unitPriceMinor");
  });

  it("shows a status page at / while the dashboard is not built", async () => {
    const bare = await startTestServer({ webDir: mkdtempSync(join(tmpdir(), "fidelio-noweb-")) });
    try {
      const res = await fetch(`${bare.url}/`);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain("Fidelio is running");
      expect(text).toContain("npm run build:web");
      expect((await fetch(`${bare.url}/cohorts`)).status).toBe(404);
    } finally {
      await bare.close();
    }
  });
});
