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
  quintileScores,
  rfmSegment,
  type BgNbdParams,
  type GammaGammaParams,
  type RfmSegment,
  type TimeUnit,
} from "../models/index.ts";
import { orderLogOf, type CustomerHistory, type OrderLog } from "./order-log.ts";
import { medianOfValues, orderStatistics } from "../shared/index.ts";

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
  // Kept per (x, T in whole days), then per slot for t: the day count itself
  // up to 9,999, or 10,000 + k for the k-th month of a CLV horizon (and,
  // from −1 down, a CLV horizon's discounted sum: clvSlots). Both keys
  // are small integers, which V8 hashes far faster than the large numbers or
  // strings of a single flat key (the scoring run makes ~25 look-ups per
  // history shape).
  const cache = new Map<number, Map<number, number>>();
  let cached = 0;
  const innerOf = (s: DaySummary): Map<number, number> => {
    const outer = s.x * 100_000 + s.TDays;
    let inner = cache.get(outer);
    if (inner === undefined) {
      inner = new Map();
      cache.set(outer, inner);
    }
    return inner;
  };
  const valueIn = (inner: Map<number, number>, s: DaySummary, slot: number, days: number): number => {
    let v = inner.get(slot);
    if (v === undefined) {
      v = expectedPurchasesIfAlive(p, s.x, s.TDays / unitDays, days / unitDays);
      if (++cached > 4_000_000) {
        cache.clear();
        cached = 0;
        cache.set(s.x * 100_000 + s.TDays, inner);
      }
      inner.set(slot, v);
    }
    return v;
  };
  // The outer key stays a small integer (below 2^31) for x < 20,000 and T < 100,000 days.
  const wholeDays = (s: DaySummary) => Number.isInteger(s.TDays) && s.TDays >= 0 && s.TDays < 100_000 && Number.isInteger(s.x) && s.x < 20_000;
  const ifAlive = (s: DaySummary, days: number): number =>
    wholeDays(s) && Number.isInteger(days) && days < 10_000 ? valueIn(innerOf(s), s, days, days) : expectedPurchasesIfAlive(p, s.x, s.TDays / unitDays, days / unitDays);
  const ifAliveMonth = (s: DaySummary, k: number): number =>
    wholeDays(s) && k < 10_000 ? valueIn(innerOf(s), s, 10_000 + k, k * MONTH_DAYS) : expectedPurchasesIfAlive(p, s.x, s.TDays / unitDays, (k * MONTH_DAYS) / unitDays);
  const alive = (s: DaySummary) => probabilityAlive(p, s.x, s.tXDays / unitDays, s.TDays / unitDays);
  const gg = model.gammaGamma;
  const spendOf = (s: DaySummary): number | null => (gg && gg.p * s.x + gg.q > 1 ? expectedAverageSpend(gg, s.x, s.meanRepeatSpend) : null);
  /**
   * Σ over the horizon's months of the month's expected purchases,
   * discounted monthly: CLV is this times the expected order value. It
   * depends only on the history's shape, so customers can share it. Each
   * month's expected purchases are P(alive) × a part that depends on (x, T)
   * alone, so the sum is P(alive) × that part's discounted sum — kept per
   * (x, T, horizon, rate) in the same cache, one look-up per shape instead of
   * one per month.
   */
  const discountedIfAlive = (s: DaySummary, months: number, monthlyDiscountRate: number): number => {
    let factor = 0;
    let before = 0;
    for (let k = 1; k <= months; k++) {
      const upTo = ifAliveMonth(s, k);
      factor += (upTo - before) / (1 + monthlyDiscountRate) ** k;
      before = upTo;
    }
    return factor;
  };
  const clvSlots = new Map<string, number>(); // (months, rate) → a slot of its own in the (x, T) cache, from −1 down
  const clvFactor = (s: DaySummary, horizonDays: number, monthlyDiscountRate: number, pAlive = alive(s)): number => {
    const months = Math.max(1, Math.round(horizonDays / MONTH_DAYS));
    if (!(wholeDays(s) && months < 10_000)) return pAlive * discountedIfAlive(s, months, monthlyDiscountRate);
    const terms = `${months}:${monthlyDiscountRate}`;
    let slot = clvSlots.get(terms);
    if (slot === undefined) {
      slot = -1 - clvSlots.size;
      clvSlots.set(terms, slot);
    }
    const inner = innerOf(s);
    let base = inner.get(slot);
    if (base === undefined) {
      base = discountedIfAlive(s, months, monthlyDiscountRate);
      inner.set(slot, base);
    }
    return pAlive * base;
  };
  return {
    alive,
    clvFactor,
    /** Expected purchases in the next `days` days (eq. 10). `pAlive`: alive(s), when the caller has it already. */
    expected: (s: DaySummary, days: number, pAlive = alive(s)) => pAlive * ifAlive(s, days),
    /** Whole days until one more purchase is expected (expected purchases reach 1), or null if not within five years. */
    nextOrderInDays(s: DaySummary, pAlive = alive(s)): number | null {
      const a = pAlive;
      // One look-up of the shape's (x, T) values for the whole bisection.
      const inner = wholeDays(s) ? innerOf(s) : null;
      const at = (days: number) => (inner ? valueIn(inner, s, days, days) : expectedPurchasesIfAlive(p, s.x, s.TDays / unitDays, days / unitDays));
      // The first whole day d with a·m(d) ≥ 1, m rising with d (m(0) = 0):
      // kept bracketed by lo (below) and hi (reached), as a bisection would,
      // but each probe is where the straight line between the two ends
      // crosses (false position, with the Illinois halving so that a
      // concave m cannot pin one end): a few probes instead of eleven, and
      // the same day. Days 90 and 365 are in the cache already (the
      // scoring run's 90- and 365-day expectations) and narrow the bracket.
      let hi = NEXT_ORDER_LIMIT_DAYS;
      let fHi = a * at(hi) - 1;
      if (fHi < 0) return null;
      let lo = 0;
      let fLo = -1;
      for (const d of [90, 365]) {
        const f = a * at(d) - 1;
        if (f >= 0 && d < hi) {
          hi = d;
          fHi = f;
        } else if (f < 0 && d > lo) {
          lo = d;
          fLo = f;
        }
      }
      let side = 0; // +1: hi moved last, −1: lo moved last
      let width = hi - lo;
      for (let probes = 0; hi - lo > 1; probes++) {
        let mid = lo + Math.round((-fLo / (fHi - fLo)) * (hi - lo));
        // Every third probe a plain halving if the bracket has not halved meanwhile: never slower than bisection by much.
        if (probes % 3 === 2) {
          if (hi - lo > width / 2) mid = Math.floor((lo + hi) / 2);
          width = hi - lo;
        }
        mid = Math.min(hi - 1, Math.max(lo + 1, Number.isFinite(mid) ? mid : Math.floor((lo + hi) / 2)));
        const f = a * at(mid) - 1;
        if (f >= 0) {
          hi = mid;
          fHi = f;
          if (side === 1) fLo /= 2;
          side = 1;
        } else {
          lo = mid;
          fLo = f;
          if (side === -1) fHi /= 2;
          side = -1;
        }
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
      return aov === null ? null : aov * clvFactor(s, horizonDays, monthlyDiscountRate, pAlive);
    },
  };
}
export type Predictor = ReturnType<typeof makePredictor>;

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
  return values.length === 0 ? null : medianOfValues(Float64Array.from(values));
}

