/**
 * The metrics SQL against the real CDNOW master log (23,570 customers, 69,659
 * purchases, Jan 1997 – Jun 1998), imported once through the real import path.
 * Every figure is checked against a second, deliberately plain implementation:
 * loops over the raw text of the file, no SQL and nothing from src/metrics.
 * Runs on PGlite and, with DATABASE_URL, on PostgreSQL.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { count, openTestStore, type TestStore } from "../../test/helpers.ts";
import { ensureWorkspace, type Workspace } from "../workspaces/index.ts";
import { importFile, type ImportSummary } from "../ingest/index.ts";
import { SimulatedClock } from "../shared/index.ts";
import { figureWays } from "./figure-ways.ts";
import {
  resolvePeriod,
  type Period,
} from "./index.ts";

const FILE = fileURLToPath(new URL("../../data/cdnow/CDNOW_master.txt", import.meta.url));
const clock = new SimulatedClock(new Date("1998-07-01T00:00:00Z"));
const FIRST_DAY = "1997-01-01";
const LAST_DAY = "1998-06-30";

// ---------------------------------------------------------------------------
// The independent implementation: the raw file, plain loops.
// ---------------------------------------------------------------------------

interface Purchase {
  customer: string;
  /** YYYY-MM-DD */
  day: string;
  /** YYYY-MM */
  month: string;
  /** Days since 1970-01-01. */
  dayNumber: number;
  cents: number;
}

function readPurchases(): Purchase[] {
  const text = readFileSync(FILE, "utf8");
  const out: Purchase[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 1; i < lines.length; i++) {
    const line = (lines[i] ?? "").trim();
    if (line === "") continue;
    const [id = "", date = "", , dollars = ""] = line.split(/\s+/);
    const day = `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}`;
    out.push({
      customer: String(Number(id)),
      day,
      month: day.slice(0, 7),
      dayNumber: Date.UTC(Number(date.slice(0, 4)), Number(date.slice(4, 6)) - 1, Number(date.slice(6, 8))) / 86_400_000,
      cents: Math.round(Number(dollars) * 100),
    });
  }
  return out;
}

/** PostgreSQL's percentile_cont: linear interpolation between the closest ranks. */
function percentileCont(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = p * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] ?? 0;
  const b = sorted[hi] ?? 0;
  return a + (pos - lo) * (b - a);
}

const monthIndex = (ym: string) => Number(ym.slice(0, 4)) * 12 + Number(ym.slice(5, 7)) - 1;
const monthOf = (index: number) => `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, "0")}`;

const purchases = readPurchases();
/** Each customer's purchases, oldest first (stable: file order within a day). */
const byCustomer = new Map<string, Purchase[]>();
for (const p of purchases) {
  const list = byCustomer.get(p.customer) ?? [];
  list.push(p);
  byCustomer.set(p.customer, list);
}
for (const list of byCustomer.values()) list.sort((a, b) => a.dayNumber - b.dayNumber);
const firstDay = new Map<string, string>();
for (const [c, list] of byCustomer) firstDay.set(c, list[0]?.day ?? "");
// Each customer's first purchase: the earliest day, and on that day the first line of the file.
const firstPurchase = new Map<string, Purchase>();
for (const p of purchases) {
  const seen = firstPurchase.get(p.customer);
  if (!seen || p.dayNumber < seen.dayNumber) firstPurchase.set(p.customer, p);
}

function expectedHeadline(from: string, to: string) {
  const inPeriod = purchases.filter((p) => p.day >= from && p.day <= to);
  const perCustomer = new Map<string, number>();
  let revenue = 0;
  let returningRevenue = 0;
  for (const p of inPeriod) {
    perCustomer.set(p.customer, (perCustomer.get(p.customer) ?? 0) + 1);
    revenue += p.cents;
    // Revenue from returning customers: every purchase but the customer's first.
    if (firstPurchase.get(p.customer) !== p) returningRevenue += p.cents;
  }
  let repeat = 0;
  let fresh = 0;
  for (const [c, n] of perCustomer) {
    if (n >= 2) repeat++;
    if ((firstDay.get(c) ?? "") >= from) fresh++;
  }
  const customers = perCustomer.size;
  const orders = inPeriod.length;
  return {
    customers,
    orders,
    revenue,
    repeatCustomers: repeat,
    repeatCustomerRate: repeat / customers,
    purchaseFrequency: orders / customers,
    averageOrderValue: revenue / orders,
    customerValue: (orders / customers) * (revenue / orders),
    newCustomers: fresh,
    returningCustomers: customers - fresh,
    returningRevenueShare: returningRevenue / revenue,
  };
}

