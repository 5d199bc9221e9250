/**
 * Every metric on a small shop whose answers are worked out by hand in the
 * comments. Four customers, one guest, one cancelled order, one order in a
 * foreign currency and two refunds, January–April 2026.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestWorkspace, type TestStore } from "../../test/helpers.ts";
import { parseInput, SimulatedClock } from "../shared/index.ts";
import { OrderRecord, ProductRecord, RefundRecord, CustomerRecord, writeCustomers, writeOrders, writeProducts, writeRefunds } from "../ingest/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { figureWays } from "./figure-ways.ts";
import {
  budgetAdvice,
  catalogueMetrics,
  channelLoyalty,
  customerRhythms,
  inferStage,
  refundMetrics,
  resolvePeriod,
} from "./index.ts";

const now = new Date("2026-06-01T00:00:00Z");
const clock = new SimulatedClock(now);

type Line = { productId: string; quantity: number; unitPriceMinor: number };
const order = (id: string, customer: string | null, at: string, lines: Line[], extra: Record<string, unknown> = {}) =>
  parseInput(OrderRecord, {
    externalId: id,
    ...(customer ? { customer: { externalId: customer } } : {}),
    placedAt: at,
    currency: "EUR",
    lines,
    ...extra,
  });
const coffee = (eur: number, quantity = 1): Line => ({ productId: "coffee", quantity, unitPriceMinor: (eur * 100) / quantity });
const mug = (eur: number): Line => ({ productId: "mug", quantity: 1, unitPriceMinor: eur * 100 });
const tea = (eur: number): Line => ({ productId: "tea", quantity: 1, unitPriceMinor: eur * 100 });

let t: TestStore;
let ws: Workspace;
beforeAll(async () => {
  const opened = await openTestWorkspace();
  t = opened;
  ws = opened.ws;
  await t.store.transaction(async (tx) => {
    await writeProducts(tx, ws, [
      parseInput(ProductRecord, { externalId: "coffee", title: "Coffee beans", category: "food" }),
      parseInput(ProductRecord, { externalId: "mug", title: "Mug", category: "kitchen" }),
      parseInput(ProductRecord, { externalId: "tea", title: "Tea", category: "food", usageDays: 30 }),
    ], now);
    await writeCustomers(tx, ws, [
      parseInput(CustomerRecord, { externalId: "A", acquisitionChannel: "google" }),
      parseInput(CustomerRecord, { externalId: "B", acquisitionChannel: "email" }),
      parseInput(CustomerRecord, { externalId: "C", acquisitionChannel: "google" }),
      parseInput(CustomerRecord, { externalId: "D", firstTouch: { source: "facebook", medium: "cpc" } }),
    ], "test", now);
    await writeOrders(tx, ws, [
      order("a1", "A", "2026-01-05T10:00:00Z", [coffee(100, 2)]),
      order("a2", "A", "2026-01-20T10:00:00Z", [mug(50)]),
      order("a3", "A", "2026-03-10T10:00:00Z", [coffee(30)]),
      order("b1", "B", "2026-01-10T10:00:00Z", [coffee(40)]),
      order("b2", "B", "2026-02-15T10:00:00Z", [mug(60)]),
      order("b3", "B", "2026-03-05T10:00:00Z", [coffee(70)], { currency: "USD" }),
      order("c1", "C", "2026-02-01T10:00:00Z", [mug(80)]),
      order("c2", "C", "2026-03-01T10:00:00Z", [coffee(999)], { status: "cancelled" }),
      order("d1", "D", "2026-02-20T10:00:00Z", [tea(20)]),
      order("d2", "D", "2026-02-20T15:00:00Z", [tea(20)]),
      order("d3", "D", "2026-04-05T10:00:00Z", [tea(20)]),
      order("g1", null, "2026-01-15T10:00:00Z", [coffee(25)]),
    ], "test", now);
    await writeRefunds(tx, ws, [
      parseInput(RefundRecord, {
        externalId: "r1", orderExternalId: "b2", customer: { externalId: "B" }, refundedAt: "2026-02-20T09:00:00Z",
        currency: "EUR", amountMinor: 3000, lines: [{ productId: "mug", quantity: 1, amountMinor: 3000 }],
      }),
      parseInput(RefundRecord, { externalId: "r2", customer: { externalId: "A" }, refundedAt: "2026-03-15T09:00:00Z", currency: "EUR", amountMinor: 1000 }),
    ], "test", now);
  });
}, 60_000);
afterAll(async () => {
  await t.cleanup();
});

const period = (from?: string, to?: string) => resolvePeriod(t.store, ws, { from, to }, clock);

/**
 * Both ways of counting: SQL (the reference) and the in-memory order
 * projection the server answers from. Every worked-out answer below must
 * come out of both.
 */