/**
 * Median of values[from, to) (NaN when empty). Called twice per customer on
 * a handful of intervals, where a typed array's sort() costs more than the
 * sorting: up to 32 values are insertion-sorted in `scratch`.
 */
function medianOf(values: Float64Array, from: number, to: number, scratch: Float64Array): number {
  const n = to - from;
  if (n <= 0) return NaN;
  if (n === 1) return values[from] ?? NaN;
  if (n > 32) return medianOfValues(values.subarray(from, to));
  for (let k = 0; k < n; k++) {
    const v = values[from + k] ?? 0;
    let j = k - 1;
    for (; j >= 0 && (scratch[j] ?? 0) > v; j--) scratch[j + 1] = scratch[j] ?? 0;
    scratch[j + 1] = v;
  }
  const mid = n >> 1;
  return n % 2 === 1 ? (scratch[mid] ?? NaN) : ((scratch[mid - 1] ?? 0) + (scratch[mid] ?? 0)) / 2;
}

/** The value at or above which a `top` share of the values lie (the ⌈top·n⌉-th largest). */
function topThreshold(values: Float64Array, top: number): number {
  if (values.length === 0 || top <= 0) return Infinity;
  const k = values.length - Math.max(1, Math.ceil(top * values.length));
  return k < 0 ? Infinity : (orderStatistics(values, [k])[0] ?? Infinity);
}

