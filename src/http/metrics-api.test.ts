/** /api/metrics over real HTTP: figures from orders sent through the admin API, and bad queries named. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, basic, get, issueFields, post, startTestServer, type TestServer } from "../../test/helpers.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer(); // clock: 2026-06-01 12:00 UTC
  const orders = [
    { externalId: "o1", customer: { externalId: "ann", acquisitionChannel: "search" }, placedAt: "2026-03-02T09:00:00Z", currency: "EUR", lines: [{ productId: "beans", quantity: 1, unitPriceMinor: 2000 }] },
    { externalId: "o2", customer: { externalId: "ann" }, placedAt: "2026-04-06T09:00:00Z", currency: "EUR", lines: [{ productId: "beans", quantity: 2, unitPriceMinor: 2000 }] },
    { externalId: "o3", customer: { externalId: "bob", acquisitionChannel: "email" }, placedAt: "2026-04-10T09:00:00Z", currency: "EUR", lines: [{ productId: "mug", quantity: 1, unitPriceMinor: 3000 }] },
    { externalId: "o4", placedAt: "2026-04-11T09:00:00Z", currency: "EUR", lines: [{ productId: "mug", quantity: 1, unitPriceMinor: 1000 }] },
  ];
  const r = await post(`${s.url}/api/orders`, orders, bearer(s.adminKey));
  expect(r.body).toMatchObject({ ok: true, failed: 0 });
});
afterAll(async () => {
  await s.close();
});

const api = (path: string) => get(`${s.url}/api/metrics${path}`, bearer(s.adminKey));

describe("GET /api/metrics", () => {
  it("returns the headline figures of a period", async () => {
    const r = await api("?from=2026-04-01&to=2026-04-30");
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      from: "2026-04-01",
      to: "2026-04-30",
      currency: "EUR",
      customers: 2, // ann (o2) and bob (o3); o4 is a guest order
      orders: 3,
      guestOrders: 1,
      revenue: 8000,
      repeatCustomerRate: 0,
      purchaseFrequency: 1,
      averageOrderValue: 8000 / 3,
      customerValue: 8000 / 3,
      newCustomers: 1,
      returningCustomers: 1,
      returningRevenueShare: 0.5, // o2 is ann's second order
    });
  });

  it("compares with the period of the same length just before", async () => {
    const r = await api("?from=2026-04-01&to=2026-04-30&compare=previous");
    expect(r.body.previous).toMatchObject({ from: "2026-03-02", to: "2026-03-31", customers: 1, orders: 1, revenue: 2000 });
  });

  it("defaults to the whole history up to today", async () => {
    const r = await api("");
    expect(r.body).toMatchObject({ from: "2026-03-02", to: "2026-06-01", customers: 2, orders: 4, revenue: 10_000, repeatCustomerRate: 0.5 });
  });

  it("names the bad parameter", async () => {
    const bad = await api("?from=2026-02-30");
    expect(bad.status).toBe(400);
    expect(issueFields(bad.body)).toEqual(["from"]);
    const reversed = await api("?from=2026-05-01&to=2026-04-01");
    expect(reversed.status).toBe(400);
    expect(issueFields(reversed.body)).toEqual(["from"]);
    const unit = await api("/retention?unit=week");
    expect(unit.status).toBe(400);
    expect(issueFields(unit.body)).toEqual(["unit"]);
    const stage = await api("/advice?stage=huge&cac=-5");
    expect(stage.status).toBe(400);
    expect(issueFields(stage.body).sort()).toEqual(["cac", "stage"]);
  });

  it("refuses repeated, odd and out-of-range parameters, naming them", async () => {
    const cases: [string, string][] = [
      ["?from=2026-01-01&from=2026-02-01", "from"],
      ["?to=9999-12-31", "to"],
      ["/series?from=0500-01-01", "from"],
      ["?from=2027-01-01", "from"], // after today (the server's clock is 2026-06-01)
      ["/advice?cac=0x10", "cac"],
      ["/advice?cac=", "cac"],
      ["/catalogue?limit=1e3", "limit"],
      ["/ladder?max=0", "max"],
    ];
    for (const [query, field] of cases) {
      const r = await api(query);
      expect(r.status, query).toBe(400);
      expect(issueFields(r.body), query).toEqual([field]);
    }
  });

  it("stops at today: months not yet lived are not counted as churn", async () => {
    const r = await api("/retention?unit=month&from=2026-05-01&to=2026-08-31");
    expect(r.status).toBe(200);
    expect(Array.isArray(r.body.rows) ? r.body.rows.map((x: { label: string }) => x.label) : []).toEqual(["2026-05", "2026-06"]);
    const h = await api("?from=2026-04-01&to=2030-01-01");
    expect(h.body).toMatchObject({ from: "2026-04-01", to: "2026-06-01", orders: 3 });
  });

  it("needs the admin key", async () => {
    expect((await get(`${s.url}/api/metrics`)).status).toBe(401);
    expect((await get(`${s.url}/api/metrics`, basic(s.writeKey))).status).toBe(403);
    expect((await get(`${s.url}/api/metrics`, bearer(s.writeKey))).status).toBe(403);
  });
});

describe("the other analytics endpoints", () => {
  it("series, retention and cohorts by month", async () => {
    const series = await api("/series?unit=month&from=2026-03-01&to=2026-04-30");
    expect(series.body.points).toMatchObject([
      { label: "2026-03", customers: 1, orders: 1, revenue: 2000 },
      { label: "2026-04", customers: 2, orders: 3, revenue: 8000 },
    ]);
    const retention = await api("/retention?unit=month&from=2026-03-01&to=2026-05-31");
    expect(retention.body.rows).toMatchObject([
      { label: "2026-03", buyers: 1, retained: null },
      { label: "2026-04", buyers: 2, retained: 1, retentionRate: 1, churnRate: 0 },
      { label: "2026-05", buyers: 0, retained: 0, retentionRate: 0, churnRate: 1 },
    ]);
    const cohorts = await api("/cohorts?from=2026-03-01&to=2026-04-30");
    expect(cohorts.body.cohorts).toMatchObject([
      { cohort: "2026-03", size: 1, revenueToDate: 6000, cells: [{ offset: 0, customers: 1 }, { offset: 1, customers: 1, revenue: 4000 }] },
      { cohort: "2026-04", size: 1, revenueToDate: 3000, cells: [{ offset: 0, customers: 1, revenue: 3000 }] },
    ]);
  });

  it("ladder, intervals with a customer's rhythm, channels, refunds, catalogue and advice", async () => {
    const ladder = await api("/ladder?max=2");
    expect(ladder.body.steps).toEqual([
      { n: 1, customers: 2, next: 1, share: 0.5, medianDaysToNext: 35 },
      { n: 2, customers: 1, next: 0, share: 0, medianDaysToNext: null },
    ]);
    const intervals = await api("/intervals?customer=ann&customer=bob");
    expect(intervals.body).toMatchObject({ intervals: 1, medianDays: 35 });
    expect(intervals.body.customers).toEqual(expect.arrayContaining([expect.objectContaining({ externalId: "ann", medianDays: 35, expectedNextAt: "2026-05-11T09:00:00.000Z" })]));
    const channels = await api("/channels");
    expect(channels.body.channels).toMatchObject([
      { channel: "email", customers: 1, repeatRate: 0 },
      { channel: "search", customers: 1, repeatRate: 1, revenue: 6000 },
    ]);
    const refunds = await api("/refunds");
    expect(refunds.body).toMatchObject({ orders: 4, refundedOrders: 0, orderRefundRate: 0, refunds: 0 });
    const catalogue = await api("/catalogue?limit=1");
    expect(catalogue.body).toMatchObject({ customerRevenue: 9000, rebuyRevenue: 6000, products: [{ productId: "beans", rebuyers: 1, medianRebuyDays: 35 }] });
    const advice = await api("/advice?cac=1500");
    expect(advice.body).toMatchObject({ stage: "just-opened", retentionShare: 0.1 });
    expect(Array.isArray(advice.body.reasoning)).toBe(true);
  });

  it("are described in the OpenAPI document", async () => {
    const doc = await get(`${s.url}/api/openapi.json`);
    const paths = Object.keys(Object(doc.body.paths));
    for (const p of ["/api/metrics", "/api/metrics/series", "/api/metrics/retention", "/api/metrics/cohorts", "/api/metrics/ladder", "/api/metrics/intervals", "/api/metrics/channels", "/api/metrics/refunds", "/api/metrics/catalogue", "/api/metrics/advice"]) {
      expect(paths).toContain(p);
    }
  });
});
