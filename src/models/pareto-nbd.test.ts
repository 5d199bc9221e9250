/**
 * The Pareto/NBD model against the estimates published on the CDNOW 1/10
 * sample (2,357 customers who first bought in Q1 1997), calibration
 * 1997-01-01 … 1997-09-30 (39 weeks), time unit = week — Fader, Hardie &
 * Lee (2005), "A Note on Implementing the Pareto/NBD Model in MATLAB":
 *   r = 0.5533, α = 10.5776, s = 0.6061, β = 11.6689, LL = −9594.98.
 * Plus internal consistency: the 2F1 form of A₀ against a numerical
 * integration of its defining integral, continuity across the α = β case
 * switch, P(alive) against the likelihood split, and the expectations.
 */
import { readCdnowSample } from "../../test/cdnow-sample.ts";
import { beforeAll, describe, expect, it } from "vitest";
import type { FitResult } from "./bg-nbd.ts";
import {
  fitParetoNbd,
  paretoNbdCustomerLogLikelihood,
  paretoNbdExpectedPurchases,
  paretoNbdExpectedPurchasesNewCustomer,
  paretoNbdLogLikelihood,
  paretoNbdProbabilityAlive,
  type ParetoNbdParams,
} from "./pareto-nbd.ts";
import { lnGamma } from "./special.ts";
import { dayNumber, summarisePurchases, type CustomerSummary } from "./summaries.ts";

const PUBLISHED: ParetoNbdParams = { r: 0.5533, alpha: 10.5776, s: 0.6061, beta: 11.6689 };

let summaries: CustomerSummary[] = [];
let fit: FitResult<ParetoNbdParams>;

beforeAll(() => {
  summaries = summarisePurchases(readCdnowSample(), { calibrationEnd: dayNumber("1997-09-30"), unit: "week" });
  fit = fitParetoNbd(summaries);
});

/**
 * The likelihood written as its defining integral (derivations note):
 *   L = Γ(r+x) α^r β^s / Γ(r) · [ (α+T)^{−(r+x)} (β+T)^{−s}
 *       + s ∫_{t_x}^{T} (α+τ)^{−(r+x)} (β+τ)^{−(s+1)} dτ ],
 * by Simpson's rule — independent of the 2F1 and of the α ≥ β / α < β cases.
 */
function integratedLikelihood(p: ParetoNbdParams, x: number, t_x: number, T: number): number {
  const { r, alpha, s, beta } = p;
  const f = (tau: number): number => Math.pow(alpha + tau, -(r + x)) * Math.pow(beta + tau, -(s + 1));
  const n = 2000;
  const h = (T - t_x) / n;
  let sum = f(t_x) + f(T);
  for (let i = 1; i < n; i++) sum += (i % 2 === 1 ? 4 : 2) * f(t_x + i * h);
  const integral = (sum * h) / 3;
  const common = Math.exp(lnGamma(r + x) - lnGamma(r) + r * Math.log(alpha) + s * Math.log(beta));
  return common * (Math.pow(alpha + T, -(r + x)) * Math.pow(beta + T, -s) + s * integral);
}

describe("Pareto/NBD likelihood", () => {
  const histories: [number, number, number][] = [
    [0, 0, 38.86],
    [1, 5, 30],
    [2, 30.43, 38.86],
    [7, 35, 38.86],
    [3, 12, 12], // t_x = T: A₀ = 0
  ];

  it("matches a numerical integration of its defining integral in both A₀ cases", () => {
    const cases: ParetoNbdParams[] = [
      PUBLISHED, // α < β
      { r: 0.5533, alpha: 11.6689, s: 0.6061, beta: 10.5776 }, // α > β
      { r: 1.2, alpha: 40, s: 0.3, beta: 2 }, // α ≫ β: 2F1 argument near (α−β)/α
      { r: 0.3, alpha: 2, s: 1.7, beta: 40 }, // α ≪ β
      { r: 0.5, alpha: 7, s: 0.8, beta: 7 }, // α = β: 2F1 = 1
    ];
    for (const p of cases) {
      for (const [x, t_x, T] of histories) {
        const ll = paretoNbdCustomerLogLikelihood(p, { x, t_x, T });
        expect(ll).toBeCloseTo(Math.log(integratedLikelihood(p, x, t_x, T)), 9);
      }
    }
  });

  it("is continuous across the α ≥ β / α < β switch", () => {
    const below = { r: 0.5, alpha: 10 - 1e-9, s: 0.6, beta: 10 };
    const at = { r: 0.5, alpha: 10, s: 0.6, beta: 10 };
    const above = { r: 0.5, alpha: 10 + 1e-9, s: 0.6, beta: 10 };
    for (const [x, t_x, T] of histories) {
      const c = { x, t_x, T };
      const mid = paretoNbdCustomerLogLikelihood(at, c);
      expect(paretoNbdCustomerLogLikelihood(below, c)).toBeCloseTo(mid, 7);
      expect(paretoNbdCustomerLogLikelihood(above, c)).toBeCloseTo(mid, 7);
    }
  });

  it("stays finite for a heavy buyer whose terms underflow as plain numbers", () => {
    const ll = paretoNbdCustomerLogLikelihood(PUBLISHED, { x: 400, t_x: 30, T: 38.86 });
    expect(Number.isFinite(ll)).toBe(true);
    expect(() => paretoNbdLogLikelihood(PUBLISHED, [{ x: 1, t_x: 40, T: 38 }])).toThrow(RangeError);
    expect(() => paretoNbdLogLikelihood({ ...PUBLISHED, s: 0 }, summaries)).toThrow(RangeError);
  });
});