function expectedMonthlyRetention(fromMonth: string, toMonth: string) {
  const buyersOf = (ym: string) => new Set(purchases.filter((p) => p.month === ym).map((p) => p.customer));
  const rows: { label: string; buyers: number; newBuyers: number; retained: number | null; retentionRate: number | null }[] = [];
  let previous = buyersOf(monthOf(monthIndex(fromMonth) - 1));
  for (let m = monthIndex(fromMonth); m <= monthIndex(toMonth); m++) {
    const ym = monthOf(m);
    const buyers = buyersOf(ym);
    let newBuyers = 0;
    let retained = 0;
    for (const c of buyers) {
      if ((firstDay.get(c) ?? "").slice(0, 7) === ym) newBuyers++;
      if (previous.has(c)) retained++;
    }
    rows.push({
      label: ym,
      buyers: buyers.size,
      newBuyers,
      retained: previous.size === 0 ? null : retained,
      retentionRate: previous.size === 0 ? null : retained / previous.size,
    });
    previous = buyers;
  }
  return rows;
}

function expectedCohorts(lastMonth: string) {
  const cohorts = new Map<string, string[]>();
  for (const [c, day] of firstDay) {
    const list = cohorts.get(day.slice(0, 7)) ?? [];
    list.push(c);
    cohorts.set(day.slice(0, 7), list);
  }
  return [...cohorts.keys()].sort().map((cohort) => {
    const members = cohorts.get(cohort) ?? [];
    const width = monthIndex(lastMonth) - monthIndex(cohort) + 1;
    const active = Array.from({ length: width }, () => new Set<string>());
    const revenue = Array.from({ length: width }, () => 0);
    let revenueToDate = 0;
    for (const c of members) {
      for (const p of byCustomer.get(c) ?? []) {
        revenueToDate += p.cents;
        const offset = monthIndex(p.month) - monthIndex(cohort);
        active[offset]?.add(c);
        revenue[offset] = (revenue[offset] ?? 0) + p.cents;
      }
    }
    return {
      cohort,
      size: members.length,
      revenueToDate,
      cells: active.map((s, offset) => ({ offset, customers: s.size, revenue: revenue[offset] ?? 0 })),
    };
  });
}

function expectedLadder(maxN: number) {
  const steps: { n: number; customers: number; next: number; share: number; medianDaysToNext: number | null }[] = [];
  for (let n = 1; n <= maxN; n++) {
    let customers = 0;
    let next = 0;
    const gaps: number[] = [];
    for (const list of byCustomer.values()) {
      if (list.length >= n) customers++;
      if (list.length >= n + 1) {
        next++;
        gaps.push((list[n]?.dayNumber ?? 0) - (list[n - 1]?.dayNumber ?? 0));
      }
    }
    steps.push({ n, customers, next, share: next / customers, medianDaysToNext: percentileCont(gaps, 0.5) });
  }
  return steps;
}

const BUCKETS: [number, number][] = [
  [0, 7],
  [8, 14],
  [15, 30],
  [31, 60],
  [61, 90],
  [91, 180],
  [181, 365],
  [366, Infinity],
];

function expectedIntervals() {
  const gaps: number[] = [];
  let customersWithRhythm = 0;
  for (const list of byCustomer.values()) {
    const days = [...new Set(list.map((p) => p.dayNumber))].sort((a, b) => a - b);
    if (days.length >= 2) customersWithRhythm++;
    for (let i = 1; i < days.length; i++) gaps.push((days[i] ?? 0) - (days[i - 1] ?? 0));
  }
  return {
    intervals: gaps.length,
    meanDays: gaps.reduce((s, g) => s + g, 0) / gaps.length,
    p25Days: percentileCont(gaps, 0.25),
    medianDays: percentileCont(gaps, 0.5),
    p75Days: percentileCont(gaps, 0.75),
    histogram: BUCKETS.map(([lo, hi]) => gaps.filter((g) => g >= lo && g <= hi).length),
    customersWithRhythm,
  };
}