const ways = figureWays(() => ({ store: t.store, ws }));

describe("periods", () => {
  it("defaults from the first order to today and refuses from after to", async () => {
    const p = await period();
    expect([p.from, p.to]).toEqual(["2026-01-05", "2026-06-01"]);
    await expect(period("2026-05-01", "2026-04-01")).rejects.toMatchObject({ code: "invalid_input", issues: [{ field: "from" }] });
  });
});

describe.each(ways)("headline metrics ($way)", (w) => {
  it("over the whole history", async () => {
    const m = await w.headline(await period("2026-01-01", "2026-04-30"));
    expect(m).toMatchObject({
      customers: 4, // A, B, C, D (the guest is not a customer)
      orders: 11, // 12 minus the cancelled c2
      guestOrders: 1,
      customerOrders: 10,
      revenue: 44_500, // A 180 + B 100 (the USD order is not revenue) + C 80 + D 60 + guest 25 euros
      otherCurrencyOrders: 1,
      refunds: { count: 2, amount: 4_000 },
      repeatCustomers: 3, // A, B and D have three orders each; C one
      repeatCustomerRate: 0.75,
      purchaseFrequency: 2.5, // 10 customer orders ÷ 4 customers
      averageOrderValue: 4_450, // 44,500 ÷ the 10 orders in euros
      customerValue: 11_125, // 2.5 × 4,450
      newCustomers: 4,
      returningCustomers: 0,
    });
    // Not-first orders: a2 50 + a3 30 + b2 60 + d2 20 + d3 20 = 180 euros.
    expect(m.returningRevenueShare).toBeCloseTo(18_000 / 44_500, 12);
  });

  it("over February only", async () => {
    const m = await w.headline(await period("2026-02-01", "2026-02-28"));
    expect(m).toMatchObject({
      customers: 3, // B, C, D
      orders: 4, // b2, c1, d1, d2
      revenue: 18_000,
      repeatCustomers: 1, // D twice on the 20th
      averageOrderValue: 4_500,
      newCustomers: 2, // C and D start in February; B started in January
      returningCustomers: 1,
      refunds: { count: 1, amount: 3_000 },
    });
    expect(m.repeatCustomerRate).toBeCloseTo(1 / 3, 12);
    expect(m.purchaseFrequency).toBeCloseTo(4 / 3, 12);
    expect(m.customerValue).toBeCloseTo(6_000, 9);
    expect(m.returningRevenueShare).toBeCloseTo(8_000 / 18_000, 12); // b2 60 + d2 20
  });

  it("an empty period gives zeros and unknown rates, not errors", async () => {
    const m = await w.headline(await period("2025-01-01", "2025-01-31"));
    expect(m).toMatchObject({ customers: 0, orders: 0, revenue: 0, repeatCustomerRate: null, averageOrderValue: null, customerValue: null });
  });

  it("month by month (the Overview's trend)", async () => {
    const points = await w.series(await period("2026-01-01", "2026-05-31"), "month");
    expect(points.map((p) => [p.label, p.orders, p.customers, p.revenue, p.repeatCustomerRate])).toEqual([
      ["2026-01", 4, 2, 21_500, 0.5], // a1 a2 b1 g1; A twice
      ["2026-02", 4, 3, 18_000, 1 / 3], // b2 c1 d1 d2; D twice
      ["2026-03", 2, 2, 3_000, 0], // a3 and b3 (dollars: an order, not revenue); c2 cancelled
      ["2026-04", 1, 1, 2_000, 0], // d3
      ["2026-05", 0, 0, 0, null],
    ]);
    expect(points[2]?.averageOrderValue).toBe(3_000); // the one euro order
    expect(points[0]?.purchaseFrequency).toBe(1.5); // 3 customer orders ÷ 2 customers
    const quarters = await w.series(await period("2026-02-10", "2026-05-01"), "quarter");
    expect(quarters.map((p) => [p.label, p.orders, p.customers])).toEqual([["2026-Q1", 10, 4], ["2026-Q2", 1, 1]]);
  });
});