/** Bits of ScoreTable.flags. */
export const FLAG = { rhythmOwn: 1, buysLessOften: 2, buysCheaper: 4, returnsMore: 8, bigSpenderRare: 16 } as const;

/**
 * Every customer's scores as columns, in the order of the log's customers.
 * NaN stands for "none" (no model, no order, no spend model); rfm 0 for no
 * RFM (a prospect).
 */
export interface ScoreTable {
  customerIds: Float64Array;
  /** Index into STAGES. */
  stage: Uint8Array;
  orders: Int32Array;
  netRevenueMinor: Float64Array;
  daysSinceLastOrder: Float64Array;
  rhythmDays: Float64Array;
  probabilityAlive: Float64Array;
  expectedPurchases90: Float64Array;
  expectedPurchases365: Float64Array;
  nextOrderDay: Float64Array;
  expectedOrderValueMinor: Float64Array;
  clvMinor: Float64Array;
  rfmR: Uint8Array;
  rfmF: Uint8Array;
  rfmM: Uint8Array;
  /** FLAG bits. */
  flags: Uint8Array;
}

/**
 * Scores every customer of `log` against each other (RFM quintiles, VIP and
 * big-spender thresholds are relative to the shop) as of day `today`.
 * `model` null: the model columns are NaN and stages use rhythms alone.
 * `minorPerUnit` converts Gamma-Gamma's currency units to minor units.
 *
 * Plain loops over typed arrays: this runs for every customer of the shop (a
 * million in the benchmark), and per-customer objects, closures and array
 * copies cost more than the model's arithmetic. Customers with the same
 * history shape (x, t_x, T) share one evaluation of the model.
 */
export function scoreLog(log: OrderLog, model: PredictionModel | null, settings: LifecycleSettings, today: number, minorPerUnit: number): ScoreTable {
  const pass = prepareScoring(log, model, settings, today, minorPerUnit);
  pass.scoreRange(0, log.customerIds.length);
  return pass.table;
}

/**
 * scoreLog in two steps, so that a caller can write the rows of one range
 * while it scores the next (the scoring run streams them into the store):
 * the shop-wide figures first (RFM quintiles, rhythms, thresholds — they
 * need every customer), then `scoreRange(from, to)` fills rows [from, to) of
 * `table`.
 */
export interface ScoringPass {
  table: ScoreTable;
  scoreRange(from: number, to: number): void;
}

