/**
 * Every customer's scores at once, as pure functions of their order history:
 * the model's predictions (P(alive), expected purchases, next order, expected
 * order value, CLV), RFM, the lifecycle stage, the churn signals and the
 * big-spender flag. The rules and thresholds are in src/predictions/README.md;
 * the thresholds are LifecycleSettings, which a shop can change.
 */
import { z } from "zod";
import {
  UNIT_DAYS,
  expectedAverageSpend,
  expectedPurchasesIfAlive,
  probabilityAlive,
  rfmScores,
  type BgNbdParams,
  type GammaGammaParams,
  type RfmSegment,
  type TimeUnit,
} from "../models/index.ts";

export const STAGES = ["prospect", "first-time buyer", "repeat", "loyal", "at risk", "lapsed", "won back"] as const;
export type Stage = (typeof STAGES)[number];

const positive = (fallback: number) => z.number().positive("must be more than 0").default(fallback);
const share = (fallback: number) => z.number().min(0, "must be between 0 and 1").max(1, "must be between 0 and 1").default(fallback);

/** The thresholds of the lifecycle stages and churn signals (defaults documented in the README). */
export const LifecycleSettings = z
  .object({
    /** At risk once the time since the last order exceeds this many of the customer's own rhythms… */
    atRiskAfterRhythms: positive(1.5),
    /** …or P(alive) falls below this. */
    atRiskBelowAlive: share(0.5),
    /** Lapsed once the time since the last order exceeds this many rhythms… */
    lapsedAfterRhythms: positive(3),
    /** …or P(alive) falls below this. */
    lapsedBelowAlive: share(0.2),
    /** Loyal/VIP with at least this many orders… */
    vipMinOrders: z.number().int("must be a whole number").min(2, "must be at least 2").default(4),
    /** …or, with two orders or more, in this top share of customers by net revenue. */
    vipTopShare: share(0.1),
    /** Rhythm used when no customer of the shop has bought twice yet. */
    defaultRhythmDays: positive(90),
    /** "Buys less often": the current gap, or the latest interval, exceeds this many of their usual intervals. */
    slowerFactor: positive(1.5),
    /** "Buys cheaper": the last order's mean item price is below this share of their earlier orders'. */
    cheaperFactor: share(0.75),
    /** "Returns more": the share of their recent orders refunded exceeds the earlier share by this much. */
    returnsIncrease: share(0.25),
    /** "Big spender who buys rarely": order value in this top share of customers… (and an order rate at or below the median). */
    bigSpenderTopShare: share(0.2),
    /** CLV horizon in days and monthly discount rate. */
    clvHorizonDays: z.number().int("must be a whole number of days").min(30, "must be at least 30").max(3650, "must be at most 3650").default(365),
    monthlyDiscountRate: share(0.01),
  })
  .refine((s) => s.lapsedAfterRhythms > s.atRiskAfterRhythms, { message: "must be more than atRiskAfterRhythms", path: ["lapsedAfterRhythms"] })
  .refine((s) => s.lapsedBelowAlive <= s.atRiskBelowAlive, { message: "must not be more than atRiskBelowAlive", path: ["lapsedBelowAlive"] });
export type LifecycleSettings = z.output<typeof LifecycleSettings>;
export const DEFAULT_LIFECYCLE_SETTINGS: LifecycleSettings = LifecycleSettings.parse({});

/** What a prediction needs of a fitted model. */
export interface PredictionModel {
  unit: TimeUnit;
  bgNbd: BgNbdParams;
  gammaGamma: GammaGammaParams | null;
}

/** A customer as the models see them, in days: x repeat purchase days, the last t_x after the first, observed for T. */
export interface DaySummary {
  x: number;
  tXDays: number;
  TDays: number;
  /** Mean value of the repeat purchase days, in currency units (0 when x = 0). */
  meanRepeatSpend: number;
}

const MONTH_DAYS = 30.4375;
const NEXT_ORDER_LIMIT_DAYS = 5 * 365;

/**
 * The model's predictions for any number of customers. Eq. 10 of Fader,
 * Hardie & Lee (2005) is P(alive) × a part that depends only on (x, T, t)
 * (expectedPurchasesIfAlive); that part is kept per (x, T, t), so scoring a
 * shop costs one series per distinct history shape, not per customer.
 */