describe.each(ways)("retention between periods ($way)", (w) => {
  it("month by month", async () => {
    const rows = await w.retention(await period("2026-01-01", "2026-04-30"), "month");
    // Buyers: Jan {A,B}, Feb {B,C,D}, Mar {A,B}, Apr {D}.
    expect(rows.map((r) => [r.label, r.buyers, r.newBuyers, r.retained])).toEqual([
      ["2026-01", 2, 2, null],
      ["2026-02", 3, 2, 1],
      ["2026-03", 2, 0, 1],
      ["2026-04", 1, 0, 0],
    ]);
    expect(rows.map((r) => r.retentionRate)).toEqual([null, 0.5, 1 / 3, 0]);
    expect(rows[3]?.churnRate).toBe(1);
  });

  it("by quarter, with whole calendar quarters", async () => {
    const rows = await w.retention(await period("2026-02-10", "2026-05-01"), "quarter");
    expect(rows.map((r) => [r.label, r.start, r.buyers, r.retained])).toEqual([
      ["2026-Q1", "2026-01-01", 4, null],
      ["2026-Q2", "2026-04-01", 1, 1], // D again in April
    ]);
    expect(rows[1]?.retentionRate).toBe(0.25);
  });
});

describe.each(ways)("cohorts ($way)", (w) => {
  it("widens a period that starts mid-month to the whole month", async () => {
    const mid = await w.cohorts(await period("2026-02-15", "2026-04-30"));
    expect(mid.map((c) => [c.cohort, c.size])).toEqual([["2026-02", 2]]); // C (Feb 1) counts too
  });

  it("customers and revenue by months since the first order, with historical CLV", async () => {
    const cohorts = await w.cohorts(await period("2026-01-01", "2026-04-30"));
    expect(cohorts.map((c) => [c.cohort, c.size, c.revenueToDate, c.historicalClv])).toEqual([
      ["2026-01", 2, 28_000, 14_000], // A 180 + B 100
      ["2026-02", 2, 14_000, 7_000], // C 80 + D 60
    ]);
    const jan = cohorts[0]?.cells ?? [];
    expect(jan.map((c) => [c.offset, c.customers, c.customerShare, c.revenue])).toEqual([
      [0, 2, 1, 19_000], // a1 100 + a2 50 + b1 40
      [1, 1, 0.5, 6_000], // b2
      [2, 2, 1, 3_000], // a3 30; b3 is in dollars: B is active, without euro revenue
      [3, 0, 0, 0],
    ]);
    expect(jan[1]?.revenueShare).toBeCloseTo(6_000 / 19_000, 12);
    const feb = cohorts[1]?.cells ?? [];
    expect(feb.map((c) => [c.offset, c.customers, c.revenue])).toEqual([
      [0, 2, 12_000],
      [1, 0, 0],
      [2, 1, 2_000],
    ]);
  });
});

describe.each(ways)("repeat ladder ($way)", (w) => {
  it("the share of n-time buyers who buy an (n+1)-th time, and the median wait", async () => {
    const steps = await w.ladder(4);
    expect(steps.map((s) => [s.n, s.customers, s.next, s.share])).toEqual([
      [1, 4, 3, 0.75],
      [2, 3, 3, 1],
      [3, 3, 0, 0],
      [4, 0, 0, null],
    ]);
    // 1→2: A 15 days, B 36 days, D 5 hours → median 15.
    expect(steps[0]?.medianDaysToNext).toBeCloseTo(15, 9);
    // 2→3: A 49, B 18, D Feb 20 15:00 → Apr 5 10:00 = 43 days 19 hours → median 43.79.
    expect(steps[1]?.medianDaysToNext).toBeCloseTo(43 + 19 / 24, 9);
    expect(steps[2]?.medianDaysToNext).toBeNull();
  });
});