export function prepareScoring(log: OrderLog, model: PredictionModel | null, settings: LifecycleSettings, today: number, minorPerUnit: number): ScoringPass {
  const n = log.customerIds.length;
  const predictor = model ? makePredictor(model) : null;
  const nan = () => new Float64Array(n).fill(NaN);
  const out: ScoreTable = {
    customerIds: log.customerIds,
    stage: new Uint8Array(n),
    orders: new Int32Array(n),
    netRevenueMinor: new Float64Array(n),
    daysSinceLastOrder: nan(),
    rhythmDays: nan(),
    probabilityAlive: nan(),
    expectedPurchases90: nan(),
    expectedPurchases365: nan(),
    nextOrderDay: nan(),
    expectedOrderValueMinor: nan(),
    clvMinor: nan(),
    rfmR: new Uint8Array(n),
    rfmF: new Uint8Array(n),
    rfmM: new Uint8Array(n),
    flags: new Uint8Array(n),
  };
  // Per customer, pass 1: their own figures.
  const x = new Int32Array(n);
  const first = new Int32Array(n);
  const last = new Int32Array(n);
  const repeatSpend = new Float64Array(n);
  const own = new Float64Array(n); // median interval, NaN with none
  const firstInterval = new Float64Array(n);
  const lastInterval = new Float64Array(n);
  const ownBefore = new Float64Array(n); // median of the intervals but the last; NaN with < 2
  const aov = new Float64Array(n);
  const rate = new Float64Array(n);
  const buyer = new Uint8Array(n);
  let maxOrders = 1;
  for (let i = 0; i < n; i++) maxOrders = Math.max(maxOrders, (log.start[i + 1] ?? 0) - (log.start[i] ?? 0));
  const intervals = new Float64Array(maxOrders);
  const scratch = new Float64Array(maxOrders);
  let buyers = 0;
  for (let i = 0; i < n; i++) {
    const a = log.start[i] ?? 0;
    const b = log.start[i + 1] ?? 0;
    let count = 0;
    let gross = 0;
    let days = 0; // distinct purchase days
    let prevDay = 0;
    let spend = 0;
    let nIntervals = 0;
    for (let k = a; k < b; k++) {
      const d = log.day[k] ?? 0;
      if (d > today) continue;
      const t = log.totalMinor[k] ?? 0;
      count++;
      gross += t;
      // Same-day orders are one purchase occasion, as in the models.
      if (days === 0) {
        first[i] = d;
        days = 1;
      } else if (d !== prevDay) {
        intervals[nIntervals++] = d - prevDay;
        days++;
        spend += t;
      } else if (days > 1) {
        spend += t;
      }
      prevDay = d;
    }
    out.orders[i] = count;
    if (count === 0) continue;
    buyer[i] = 1;
    buyers++;
    last[i] = prevDay;
    x[i] = days - 1;
    repeatSpend[i] = spend;
    own[i] = medianOf(intervals, 0, nIntervals, scratch);
    firstInterval[i] = nIntervals > 0 ? (intervals[0] ?? NaN) : NaN;
    lastInterval[i] = nIntervals > 0 ? (intervals[nIntervals - 1] ?? NaN) : NaN;
    ownBefore[i] = nIntervals > 1 ? medianOf(intervals, 0, nIntervals - 1, scratch) : NaN;
    out.netRevenueMinor[i] = gross - (log.refundedMinor[i] ?? 0);
    aov[i] = gross / count;
    rate[i] = (count * 365) / Math.max(365, today - (first[i] ?? today) + 1);
  }

  // The shop's figures, over the buyers.
  const firstIntervals: number[] = [];
  const revenues = new Float64Array(buyers);
  const aovs = new Float64Array(buyers);
  const rates = new Float64Array(buyers);
  const recency = new Float64Array(buyers);
  const frequency = new Float64Array(buyers);
  for (let i = 0, j = 0; i < n; i++) {
    if (!buyer[i]) continue;
    const fi = firstInterval[i] ?? NaN;
    if (!Number.isNaN(fi)) firstIntervals.push(fi);
    revenues[j] = out.netRevenueMinor[i] ?? 0;
    aovs[j] = aov[i] ?? 0;
    rates[j] = rate[i] ?? 0;
    recency[j] = today - (last[i] ?? today);
    frequency[j] = out.orders[i] ?? 0;
    j++;
  }
  // The shop's typical wait for a second purchase stands in for the rhythm of customers who have bought once.
  const shopRhythm = median(firstIntervals) ?? settings.defaultRhythmDays;
  const vipRevenue = topThreshold(revenues, settings.vipTopShare);
  // In the top share by order value and above the median one, so a shop where most orders cost the same flags nobody.
  const bigAov = topThreshold(aovs, settings.bigSpenderTopShare);
  const medianAov = buyers > 0 ? medianOfValues(aovs) : 0;
  const medianRate = buyers > 0 ? medianOfValues(rates) : 0;
  const rfmR = quintileScores(recency, false);
  const rfmF = quintileScores(frequency, true);
  const rfmM = quintileScores(revenues, true);
  for (let i = 0, j = 0; i < n; i++) {
    if (!buyer[i]) continue;
    out.rfmR[i] = rfmR[j] ?? 0;
    out.rfmF[i] = rfmF[j] ?? 0;
    out.rfmM[i] = rfmM[j] ?? 0;
    j++;
  }

  // Pass 2: stages, signals and the model, customer by customer.
  // Shape (x, T, then t_x, in days) → slot in the shape arrays; small-integer keys at both levels hash fast.
  const shapes = new Map<number, Map<number, number>>();
  const shapeAlive: number[] = [];
  const shape90: number[] = [];
  const shape365: number[] = [];
  const shapeNext: number[] = [];
  const shapeClvFactor: number[] = [];
  const stageIndex = (s: Stage) => STAGES.indexOf(s);
  const STAGE = {
    prospect: stageIndex("prospect"),
    first: stageIndex("first-time buyer"),
    repeat: stageIndex("repeat"),
    loyal: stageIndex("loyal"),
    atRisk: stageIndex("at risk"),
    lapsed: stageIndex("lapsed"),
    wonBack: stageIndex("won back"),
  };
  const scoreRange = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      if (!buyer[i]) {
        out.stage[i] = STAGE.prospect;
        continue;
      }
      const xi = x[i] ?? 0;
      const fi = first[i] ?? 0;
      const li = last[i] ?? 0;
      const orders = out.orders[i] ?? 0;
      const net = out.netRevenueMinor[i] ?? 0;
      const gap = today - li;
      const ownI = own[i] ?? NaN;
      const hasOwn = !Number.isNaN(ownI);
      const rhythm = hasOwn ? ownI : shopRhythm;
      const before = ownBefore[i] ?? NaN;
      const rhythmBefore = Number.isNaN(before) ? shopRhythm : before;
      const lastGap = lastInterval[i] ?? NaN;
      const summary: DaySummary = { x: xi, tXDays: li - fi, TDays: today - fi, meanRepeatSpend: xi > 0 ? (repeatSpend[i] ?? 0) / xi / minorPerUnit : 0 };

      let alive = NaN;
      if (predictor) {
        const keyed = xi < 20_000 && summary.TDays < 100_000;
        let byTx = keyed ? shapes.get(xi * 100_000 + summary.TDays) : undefined;
        if (keyed && byTx === undefined) {
          byTx = new Map();
          shapes.set(xi * 100_000 + summary.TDays, byTx);
        }
        let slot = byTx?.get(summary.tXDays);
        if (slot === undefined) {
          const p = predictor.alive(summary);
          slot = shapeAlive.length;
          shapeAlive.push(p);
          shape90.push(predictor.expected(summary, 90, p));
          shape365.push(predictor.expected(summary, 365, p));
          shapeNext.push(predictor.nextOrderInDays(summary, p) ?? NaN);
          // Without a spend model there is no CLV, so no factor to compute.
          shapeClvFactor.push(model?.gammaGamma ? predictor.clvFactor(summary, settings.clvHorizonDays, settings.monthlyDiscountRate, p) : NaN);
          byTx?.set(summary.tXDays, slot);
        }
        alive = shapeAlive[slot] ?? NaN;
        out.probabilityAlive[i] = alive;
        out.expectedPurchases90[i] = shape90[slot] ?? NaN;
        out.expectedPurchases365[i] = shape365[slot] ?? NaN;
        out.nextOrderDay[i] = today + (shapeNext[slot] ?? NaN);
        const spend = predictor.averageOrderValue(summary);
        if (spend !== null) {
          out.expectedOrderValueMinor[i] = Math.round(spend * minorPerUnit);
          out.clvMinor[i] = Math.round((shapeClvFactor[slot] ?? NaN) * spend * minorPerUnit);
        }
      }

      const hasAlive = !Number.isNaN(alive);
      const lapsed = gap > settings.lapsedAfterRhythms * rhythm || (hasAlive && alive < settings.lapsedBelowAlive);
      const atRisk = gap > settings.atRiskAfterRhythms * rhythm || (hasAlive && alive < settings.atRiskBelowAlive);
      const wonBack = !Number.isNaN(lastGap) && lastGap > settings.lapsedAfterRhythms * rhythmBefore && gap <= rhythmBefore;
      const vip = orders >= settings.vipMinOrders || (orders >= 2 && net >= vipRevenue);
      out.stage[i] = lapsed ? STAGE.lapsed : atRisk ? STAGE.atRisk : wonBack ? STAGE.wonBack : vip ? STAGE.loyal : xi > 0 ? STAGE.repeat : STAGE.first;
      out.daysSinceLastOrder[i] = gap;
      out.rhythmDays[i] = rhythm;

      // Mean item price: of the last order with lines, and over the earlier ones;
      // refunded share of the recent orders (the last min(3, ⌈n/2⌉)) against the earlier ones.
      const a = log.start[i] ?? 0;
      const b = log.start[i + 1] ?? 0;
      let lastPrice = NaN;
      let earlierSum = 0;
      let earlierCount = 0;
      const recentCount = Math.min(3, Math.ceil(orders / 2));
      const earlierOrders = orders - recentCount;
      let recentRefunded = 0;
      let earlierRefunded = 0;
      for (let k = a, seen = 0; k < b; k++) {
        if ((log.day[k] ?? 0) > today) continue;
        const price = log.unitPriceMinor[k] ?? NaN;
        if (!Number.isNaN(price)) {
          if (!Number.isNaN(lastPrice)) {
            earlierSum += lastPrice;
            earlierCount++;
          }
          lastPrice = price;
        }
        if (log.refunded[k]) {
          if (seen >= earlierOrders) recentRefunded++;
          else earlierRefunded++;
        }
        seen++;
      }
      let flags = hasOwn ? FLAG.rhythmOwn : 0;
      if (hasOwn && (gap > settings.slowerFactor * ownI || (!Number.isNaN(before) && lastGap > settings.slowerFactor * rhythmBefore))) flags |= FLAG.buysLessOften;
      if (!Number.isNaN(lastPrice) && earlierCount > 0 && lastPrice < settings.cheaperFactor * (earlierSum / earlierCount)) flags |= FLAG.buysCheaper;
      if (earlierOrders > 0 && recentRefunded > 0 && recentRefunded / recentCount - earlierRefunded / earlierOrders >= settings.returnsIncrease) flags |= FLAG.returnsMore;
      const aovI = aov[i] ?? 0;
      if (aovI >= bigAov && aovI > medianAov && (rate[i] ?? 0) <= medianRate) flags |= FLAG.bigSpenderRare;
      out.flags[i] = flags;
    }
  };
  return { table: out, scoreRange };
}

