/**
 * Lifecycle stages, churn signals, the big-spender flag and RFM on a small
 * shop worked out by hand, and the model columns against the formulas.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_LIFECYCLE_SETTINGS, LifecycleSettings, makePredictor, orderLogOf, prepareScoring, scoreCustomers, scoreLog, type CustomerHistory, type OrderFact } from "./index.ts";
import { expectedPurchases, probabilityAlive } from "../models/index.ts";

const TODAY = 20_000;
const order = (daysAgo: number, totalMinor = 5000, extra: Partial<OrderFact> = {}): OrderFact => ({ day: TODAY - daysAgo, totalMinor, refunded: false, unitPriceMinor: totalMinor, ...extra });
const h = (customerId: number, orders: OrderFact[], refundedMinor = 0): CustomerHistory => ({ customerId, orders, refundedMinor });

// Shop rhythm = median of the first intervals of customers who bought twice:
// customers 3 (30), 4 (30), 5 (30), 6 (30), 7 (200), 8 (30), 9 (10), 10 (20) → 30.
const shop: CustomerHistory[] = [
  h(1, []), // prospect
  h(2, [order(20)]), // one order 20 days ago: within 1.5 × 30
  h(3, [order(100), order(70), order(40), order(10)]), // 4 orders, every 30 days, last 10 days ago: loyal
  h(4, [order(70), order(40)]), // two orders 30 days apart, last 40 days ago: 40 ≤ 45, repeat
  h(5, [order(130), order(100)]), // last 100 days ago > 3 × 30: lapsed
  h(6, [order(110), order(80)]), // last 80 days ago: > 45, ≤ 90: at risk
  h(7, [order(300), order(270), order(10)]), // 30-day rhythm, then 260 days away, back 10 days ago: won back
  h(8, [order(90, 4000), order(60, 4000), order(30, 4000), order(20, 4000, { unitPriceMinor: 1000 })]), // last item price 1000 < 0.75 × 4000: cheaper
  h(9, [order(60, 3000), order(50, 3000), order(40, 3000, { refunded: true }), order(30, 3000, { refunded: true })], 6000), // returns more; every 10 days, last 30 days ago: at risk
  h(10, [order(400, 90_000), order(380, 90_000)]), // huge orders, 2 in 400 days: big spender who buys rarely (and lapsed)
];

describe("scoring without a model (rhythms alone)", () => {
  const scores = new Map(scoreCustomers(shop, null, DEFAULT_LIFECYCLE_SETTINGS, TODAY, 100).map((s) => [s.customerId, s]));
  const get = (id: number) => {
    const s = scores.get(id);
    if (!s) throw new Error(`no score for ${id}`);
    return s;
  };

  it("puts every customer in the stage the rules give", () => {
    expect([...scores.values()].map((s) => [s.customerId, s.stage]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual([
      [1, "prospect"],
      [2, "first-time buyer"],
      [3, "loyal"],
      [4, "repeat"],
      [5, "lapsed"],
      [6, "at risk"],
      [7, "won back"],
      [8, "loyal"],
      [9, "at risk"],
      [10, "lapsed"],
    ]);
  });

  it("uses the customer's own median interval, or the shop's first-to-second wait for one-time buyers", () => {
    expect(get(3)).toMatchObject({ rhythmDays: 30, rhythmOwn: true, daysSinceLastOrder: 10, orders: 4, netRevenueMinor: 20_000 });
    expect(get(2)).toMatchObject({ rhythmDays: 30, rhythmOwn: false });
    expect(get(7).rhythmDays).toBe(145); // median of 30 and 260
    expect(get(9).netRevenueMinor).toBe(12_000 - 6000);
    expect(get(1)).toMatchObject({ orders: 0, rhythmDays: null, rfm: null, probabilityAlive: null });
  });

  it("raises each churn signal where it applies and nowhere else", () => {
    const flagged = (key: "buysLessOften" | "buysCheaper" | "returnsMore") => [...scores.values()].filter((s) => s.signals[key]).map((s) => s.customerId).sort((a, b) => a - b);
    // Less often: current gap > 1.5 × own rhythm (4: 40 vs 30 is not; 5: 100, 6: 80 vs 30, 9: 30 vs 10, 10: 380 vs 20 are),
    // or the latest interval > 1.5 × the earlier median (7: 260 vs 30).
    expect(flagged("buysLessOften")).toEqual([5, 6, 7, 9, 10]);
    expect(flagged("buysCheaper")).toEqual([8]);
    // 9: 2 recent orders (of 4) both refunded vs none before.
    expect(flagged("returnsMore")).toEqual([9]);
    expect([...scores.values()].filter((s) => s.bigSpenderRare).map((s) => s.customerId)).toEqual([10]);
  });

  it("scores RFM among the buyers", () => {
    // Recency of the 9 buyers: 3 and 7 (10 days) are the most recent, 7 others are worse → R = 1 + ⌊5·7/9⌋ = 4;
    // 10 (380 days) is the least recent, none worse → R = 1. Its orders are the largest → M = 1 + ⌊5·8/9⌋ = 5.
    expect(get(3).rfm?.r).toBe(4);
    expect(get(7).rfm?.r).toBe(4);
    expect(get(10).rfm).toMatchObject({ r: 1, m: 5 });
    expect(get(2).rfm?.f).toBe(1);
  });

  it("follows changed thresholds", () => {
    const strict = LifecycleSettings.parse({ lapsedAfterRhythms: 2, atRiskAfterRhythms: 1.2 });
    const s = new Map(scoreCustomers(shop, null, strict, TODAY, 100).map((x) => [x.customerId, x.stage]));
    expect(s.get(4)).toBe("at risk"); // 40 > 1.2 × 30
    expect(s.get(6)).toBe("lapsed"); // 80 > 2 × 30
  });

  it("refuses inconsistent thresholds, naming the field", () => {
    const r = LifecycleSettings.safeParse({ atRiskAfterRhythms: 3, lapsedAfterRhythms: 2 });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(["lapsedAfterRhythms"]);
    expect(LifecycleSettings.safeParse({ atRiskBelowAlive: 1.5 }).error?.issues[0]?.path).toEqual(["atRiskBelowAlive"]);
  });
});

describe("scoring with a model", () => {
  const model = { unit: "week" as const, bgNbd: { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 }, gammaGamma: { p: 6.25, q: 3.74, gamma: 15.44 } };
  const scores = new Map(scoreCustomers(shop, model, DEFAULT_LIFECYCLE_SETTINGS, TODAY, 100).map((s) => [s.customerId, s]));

  it("stores the formulas' P(alive) and expected purchases, in days converted to the model's unit", () => {
    const s = scores.get(6);
    // Customer 6: x = 1, t_x = 30 days, T = 110 days.
    expect(s?.probabilityAlive).toBeCloseTo(probabilityAlive(model.bgNbd, 1, 30 / 7, 110 / 7), 12);
    expect(s?.expectedPurchases365).toBeCloseTo(expectedPurchases(model.bgNbd, 1, 30 / 7, 110 / 7, 365 / 7), 12);
    expect(s?.expectedPurchases90).toBeLessThan(s?.expectedPurchases365 ?? 0);
  });

  it("sends customers the model thinks have left to at risk or lapsed even within their rhythm", () => {
    // Customer 3 bought every 30 days; on CDNOW's slow parameters that is very active: not at risk.
    expect(scores.get(3)?.stage).toBe("loyal");
    const alive6 = scores.get(6)?.probabilityAlive ?? 1;
    expect(scores.get(6)?.stage).toBe(alive6 < 0.2 ? "lapsed" : "at risk");
  });

  it("gives the next order as the first day the expected purchases reach one, and a discounted CLV", () => {
    const predictor = makePredictor(model);
    const summary = { x: 3, tXDays: 90, TDays: 100, meanRepeatSpend: 50 };
    const days = predictor.nextOrderInDays(summary);
    if (days === null) throw new Error("expected a next order");
    expect(predictor.expected(summary, days)).toBeGreaterThanOrEqual(1);
    expect(predictor.expected(summary, days - 1)).toBeLessThan(1);
    const undiscounted = predictor.clv(summary, 365, 0) ?? 0;
    const aov = predictor.averageOrderValue(summary) ?? 0;
    expect(undiscounted).toBeCloseTo(predictor.expected(summary, 12 * 30.4375) * aov, 8);
    expect(predictor.clv(summary, 365, 0.01) ?? 0).toBeLessThan(undiscounted);
    const s3 = scores.get(3);
    expect(s3?.clvMinor).toBe(Math.round((predictor.clv({ x: 3, tXDays: 90, TDays: 100, meanRepeatSpend: 50 }, 365, 0.01) ?? 0) * 100));
  });

  it("finds the same next-order day as a plain bisection, for every shape of a grid", () => {
    // The search probes where the line between the bracket's ends crosses; the answer must be the bisection's.
    const predictor = makePredictor(model);
    const reference = makePredictor(model);
    const LIMIT = 5 * 365;
    let found = 0;
    let none = 0;
    for (const x of [0, 1, 2, 3, 5, 8, 13, 21, 40]) {
      for (const TDays of [1, 30, 90, 200, 400, 800]) {
        for (const tXDays of x === 0 ? [0] : [0, Math.floor(TDays / 3), TDays]) {
          const summary = { x, tXDays, TDays, meanRepeatSpend: 50 };
          const p = reference.alive(summary);
          const reached = (d: number) => p * reference.expected(summary, d, 1) >= 1;
          let want: number | null = null;
          if (reached(LIMIT)) {
            let lo = 0;
            let hi = LIMIT;
            while (hi - lo > 1) {
              const mid = Math.floor((lo + hi) / 2);
              if (reached(mid)) hi = mid;
              else lo = mid;
            }
            want = hi;
          }
          expect(predictor.nextOrderInDays(summary), JSON.stringify(summary)).toBe(want);
          if (want === null) none++;
          else found++;
        }
      }
    }
    expect(found).toBeGreaterThan(20);
    expect(none).toBeGreaterThan(5);
  });

  it("keeps each CLV horizon and rate apart in the shared cache", () => {
    const predictor = makePredictor(model);
    const summary = { x: 3, tXDays: 90, TDays: 100, meanRepeatSpend: 50 };
    const oneYear = predictor.clv(summary, 365, 0.01) ?? 0;
    const twoYears = predictor.clv(summary, 730, 0.02) ?? 0;
    expect(twoYears).toBeGreaterThan(oneYear);
    // Another shape with the same (x, T) shares the cached sum, scaled by its own P(alive).
    const other = { ...summary, tXDays: 40 };
    expect(predictor.clv(other, 365, 0.01)).toBeCloseTo((makePredictor(model).clv(other, 365, 0.01) ?? NaN), 12);
    expect(predictor.clv(summary, 365, 0.01)).toBe(oneYear);
    expect(makePredictor(model).clv(summary, 730, 0.02)).toBe(twoYears);
  });

  it("scores the same in slices (as the scoring run writes them) as in one pass", () => {
    const log = orderLogOf(shop);
    const whole = scoreLog(log, model, DEFAULT_LIFECYCLE_SETTINGS, TODAY, 100);
    const pass = prepareScoring(log, model, DEFAULT_LIFECYCLE_SETTINGS, TODAY, 100);
    for (const [from, to] of [
      [0, 3],
      [3, 4],
      [4, 10],
    ] as const) pass.scoreRange(from, to);
    expect(pass.table).toEqual(whole);
    expect(whole.stage.length).toBe(shop.length);
  });

  it("gives no expected order value where Gamma-Gamma has none (q ≤ 1), instead of failing the run", () => {
    const heavyTailed = { ...model, gammaGamma: { p: 6, q: 0.9, gamma: 15 } };
    const byId = new Map(scoreCustomers(shop, heavyTailed, DEFAULT_LIFECYCLE_SETTINGS, TODAY, 100).map((x) => [x.customerId, x]));
    expect(byId.get(2)).toMatchObject({ expectedOrderValueMinor: null, clvMinor: null }); // one purchase: p·0 + 0.9 ≤ 1
    expect(byId.get(3)?.expectedOrderValueMinor).toBeGreaterThan(0); // x = 3: 18.9 > 1
  });
});