describe.each(ways)("time between purchases ($way)", (w) => {
  it("days between purchase days, overall and per customer", async () => {
    const s = await w.intervals();
    // Gaps between distinct days: A 15, 49; B 36, 18; D 44 (its two orders of Feb 20 are one day).
    expect(s).toMatchObject({ intervals: 5, medianDays: 36, meanDays: 32.4, p25Days: 18, p75Days: 44, customersWithRhythm: 3 });
    const counts = Object.fromEntries(s.histogram.map((h) => [h.label, h.count]));
    expect(counts).toMatchObject({ "8–14 days": 0, "15–30 days": 2, "31–60 days": 3 });
    // Own medians: A 32, B 27, D 44.
    expect(Object.fromEntries(s.rhythmHistogram.map((h) => [h.label, h.count]))).toMatchObject({ "15–30 days": 1, "31–60 days": 2 });
    const [a, c] = await customerRhythms(t.store, ws, ["A", "C", "nobody"]).then((r) => [r.find((x) => x.externalId === "A"), r.find((x) => x.externalId === "C")]);
    expect(a).toEqual({ externalId: "A", purchaseDays: 3, medianDays: 32, lastOrderAt: "2026-03-10T10:00:00.000Z", expectedNextAt: "2026-04-11T10:00:00.000Z" });
    expect(c).toMatchObject({ purchaseDays: 1, medianDays: null, expectedNextAt: null });
  });
});

describe("acquisition channels", () => {
  it("loyalty per first-touch channel, and revenue per customer within 90 days", async () => {
    const rows = await channelLoyalty(t.store, ws, now);
    expect(rows.map((r) => [r.channel, r.customers, r.repeatCustomers, r.repeatRate, r.orders, r.revenue, r.averageOrderValue])).toEqual([
      ["google", 2, 1, 0.5, 4, 26_000, 6_500], // A and C
      ["email", 1, 1, 1, 3, 10_000, 5_000], // B: two orders in euros
      ["facebook", 1, 1, 1, 3, 6_000, 2_000], // D, from its first-touch UTM source
    ]);
    const google = rows[0]?.revenuePerCustomer ?? [];
    expect(google).toEqual([
      { days: 90, eligible: 2, value: 13_000 }, // A 180 (all within 90 days) + C 80, ÷ 2
      { days: 180, eligible: 0, value: null }, // nobody's first order is 180 days old on June 1st
      { days: 365, eligible: 0, value: null },
    ]);
  });
});

describe("refunds and catalogue", () => {
  it("refund rates by orders, by revenue and by category", async () => {
    const r = await refundMetrics(t.store, ws, await period("2026-01-01", "2026-04-30"));
    expect(r).toMatchObject({ orders: 11, refundedOrders: 1, revenue: 44_500, refunds: 2, refundedAmount: 4_000 });
    expect(r.orderRefundRate).toBeCloseTo(1 / 11, 12);
    expect(r.revenueRefundRate).toBeCloseTo(4_000 / 44_500, 12);
    expect(r.byCategory).toEqual([
      { category: "food", soldAmount: 25_500, refundedAmount: 0, rate: 0, soldQuantity: 8, refundedQuantity: 0 },
      { category: "kitchen", soldAmount: 19_000, refundedAmount: 3_000, rate: 3_000 / 19_000, soldQuantity: 3, refundedQuantity: 1 },
      { category: "(unspecified)", soldAmount: 0, refundedAmount: 1_000, rate: null, soldQuantity: 0, refundedQuantity: 0 },
    ]);
  });

  it("files a refunded line under the category its order line had, and what lines do not cover as unspecified", async () => {
    const own = await openTestWorkspace();
    try {
      await own.store.transaction(async (tx) => {
        await writeProducts(tx, own.ws, [parseInput(ProductRecord, { externalId: "beans", title: "Beans", category: "Coffee beans" })], now);
        await writeOrders(tx, own.ws, [
          parseInput(OrderRecord, { externalId: "o", placedAt: "2026-03-01T10:00:00Z", currency: "EUR", lines: [{ productId: "beans", category: "coffee", quantity: 2, unitPriceMinor: 2000 }], shippingMinor: 500 }),
        ], "test", now);
        await writeRefunds(tx, own.ws, [
          parseInput(RefundRecord, { externalId: "r", orderExternalId: "o", refundedAt: "2026-03-05T10:00:00Z", currency: "EUR", amountMinor: 2500, lines: [{ productId: "beans", quantity: 1, amountMinor: 2000 }] }),
        ], "test", now);
      });
      const r = await refundMetrics(own.store, own.ws, await resolvePeriod(own.store, own.ws, { from: "2026-03-01", to: "2026-03-31" }, clock));
      expect(r.byCategory).toEqual([
        { category: "coffee", soldAmount: 4000, refundedAmount: 2000, rate: 0.5, soldQuantity: 2, refundedQuantity: 1 },
        { category: "(unspecified)", soldAmount: 0, refundedAmount: 500, rate: null, soldQuantity: 0, refundedQuantity: 0 }, // the refunded shipping
      ]);
      expect(r.orderRefundRate).toBe(1);
    } finally {
      await own.cleanup();
    }
  });

  it("how much revenue comes from products the same customer buys again", async () => {
    const c = await catalogueMetrics(t.store, ws, await period("2026-01-01", "2026-04-30"));
    // Known customers' euro lines: A coffee 130 (two orders), A mug 50, B coffee 40, B mug 60, C mug 80, D tea 60 (three orders).
    expect(c).toMatchObject({ customerRevenue: 42_000, rebuyRevenue: 19_000, medianRebuyDays: 54 });
    expect(c.replenishableShare).toBeCloseTo(19_000 / 42_000, 12);
    expect(c.products.map((p) => [p.productId, p.revenue, p.buyers, p.rebuyers, p.medianRebuyDays, p.usageDays])).toEqual([
      ["coffee", 19_500, 2, 1, 64, null], // guest's 25 included in revenue; A re-bought after 64 days
      ["mug", 19_000, 3, 0, null, null],
      ["tea", 6_000, 1, 1, 44, 30],
    ]);
  });
});