/** Row k of the table as an object (the API's and the tests' shape). */
export function scoreAt(t: ScoreTable, k: number): CustomerScore {
  const num = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? null : v);
  const flags = t.flags[k] ?? 0;
  const r = t.rfmR[k] ?? 0;
  const f = t.rfmF[k] ?? 0;
  const m = t.rfmM[k] ?? 0;
  return {
    customerId: t.customerIds[k] ?? 0,
    stage: STAGES[t.stage[k] ?? 0] ?? "prospect",
    orders: t.orders[k] ?? 0,
    netRevenueMinor: t.netRevenueMinor[k] ?? 0,
    daysSinceLastOrder: num(t.daysSinceLastOrder[k]),
    rhythmDays: num(t.rhythmDays[k]),
    rhythmOwn: (flags & FLAG.rhythmOwn) !== 0,
    probabilityAlive: num(t.probabilityAlive[k]),
    expectedPurchases90: num(t.expectedPurchases90[k]),
    expectedPurchases365: num(t.expectedPurchases365[k]),
    nextOrderDay: num(t.nextOrderDay[k]),
    expectedOrderValueMinor: num(t.expectedOrderValueMinor[k]),
    clvMinor: num(t.clvMinor[k]),
    rfm: r > 0 ? { r, f, m, segment: rfmSegment(r, f, m) } : null,
    signals: { buysLessOften: (flags & FLAG.buysLessOften) !== 0, buysCheaper: (flags & FLAG.buysCheaper) !== 0, returnsMore: (flags & FLAG.returnsMore) !== 0 },
    bigSpenderRare: (flags & FLAG.bigSpenderRare) !== 0,
  };
}

/** scoreLog for histories given as objects, one CustomerScore each (tests, small callers). */
export function scoreCustomers(
  histories: readonly CustomerHistory[],
  model: PredictionModel | null,
  settings: LifecycleSettings,
  today: number,
  minorPerUnit: number,
): CustomerScore[] {
  const table = scoreLog(orderLogOf(histories), model, settings, today, minorPerUnit);
  return Array.from({ length: table.customerIds.length }, (_, k) => scoreAt(table, k));
}