export function makePredictor(model: PredictionModel) {
  const unitDays = UNIT_DAYS[model.unit];
  const p = model.bgNbd;
  // Keyed by one number (x, T in whole days, and a slot for t: the day count
  // itself up to 9,999, or 10,000 + k for the k-th month of a CLV horizon):
  // number keys hash far faster than strings over millions of look-ups.
  const cache = new Map<number, number>();
  const SLOTS = 20_000;
  const lookup = (s: DaySummary, slot: number, days: number): number => {
    const key = (s.x * 1_000_000 + s.TDays) * SLOTS + slot;
    let v = cache.get(key);
    if (v === undefined) {
      v = expectedPurchasesIfAlive(p, s.x, s.TDays / unitDays, days / unitDays);
      if (cache.size > 4_000_000) cache.clear();
      cache.set(key, v);
    }
    return v;
  };
  // The key is exact while it stays below 2^53: x·1e6 + T < MAX_SAFE_INTEGER / SLOTS.
  const wholeDays = (s: DaySummary) => Number.isInteger(s.TDays) && s.TDays >= 0 && s.TDays < 1_000_000 && s.x * 1_000_000 + s.TDays < Number.MAX_SAFE_INTEGER / SLOTS;
  const ifAlive = (s: DaySummary, days: number): number =>
    wholeDays(s) && Number.isInteger(days) && days < 10_000 ? lookup(s, days, days) : expectedPurchasesIfAlive(p, s.x, s.TDays / unitDays, days / unitDays);
  const ifAliveMonth = (s: DaySummary, k: number): number =>
    wholeDays(s) && k < 10_000 ? lookup(s, 10_000 + k, k * MONTH_DAYS) : expectedPurchasesIfAlive(p, s.x, s.TDays / unitDays, (k * MONTH_DAYS) / unitDays);
  const alive = (s: DaySummary) => probabilityAlive(p, s.x, s.tXDays / unitDays, s.TDays / unitDays);
  const gg = model.gammaGamma;
  const spendOf = (s: DaySummary): number | null => (gg && gg.p * s.x + gg.q > 1 ? expectedAverageSpend(gg, s.x, s.meanRepeatSpend) : null);
  return {
    alive,
    /** Expected purchases in the next `days` days (eq. 10). `pAlive`: alive(s), when the caller has it already. */
    expected: (s: DaySummary, days: number, pAlive = alive(s)) => pAlive * ifAlive(s, days),
    /** Whole days until one more purchase is expected (expected purchases reach 1), or null if not within five years. */
    nextOrderInDays(s: DaySummary, pAlive = alive(s)): number | null {
      const a = pAlive;
      if (a * ifAlive(s, NEXT_ORDER_LIMIT_DAYS) < 1) return null;
      let lo = 0;
      let hi = NEXT_ORDER_LIMIT_DAYS;
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (a * ifAlive(s, mid) >= 1) hi = mid;
        else lo = mid;
      }
      return hi;
    },
    /**
     * Gamma-Gamma expected value of their transactions (currency units), or
     * null without a spend model — or where eq. 5 has no finite value
     * (p x + q ≤ 1: with q ≤ 1 the population's mean spend is infinite, so a
     * one-time buyer has no expected value).
     */
    averageOrderValue: (s: DaySummary) => spendOf(s),
    /** Σ over the horizon's months of expected purchases × expected value, discounted monthly (currency units). */
    clv(s: DaySummary, horizonDays: number, monthlyDiscountRate: number, pAlive = alive(s)): number | null {
      const aov = spendOf(s);
      if (aov === null) return null;
      const a = pAlive;
      const months = Math.max(1, Math.round(horizonDays / MONTH_DAYS));
      let clv = 0;
      let before = 0;
      for (let k = 1; k <= months; k++) {
        const upTo = a * ifAliveMonth(s, k);
        clv += ((upTo - before) * aov) / (1 + monthlyDiscountRate) ** k;
        before = upTo;
      }
      return clv;
    },
  };
}
export type Predictor = ReturnType<typeof makePredictor>;

/** One order as scoring sees it. Orders are oldest first. */
export interface OrderFact {
  /** Day number (days since 1970-01-01, UTC). */
  day: number;
  totalMinor: number;
  refunded: boolean;
  /** Mean price of one item in the order (line totals ÷ quantities), or null without lines. */
  unitPriceMinor: number | null;
}

export interface CustomerHistory {
  customerId: number;
  orders: OrderFact[];
  refundedMinor: number;
}

export interface ChurnSignals {
  buysLessOften: boolean;
  buysCheaper: boolean;
  returnsMore: boolean;
}