describe("budget advice", () => {
  it("infers the stage from the figures", () => {
    expect(inferStage({ customers: 30, historyDays: 400, ordersLast90Days: 50, ordersPrevious90Days: 40 }).stage).toBe("just-opened");
    expect(inferStage({ customers: 200, historyDays: 400, ordersLast90Days: 150, ordersPrevious90Days: 100 }).stage).toBe("starting");
    expect(inferStage({ customers: 1000, historyDays: 400, ordersLast90Days: 300, ordersPrevious90Days: 200 }).stage).toBe("growing");
    expect(inferStage({ customers: 1000, historyDays: 400, ordersLast90Days: 300, ordersPrevious90Days: 290 }).stage).toBe("launched");
    expect(inferStage({ customers: 6000, historyDays: 800, ordersLast90Days: 1000, ordersPrevious90Days: 1000 }).stage).toBe("established");
    // Exactly 15 % more is growing (115 / 100 − 1 is 0.1499… in floating point).
    expect(inferStage({ customers: 1000, historyDays: 400, ordersLast90Days: 115, ordersPrevious90Days: 100 }).stage).toBe("growing");
    expect(inferStage({ customers: 1000, historyDays: 400, ordersLast90Days: 230, ordersPrevious90Days: 200 }).stage).toBe("growing");
  });

  it("puts nearly everything on acquisition for a shop this young, with its reasons", async () => {
    const a = await budgetAdvice(t.store, ws, now, {});
    expect(a).toMatchObject({ stage: "just-opened", stageInferred: true, retentionShare: 0.1, acquisitionShare: 0.9 });
    // Jan 5 10:00 to Jun 1 00:00 is 146.6 days.
    expect(a.figures).toMatchObject({ customers: 4, historyDays: 146, repeatCustomerRate: 0.75, historicalClv: 10_500 });
    expect(a.reasoning[0]).toContain("4 customers");
    expect(a.reasoning.at(-1)).toBe("Advice: 10 % of the budget on retention, 90 % on acquisition.");
  });

  it("weighs lifetime value against the acquisition cost when the shop sets its stage", async () => {
    const share = async (cac: number) => (await budgetAdvice(t.store, ws, now, { stage: "established", cac })).retentionShare;
    expect(await share(5_000)).toBe(0.6); // CLV 10,500 ÷ CAC 5,000 = 2.1: left as it is
    expect(await share(20_000)).toBe(0.7); // 0.525: each new customer loses money
    expect(await share(3_000)).toBe(0.5); // 3.5: acquisition pays
    const a = await budgetAdvice(t.store, ws, now, { stage: "established", cac: 20_000 });
    expect(a.stageInferred).toBe(false);
    expect(a.figures.clvToCac).toBeCloseTo(0.525, 12);
  });
});
