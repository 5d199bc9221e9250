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
  const cache = new Map<string, number>();
  const ifAlive = (s: DaySummary, days: number): number => {
    const key = `${s.x}|${s.TDays}|${days}`;
    let v = cache.get(key);
    if (v === undefined) {
      v = expectedPurchasesIfAlive(p, s.x, s.TDays / unitDays, days / unitDays);
      if (cache.size > 2_000_000) cache.clear();
      cache.set(key, v);
    }
    return v;
  };
  const alive = (s: DaySummary) => probabilityAlive(p, s.x, s.tXDays / unitDays, s.TDays / unitDays);
  return {
    alive,
    /** Expected purchases in the next `days` days (eq. 10). */
    expected: (s: DaySummary, days: number) => alive(s) * ifAlive(s, days),
    /** Whole days until one more purchase is expected (expected purchases reach 1), or null if not within five years. */
    nextOrderInDays(s: DaySummary): number | null {
      const a = alive(s);
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
    /** Gamma-Gamma expected value of their transactions (currency units), or null without a spend model. */
    averageOrderValue: (s: DaySummary) => (model.gammaGamma ? expectedAverageSpend(model.gammaGamma, s.x, s.meanRepeatSpend) : null),
    /** Σ over the horizon's months of expected purchases × expected value, discounted monthly (currency units). */
    clv(s: DaySummary, horizonDays: number, monthlyDiscountRate: number): number | null {
      if (!model.gammaGamma) return null;
      const aov = expectedAverageSpend(model.gammaGamma, s.x, s.meanRepeatSpend);
      const a = alive(s);
      const months = Math.max(1, Math.round(horizonDays / MONTH_DAYS));
      let clv = 0;
      let before = 0;
      for (let k = 1; k <= months; k++) {
        const upTo = a * ifAlive(s, k * MONTH_DAYS);
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
  const s = [...values].sort((u, v) => u - v);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** The value at or above which a `top` share of the values lie (the ⌈top·n⌉-th largest). */
function topThreshold(values: readonly number[], top: number): number {
  if (values.length === 0 || top <= 0) return Infinity;
  const desc = [...values].sort((u, v) => v - u);
  return desc[Math.max(0, Math.ceil(top * desc.length) - 1)] ?? Infinity;
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
  for (const h of histories) {
    const orders = h.orders.filter((o) => o.day <= today);
    if (orders.length === 0) {
      prospects.push(h.customerId);
      continue;
    }
    // Same-day orders are one purchase occasion, as in the models.
    const purchaseDays: { day: number; totalMinor: number }[] = [];
    for (const o of orders) {
      const lastDay = purchaseDays[purchaseDays.length - 1];
      if (lastDay && lastDay.day === o.day) lastDay.totalMinor += o.totalMinor;
      else purchaseDays.push({ day: o.day, totalMinor: o.totalMinor });
    }
    const first = purchaseDays[0]?.day ?? today;
    const last = purchaseDays[purchaseDays.length - 1]?.day ?? today;
    const intervals = purchaseDays.slice(1).map((d, i) => d.day - (purchaseDays[i]?.day ?? d.day));
    const repeat = purchaseDays.slice(1);
    const gross = orders.reduce((sum, o) => sum + o.totalMinor, 0);
    shapes.push({
      history: { ...h, orders },
      purchaseDays,
      intervals,
      summary: {
        x: repeat.length,
        tXDays: last - first,
        TDays: today - first,
        meanRepeatSpend: repeat.length > 0 ? repeat.reduce((sum, d) => sum + d.totalMinor, 0) / repeat.length / minorPerUnit : 0,
      },
      netRevenueMinor: gross - h.refundedMinor,
      aovMinor: gross / orders.length,
      ratePerYear: (orders.length * 365) / Math.max(365, today - first + 1),
    });
  }

  // The shop's typical wait for a second purchase stands in for the rhythm of
  // customers who have bought once.
  const shopRhythm = median(shapes.flatMap((s) => (s.intervals.length > 0 ? [s.intervals[0] ?? 0] : []))) ?? settings.defaultRhythmDays;
  const vipRevenue = topThreshold(shapes.map((s) => s.netRevenueMinor), settings.vipTopShare);
  // In the top share by order value and above the median one, so a shop where most orders cost the same flags nobody.
  const aovs = shapes.map((s) => s.aovMinor);
  const bigAov = topThreshold(aovs, settings.bigSpenderTopShare);
  const medianAov = median(aovs) ?? 0;
  const medianRate = median(shapes.map((s) => s.ratePerYear)) ?? 0;
  const rfm = new Map(
    rfmScores(shapes.map((s) => ({ id: s.history.customerId, recencyDays: today - (s.purchaseDays[s.purchaseDays.length - 1]?.day ?? today), frequency: s.history.orders.length, monetary: s.netRevenueMinor }))).map((r) => [r.id, r]),
  );

  const scored: CustomerScore[] = shapes.map((s) => {
    const { history, intervals, summary } = s;
    const orders = history.orders;
    const gap = summary.TDays - summary.tXDays;
    const own = median(intervals);
    const rhythm = own ?? shopRhythm;
    const alive = predictor ? predictor.alive(summary) : null;
    const earlier = intervals.slice(0, -1);
    const lastInterval = intervals[intervals.length - 1];
    const rhythmBefore = median(earlier) ?? shopRhythm;

    const lapsed = gap > settings.lapsedAfterRhythms * rhythm || (alive !== null && alive < settings.lapsedBelowAlive);
    const atRisk = gap > settings.atRiskAfterRhythms * rhythm || (alive !== null && alive < settings.atRiskBelowAlive);
    const wonBack = lastInterval !== undefined && lastInterval > settings.lapsedAfterRhythms * rhythmBefore && gap <= rhythmBefore;
    const vip = orders.length >= settings.vipMinOrders || (orders.length >= 2 && s.netRevenueMinor >= vipRevenue);
    const stage: Stage = lapsed ? "lapsed" : atRisk ? "at risk" : wonBack ? "won back" : vip ? "loyal" : intervals.length > 0 ? "repeat" : "first-time buyer";

    const priced = orders.filter((o) => o.unitPriceMinor !== null);
    const lastPriced = priced[priced.length - 1];
    const earlierPrice = priced.length >= 2 ? priced.slice(0, -1).reduce((sum, o) => sum + (o.unitPriceMinor ?? 0), 0) / (priced.length - 1) : null;
    const recentCount = Math.min(3, Math.ceil(orders.length / 2));
    const recent = orders.slice(orders.length - recentCount);
    const before = orders.slice(0, orders.length - recentCount);
    const refundedShare = (list: readonly OrderFact[]) => list.filter((o) => o.refunded).length / list.length;
    const signals: ChurnSignals = {
      buysLessOften:
        own !== null && (gap > settings.slowerFactor * own || (earlier.length > 0 && lastInterval !== undefined && lastInterval > settings.slowerFactor * rhythmBefore)),
      buysCheaper: lastPriced !== undefined && earlierPrice !== null && (lastPriced.unitPriceMinor ?? 0) < settings.cheaperFactor * earlierPrice,
      returnsMore: before.length > 0 && recent.some((o) => o.refunded) && refundedShare(recent) - refundedShare(before) >= settings.returnsIncrease,
    };
    const r = rfm.get(history.customerId);
    const next = predictor?.nextOrderInDays(summary) ?? null;
    const aov = predictor?.averageOrderValue(summary) ?? null;
    const clv = predictor?.clv(summary, settings.clvHorizonDays, settings.monthlyDiscountRate) ?? null;
    return {
      customerId: history.customerId,
      stage,
      orders: orders.length,
      netRevenueMinor: s.netRevenueMinor,
      daysSinceLastOrder: gap,
      rhythmDays: rhythm,
      rhythmOwn: own !== null,
      probabilityAlive: alive,
      expectedPurchases90: predictor ? predictor.expected(summary, 90) : null,
      expectedPurchases365: predictor ? predictor.expected(summary, 365) : null,
      nextOrderDay: next === null ? null : today + next,
      expectedOrderValueMinor: aov === null ? null : Math.round(aov * minorPerUnit),
      clvMinor: clv === null ? null : Math.round(clv * minorPerUnit),
      rfm: r ? { r: r.r, f: r.f, m: r.m, segment: r.segment } : null,
      signals,
      bigSpenderRare: s.aovMinor >= bigAov && s.aovMinor > medianAov && s.ratePerYear <= medianRate,
    };
  });
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