/** Ratios: equal to 1e-9 relative (or both null). */
function expectClose(actual: number | null | undefined, expected: number | null, what: string): void {
  if (expected === null) {
    expect(actual ?? null, what).toBeNull();
    return;
  }
  expect(actual, what).toBeTypeOf("number");
  const a = actual ?? Number.NaN;
  expect(Math.abs(a - expected), `${what}: ${a} vs ${expected}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(expected)));
}

// ---------------------------------------------------------------------------
// The database side: one import, shared by every test.
// ---------------------------------------------------------------------------

let t: TestStore;
let ws: Workspace;
let summary: ImportSummary;
let all: Period;

beforeAll(async () => {
  t = await openTestStore();
  ws = await ensureWorkspace(t.store, "cdnow", "USD");
  summary = await importFile(t.store, ws, FILE, { format: "cdnow", now: () => new Date("1998-07-01T00:00:00Z") });
  // No ANALYZE here on purpose: importFile refreshes the planner statistics
  // itself. (Before it did, retentionSeries took ~250 s on PGlite here.)
  all = await resolvePeriod(t.store, ws, { from: FIRST_DAY, to: LAST_DAY }, clock);
}, 120_000);

afterAll(async () => {
  await t?.cleanup();
});

describe("CDNOW master log: the raw file and the import", () => {
  it("has 69,659 purchases by 23,570 customers, all imported", async () => {
    expect(purchases.length).toBe(69_659);
    expect(byCustomer.size).toBe(23_570);
    expect(summary).toMatchObject({ imported: 69_659, skipped: 0, errorCount: 0 });
    expect(await count(t.store, "SELECT count(*) AS n FROM orders WHERE workspace_id = $1", [ws.id])).toBe(69_659);
    expect(await count(t.store, "SELECT count(*) AS n FROM customers WHERE workspace_id = $1", [ws.id])).toBe(23_570);
  });

  it("every customer made a first purchase in Q1 1997; the log runs to June 1998", async () => {
    const firsts = [...firstDay.values()].sort();
    expect(firsts[0]).toBe("1997-01-01");
    expect((firsts[firsts.length - 1] ?? "") <= "1997-03-31").toBe(true);
    expect(purchases.reduce((m, p) => (p.day > m ? p.day : m), "")).toBe("1998-06-30");
    // Without `from`, the period starts at the first order.
    expect((await resolvePeriod(t.store, ws, { to: LAST_DAY }, clock)).from).toBe(FIRST_DAY);
  });
});

/** SQL, and the in-memory projection the server answers from: both against the plain computation. */
const ways = figureWays(() => ({ store: t.store, ws }));

describe.each(ways)("headline metrics ($way)", (w) => {
  it("all time (1997-01-01 … 1998-06-30)", async () => {
    const h = await w.headline(all);
    const e = expectedHeadline(FIRST_DAY, LAST_DAY);
    expect(e.customers).toBe(23_570);
    expect(e.newCustomers).toBe(e.customers);
    expect({
      customers: h.customers,
      orders: h.orders,
      guestOrders: h.guestOrders,
      customerOrders: h.customerOrders,
      revenue: h.revenue,
      otherCurrencyOrders: h.otherCurrencyOrders,
      repeatCustomers: h.repeatCustomers,
      newCustomers: h.newCustomers,
      returningCustomers: h.returningCustomers,
    }).toEqual({
      customers: e.customers,
      orders: e.orders,
      guestOrders: 0,
      customerOrders: e.orders,
      revenue: e.revenue,
      otherCurrencyOrders: 0,
      repeatCustomers: e.repeatCustomers,
      newCustomers: e.customers,
      returningCustomers: 0,
    });
    expectClose(h.repeatCustomerRate, e.repeatCustomerRate, "repeatCustomerRate");
    expectClose(h.purchaseFrequency, e.purchaseFrequency, "purchaseFrequency");
    expectClose(h.averageOrderValue, e.averageOrderValue, "averageOrderValue");
    expectClose(h.customerValue, e.customerValue, "customerValue");
    expectClose(h.returningRevenueShare, e.returningRevenueShare, "returningRevenueShare");
  });

  it("a sub-period (1997-04-01 … 1997-06-30): nobody is new, everyone returns", async () => {
    const p = await resolvePeriod(t.store, ws, { from: "1997-04-01", to: "1997-06-30" }, clock);
    const h = await w.headline(p);
    const e = expectedHeadline("1997-04-01", "1997-06-30");
    expect(e.newCustomers).toBe(0);
    expect({
      customers: h.customers,
      orders: h.orders,
      revenue: h.revenue,
      repeatCustomers: h.repeatCustomers,
      newCustomers: h.newCustomers,
      returningCustomers: h.returningCustomers,
    }).toEqual({
      customers: e.customers,
      orders: e.orders,
      revenue: e.revenue,
      repeatCustomers: e.repeatCustomers,
      newCustomers: e.newCustomers,
      returningCustomers: e.returningCustomers,
    });
    expectClose(h.returningRevenueShare, e.returningRevenueShare, "returningRevenueShare");
    expect(h.returningRevenueShare).toBe(1);
    expectClose(h.averageOrderValue, e.averageOrderValue, "averageOrderValue");
    expectClose(h.purchaseFrequency, e.purchaseFrequency, "purchaseFrequency");
  });

  it("the acquisition quarter (1997-01-01 … 1997-03-31), where new and returning mix", async () => {
    const p = await resolvePeriod(t.store, ws, { from: FIRST_DAY, to: "1997-03-31" }, clock);
    const h = await w.headline(p);
    const e = expectedHeadline(FIRST_DAY, "1997-03-31");
    expect([h.customers, h.orders, h.revenue, h.repeatCustomers, h.newCustomers]).toEqual([e.customers, e.orders, e.revenue, e.repeatCustomers, e.newCustomers]);
    expectClose(h.returningRevenueShare, e.returningRevenueShare, "returningRevenueShare");
  });
});

describe.each(ways)("retention series ($way)", (w) => {
  it("month by month through 1997", async () => {
    const p = await resolvePeriod(t.store, ws, { from: FIRST_DAY, to: "1997-12-31" }, clock);
    const rows = await w.retention(p, "month");
    const e = expectedMonthlyRetention("1997-01", "1997-12");
    expect(rows.map((r) => ({ label: r.label, buyers: r.buyers, newBuyers: r.newBuyers, retained: r.retained }))).toEqual(
      e.map((r) => ({ label: r.label, buyers: r.buyers, newBuyers: r.newBuyers, retained: r.retained })),
    );
    rows.forEach((r, i) => {
      const x = e[i]?.retentionRate ?? null;
      expectClose(r.retentionRate, x, `retentionRate ${r.label}`);
      expectClose(r.churnRate, x === null ? null : 1 - x, `churnRate ${r.label}`);
    });
    // From April on nobody is new: CDNOW's customers all arrived in Q1.
    expect(rows.slice(3).every((r) => r.newBuyers === 0)).toBe(true);
  });
});

describe.each(ways)("cohort matrix ($way)", (w) => {
  it("three cohorts (Jan–Mar 1997), each with size, revenue and every monthly cell", async () => {
    const m = { cohorts: await w.cohorts(all) };
    const e = expectedCohorts(LAST_DAY.slice(0, 7));
    expect(e.map((c) => c.cohort)).toEqual(["1997-01", "1997-02", "1997-03"]);
    expect(e.reduce((s, c) => s + c.size, 0)).toBe(23_570);
    expect(
      m.cohorts.map((c) => ({
        cohort: c.cohort,
        size: c.size,
        revenueToDate: c.revenueToDate,
        cells: c.cells.map((x) => ({ offset: x.offset, customers: x.customers, revenue: x.revenue })),
      })),
    ).toEqual(e);
    for (const c of m.cohorts) {
      const x = e.find((r) => r.cohort === c.cohort);
      const base = x?.cells[0]?.revenue ?? 0;
      expectClose(c.historicalClv, (x?.revenueToDate ?? 0) / (x?.size ?? 1), `historicalClv ${c.cohort}`);
      c.cells.forEach((cell, i) => {
        const ec = x?.cells[i];
        expectClose(cell.customerShare, (ec?.customers ?? 0) / (x?.size ?? 1), `customerShare ${c.cohort}+${i}`);
        expectClose(cell.revenueShare, (ec?.revenue ?? 0) / base, `revenueShare ${c.cohort}+${i}`);
      });
    }
  });
});

describe.each(ways)("repeat ladder ($way)", (w) => {
  it("steps 1 … 10: customers, next, share and median days to the next order", async () => {
    const steps = await w.ladder(10);
    const e = expectedLadder(10);
    expect(e[0]?.customers).toBe(23_570);
    expect(steps.map((s) => ({ n: s.n, customers: s.customers, next: s.next }))).toEqual(e.map((s) => ({ n: s.n, customers: s.customers, next: s.next })));
    steps.forEach((s, i) => {
      expectClose(s.share, e[i]?.share ?? null, `share n=${s.n}`);
      expectClose(s.medianDaysToNext, e[i]?.medianDaysToNext ?? null, `medianDaysToNext n=${s.n}`);
    });
  });
});

describe.each(ways)("purchase intervals ($way)", (w) => {
  it("gaps between consecutive distinct purchase days: count, mean, quartiles, histogram", async () => {
    const s = await w.intervals();
    const e = expectedIntervals();
    expect(s.intervals).toBe(e.intervals);
    expect(s.customersWithRhythm).toBe(e.customersWithRhythm);
    expect(s.histogram.map((b) => b.count)).toEqual(e.histogram);
    expectClose(s.meanDays, e.meanDays, "meanDays");
    expectClose(s.p25Days, e.p25Days, "p25Days");
    expectClose(s.medianDays, e.medianDays, "medianDays");
    expectClose(s.p75Days, e.p75Days, "p75Days");
  });
});