describe("Pareto/NBD on CDNOW (Fader, Hardie & Lee 2005, MATLAB note)", () => {
  it("uses the canonical calibration summary", () => {
    expect(summaries).toHaveLength(2357);
    expect(summaries.reduce((s, c) => s + c.x, 0)).toBe(2457);
  });

  it("fits the published parameters and log-likelihood", () => {
    expect(fit.converged).toBe(true);
    expect(Math.abs(fit.params.r - PUBLISHED.r)).toBeLessThan(0.002);
    expect(Math.abs(fit.params.alpha - PUBLISHED.alpha)).toBeLessThan(0.05);
    expect(Math.abs(fit.params.s - PUBLISHED.s)).toBeLessThan(0.002);
    expect(Math.abs(fit.params.beta - PUBLISHED.beta)).toBeLessThan(0.05);
    expect(Math.abs(fit.logLikelihood - -9594.98)).toBeLessThan(0.05);
    // the likelihood function agrees with the optimiser's value
    expect(paretoNbdLogLikelihood(fit.params, summaries)).toBeCloseTo(fit.logLikelihood, 8);
    expect(paretoNbdLogLikelihood(PUBLISHED, summaries)).toBeLessThanOrEqual(fit.logLikelihood);
    expect(paretoNbdLogLikelihood(PUBLISHED, summaries)).toBeCloseTo(-9594.98, 1);
  });

  it("gives finite, positive standard errors", () => {
    expect(fit.hessianPositiveDefinite).toBe(true);
    for (const se of Object.values(fit.standardErrors)) {
      expect(Number.isFinite(se)).toBe(true);
      expect(se).toBeGreaterThan(0);
    }
  });

  it("P(alive) is in (0, 1], 1 at t_x = T, and falls as the last purchase gets older", () => {
    expect(paretoNbdProbabilityAlive(fit.params, 4, 38.86, 38.86)).toBe(1);
    for (const c of summaries) {
      const p = paretoNbdProbabilityAlive(fit.params, c.x, c.t_x, c.T);
      expect(p).toBeGreaterThan(0);
      expect(p).toBeLessThanOrEqual(1);
    }
    for (const x of [0, 1, 4, 15]) {
      let previous = Infinity;
      for (const t_x of [38, 30, 20, 10, 1]) {
        const p = paretoNbdProbabilityAlive(fit.params, x, x === 0 ? 0 : t_x, 38.86);
        if (x === 0) {
          expect(p).toBeLessThan(1);
          continue;
        }
        expect(p).toBeLessThan(previous);
        expect(p).toBeGreaterThan(0);
        previous = p;
      }
    }
  });

  it("P(alive) is the 'alive' share of the likelihood", () => {
    const { r, alpha, s, beta } = fit.params;
    const cases: [number, number, number][] = [[0, 0, 38.86], [2, 30.43, 38.86], [6, 10, 35]];
    for (const [x, t_x, T] of cases) {
      const lnAliveTerm = lnGamma(r + x) - lnGamma(r) + r * Math.log(alpha) + s * Math.log(beta)
        - (r + x) * Math.log(alpha + T) - s * Math.log(beta + T);
      const share = Math.exp(lnAliveTerm - paretoNbdCustomerLogLikelihood(fit.params, { x, t_x, T }));
      expect(paretoNbdProbabilityAlive(fit.params, x, t_x, T)).toBeCloseTo(share, 12);
    }
  });

  it("conditional expectation is positive and increasing in t, and reduces to E[X(t)] at x = 0, T = 0", () => {
    const histories: [number, number][] = [[0, 0], [2, 30.43], [7, 35], [1, 2]];
    for (const [x, t_x] of histories) {
      let previous = 0;
      for (const t of [1, 10, 39, 52, 104]) {
        const e = paretoNbdExpectedPurchases(fit.params, x, t_x, 38.86, t);
        expect(e).toBeGreaterThan(previous);
        previous = e;
      }
    }
    expect(paretoNbdExpectedPurchases(fit.params, 2, 30.43, 38.86, 0)).toBe(0);
    for (const t of [1, 39, 78]) {
      expect(paretoNbdExpectedPurchases(fit.params, 0, 0, 0, t)).toBeCloseTo(
        paretoNbdExpectedPurchasesNewCustomer(fit.params, t),
        12,
      );
    }
    // small t: E[X(t)] ≈ E[λ] t = r t / α
    expect(paretoNbdExpectedPurchasesNewCustomer(fit.params, 1e-6) / 1e-6).toBeCloseTo(fit.params.r / fit.params.alpha, 5);
    // s = 1 is the continuous limit of the (s − 1) formula
    const near = paretoNbdExpectedPurchases({ ...fit.params, s: 1 + 1e-9 }, 2, 30.43, 38.86, 39);
    expect(paretoNbdExpectedPurchases({ ...fit.params, s: 1 }, 2, 30.43, 38.86, 39)).toBeCloseTo(near, 7);
  });

  it("E[X(t)] agrees with a numerical integration over the lifetime distribution", () => {
    // Given λ, μ: E[X(t)] = λ (1 − e^{−μt})/μ (SMC 1987 §3). Mixing λ gives r/α;
    // over μ ~ Gamma(s, β), E[(1 − e^{−μt})/μ] = ∫_0^t E[e^{−μu}] du = ∫_0^t (β/(β+u))^s du.
    const { r, alpha, s, beta } = fit.params;
    const t = 39;
    const n = 2000;
    const h = t / n;
    const g = (u: number): number => Math.pow(beta / (beta + u), s);
    let sum = g(0) + g(t);
    for (let i = 1; i < n; i++) sum += (i % 2 === 1 ? 4 : 2) * g(i * h);
    expect(paretoNbdExpectedPurchasesNewCustomer(fit.params, t)).toBeCloseTo(((r / alpha) * sum * h) / 3, 9);
  });
});