export interface CustomerScore {
  customerId: number;
  stage: Stage;
  orders: number;
  netRevenueMinor: number;
  daysSinceLastOrder: number | null;
  /** Their own median days between purchase days, or the shop's typical first-to-second interval (rhythmOwn false). */
  rhythmDays: number | null;
  rhythmOwn: boolean;
  probabilityAlive: number | null;
  expectedPurchases90: number | null;
  expectedPurchases365: number | null;
  /** Day number of the expected next order. */
  nextOrderDay: number | null;
  expectedOrderValueMinor: number | null;
  clvMinor: number | null;
  rfm: { r: number; f: number; m: number; segment: RfmSegment } | null;
  signals: ChurnSignals;
  bigSpenderRare: boolean;
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  if (values.length === 1) return values[0] ?? null;
  const s = Float64Array.from(values).sort();
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** The value at or above which a `top` share of the values lie (the ⌈top·n⌉-th largest). */
function topThreshold(values: readonly number[], top: number): number {
  if (values.length === 0 || top <= 0) return Infinity;
  const asc = Float64Array.from(values).sort();
  return asc[asc.length - Math.max(1, Math.ceil(top * asc.length))] ?? Infinity;
}

interface Shape {
  history: CustomerHistory;
  purchaseDays: { day: number; totalMinor: number }[];
  intervals: number[];
  summary: DaySummary;
  netRevenueMinor: number;
  aovMinor: number;
  ratePerYear: number;
}

/**
 * Scores every customer in `histories` against each other (RFM quintiles,
 * VIP and big-spender thresholds are relative to the shop) as of day `today`.
 * `model` null: the model columns are null and stages use rhythms alone.
 * `minorPerUnit` converts Gamma-Gamma's currency units to minor units.
 */
export function scoreCustomers(
  histories: readonly CustomerHistory[],
  model: PredictionModel | null,
  settings: LifecycleSettings,
  today: number,
  minorPerUnit: number,
): CustomerScore[] {
  const predictor = model ? makePredictor(model) : null;
  const shapes: Shape[] = [];
  const prospects: number[] = [];
  // Plain loops below: this runs for every customer of the shop (a million
  // in the benchmark), and per-customer closures and array copies cost more
  // than the model's arithmetic.
  for (const h of histories) {
    const orders: OrderFact[] = [];
    let gross = 0;
    for (const o of h.orders) {
      if (o.day > today) continue;
      orders.push(o);
      gross += o.totalMinor;
    }
    if (orders.length === 0) {
      prospects.push(h.customerId);
      continue;
    }
    // Same-day orders are one purchase occasion, as in the models.
    const purchaseDays: { day: number; totalMinor: number }[] = [];
    const intervals: number[] = [];
    let repeatSpend = 0;
    for (const o of orders) {
      const lastDay = purchaseDays[purchaseDays.length - 1];
      if (lastDay && lastDay.day === o.day) {
        lastDay.totalMinor += o.totalMinor;
      } else {
        if (lastDay) intervals.push(o.day - lastDay.day);
        purchaseDays.push({ day: o.day, totalMinor: o.totalMinor });
      }
    }
    for (let i = 1; i < purchaseDays.length; i++) repeatSpend += purchaseDays[i]?.totalMinor ?? 0;
    const first = purchaseDays[0]?.day ?? today;
    const last = purchaseDays[purchaseDays.length - 1]?.day ?? today;
    const x = purchaseDays.length - 1;
    shapes.push({
      history: { customerId: h.customerId, orders, refundedMinor: h.refundedMinor },
      purchaseDays,
      intervals,
      summary: { x, tXDays: last - first, TDays: today - first, meanRepeatSpend: x > 0 ? repeatSpend / x / minorPerUnit : 0 },
      netRevenueMinor: gross - h.refundedMinor,
      aovMinor: gross / orders.length,
      ratePerYear: (orders.length * 365) / Math.max(365, today - first + 1),
    });
  }

  // The shop's typical wait for a second purchase stands in for the rhythm of
  // customers who have bought once.
  const firstIntervals: number[] = [];
  for (const sh of shapes) if (sh.intervals.length > 0) firstIntervals.push(sh.intervals[0] ?? 0);
  const shopRhythm = median(firstIntervals) ?? settings.defaultRhythmDays;
  const revenues = shapes.map((sh) => sh.netRevenueMinor);
  const vipRevenue = topThreshold(revenues, settings.vipTopShare);
  // In the top share by order value and above the median one, so a shop where most orders cost the same flags nobody.
  const aovs = shapes.map((sh) => sh.aovMinor);
  const bigAov = topThreshold(aovs, settings.bigSpenderTopShare);
  const medianAov = median(aovs) ?? 0;
  const medianRate = median(shapes.map((sh) => sh.ratePerYear)) ?? 0;
  // rfmScores keeps the order of its input: rfm[i] is shapes[i]'s.
  const rfm = rfmScores(shapes.map((sh) => ({ id: sh.history.customerId, recencyDays: sh.summary.TDays - sh.summary.tXDays, frequency: sh.history.orders.length, monetary: sh.netRevenueMinor })));

  const scored: CustomerScore[] = new Array<CustomerScore>(shapes.length);
  for (let k = 0; k < shapes.length; k++) {
    const sh = shapes[k];
    if (!sh) continue;
    const { history, intervals, summary } = sh;
    const orders = history.orders;
    const gap = summary.TDays - summary.tXDays;
    const own = median(intervals);
    const rhythm = own ?? shopRhythm;
    const alive = predictor ? predictor.alive(summary) : null;
    const lastInterval = intervals[intervals.length - 1];
    const rhythmBefore = intervals.length > 1 ? (median(intervals.slice(0, -1)) ?? shopRhythm) : shopRhythm;

    const lapsed = gap > settings.lapsedAfterRhythms * rhythm || (alive !== null && alive < settings.lapsedBelowAlive);
    const atRisk = gap > settings.atRiskAfterRhythms * rhythm || (alive !== null && alive < settings.atRiskBelowAlive);
    const wonBack = lastInterval !== undefined && lastInterval > settings.lapsedAfterRhythms * rhythmBefore && gap <= rhythmBefore;
    const vip = orders.length >= settings.vipMinOrders || (orders.length >= 2 && sh.netRevenueMinor >= vipRevenue);
    const stage: Stage = lapsed ? "lapsed" : atRisk ? "at risk" : wonBack ? "won back" : vip ? "loyal" : intervals.length > 0 ? "repeat" : "first-time buyer";

    // Mean item price: of the last order with lines, and over the earlier ones.
    let lastPrice: number | null = null;
    let earlierSum = 0;
    let earlierCount = 0;
    for (const o of orders) {
      if (o.unitPriceMinor === null) continue;
      if (lastPrice !== null) {
        earlierSum += lastPrice;
        earlierCount++;
      }
      lastPrice = o.unitPriceMinor;
    }
    // Refunded share of the recent orders (the last min(3, ⌈n/2⌉)) against the earlier ones.
    const recentCount = Math.min(3, Math.ceil(orders.length / 2));
    const earlierOrders = orders.length - recentCount;
    let recentRefunded = 0;
    let earlierRefunded = 0;
    for (let i = 0; i < orders.length; i++) {
      if (!orders[i]?.refunded) continue;
      if (i >= earlierOrders) recentRefunded++;
      else earlierRefunded++;
    }
    const signals: ChurnSignals = {
      buysLessOften:
        own !== null && (gap > settings.slowerFactor * own || (intervals.length > 1 && lastInterval !== undefined && lastInterval > settings.slowerFactor * rhythmBefore)),
      buysCheaper: lastPrice !== null && earlierCount > 0 && lastPrice < settings.cheaperFactor * (earlierSum / earlierCount),
      returnsMore: earlierOrders > 0 && recentRefunded > 0 && recentRefunded / recentCount - earlierRefunded / earlierOrders >= settings.returnsIncrease,
    };
    const r = rfm[k];
    const next = predictor && alive !== null ? predictor.nextOrderInDays(summary, alive) : null;
    const aov = predictor ? predictor.averageOrderValue(summary) : null;
    const clv = predictor && alive !== null ? predictor.clv(summary, settings.clvHorizonDays, settings.monthlyDiscountRate, alive) : null;
    scored[k] = {
      customerId: history.customerId,
      stage,
      orders: orders.length,
      netRevenueMinor: sh.netRevenueMinor,
      daysSinceLastOrder: gap,
      rhythmDays: rhythm,
      rhythmOwn: own !== null,
      probabilityAlive: alive,
      expectedPurchases90: predictor && alive !== null ? predictor.expected(summary, 90, alive) : null,
      expectedPurchases365: predictor && alive !== null ? predictor.expected(summary, 365, alive) : null,
      nextOrderDay: next === null ? null : today + next,
      expectedOrderValueMinor: aov === null ? null : Math.round(aov * minorPerUnit),
      clvMinor: clv === null ? null : Math.round(clv * minorPerUnit),
      rfm: r ? { r: r.r, f: r.f, m: r.m, segment: r.segment } : null,
      signals,
      bigSpenderRare: sh.aovMinor >= bigAov && sh.aovMinor > medianAov && sh.ratePerYear <= medianRate,
    };
  }
  return [...scored, ...prospects.map(prospect)];
}

function prospect(customerId: number): CustomerScore {
  return {
    customerId,
    stage: "prospect",
    orders: 0,
    netRevenueMinor: 0,
    daysSinceLastOrder: null,
    rhythmDays: null,
    rhythmOwn: false,
    probabilityAlive: null,
    expectedPurchases90: null,
    expectedPurchases365: null,
    nextOrderDay: null,
    expectedOrderValueMinor: null,
    clvMinor: null,
    rfm: null,
    signals: { buysLessOften: false, buysCheaper: false, returnsMore: false },
    bigSpenderRare: false,
  };
}
