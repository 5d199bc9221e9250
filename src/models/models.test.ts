/**
 * The customer-base models against the figures published on the CDNOW 1/10
 * sample (2,357 customers who first bought in Q1 1997), calibration
 * 1997-01-01 … 1997-09-30 (39 weeks), time unit = week:
 * - BG/NBD: Fader, Hardie & Lee (2005), Marketing Science 24(2), §5:
 *   r = 0.243, α = 4.414, a = 0.793, b = 2.426, LL = −9582.4.
 * - Gamma-Gamma: Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary
 *   Value": p = 6.25, q = 3.74, γ = 15.44 on the 946 customers with x ≥ 1,
 *   m_x = mean value of their repeat transactions in calibration.
 * Plus the special functions against closed forms, and internal consistency
 * of the expectations against a numerical integration of the model.
 */
import { readCdnowSample } from "../../test/cdnow-sample.ts";
import { beforeAll, describe, expect, it } from "vitest";
import {
  bgNbdLogLikelihood,
  bfgs,
  compileBgNbdLikelihood,
  compileGammaGammaLikelihood,
  digamma,
  bgNbdCustomerLogLikelihood,
  compileBgNbdLogLikelihood,
  lnHyp2f1Positive,
  dayNumber,
  expectedAverageSpend,
  expectedPurchases,
  expectedPurchasesDirect,
  expectedPurchasesNewCustomer,
  fitBgNbd,
  fitGammaGamma,
  gammaGammaLogLikelihood,
  hyp2f1,
  invertSymmetricPositiveDefinite,
  lnBeta,
  lnGamma,
  minimise,
  probabilityAlive,
  groupIdenticalCustomers,
  groupSummaryColumns,
  purchaseDaysOf,
  spendColumns,
  summarisePurchases,
  summaryColumns,
  type BgNbdParams,
  type CustomerSummary,
  type FitResult,
  type GammaGammaParams,
} from "./index.ts";

const PUBLISHED_BG: BgNbdParams = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };

let summaries: CustomerSummary[] = [];
let bg: FitResult<BgNbdParams>;
let gg: FitResult<GammaGammaParams>;

beforeAll(() => {
  summaries = summarisePurchases(readCdnowSample(), { calibrationEnd: dayNumber("1997-09-30"), unit: "week" });
  bg = fitBgNbd(summaries);
  gg = fitGammaGamma(summaries.filter((c) => c.x >= 1));
});

describe("special functions", () => {
  it("lnGamma matches closed forms", () => {
    expect(lnGamma(1)).toBeCloseTo(0, 14);
    expect(lnGamma(2)).toBeCloseTo(0, 14);
    expect(lnGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 14);
    expect(lnGamma(10)).toBeCloseTo(Math.log(362880), 12);
    expect(lnGamma(100)).toBeCloseTo(359.1342053695754, 10); // ln 99!
    expect(lnGamma(0.001)).toBeCloseTo(6.907178885383853, 12);
    // Recurrence Γ(x+1) = x Γ(x) across the Lanczos / Stirling switch at 10.
    for (const x of [0.3, 4.5, 9.5, 9.99, 10.5, 1234.5]) expect(lnGamma(x + 1) - lnGamma(x)).toBeCloseTo(Math.log(x), 11);
  });

  it("lnHyp2f1Positive matches closed forms, also where the terms pass the double range", () => {
    // 2F1(a, b; b; z) = (1 − z)^{−a} (A&S 15.1.8); 2F1(1, 1; 2; z) = −ln(1 − z)/z (15.1.3)
    expect(lnHyp2f1Positive(0.7, 1.3, 1.3, 0.3)).toBeCloseTo(-0.7 * Math.log(0.7), 13);
    expect(lnHyp2f1Positive(800, 5, 5, 0.9)).toBeCloseTo(800 * Math.log(10), 9);
    expect(lnHyp2f1Positive(1, 1, 2, 0.5)).toBeCloseTo(Math.log(-Math.log(0.5) / 0.5), 13);
    expect(() => lnHyp2f1Positive(-1, 1, 2, 0.5)).toThrow(RangeError);
  });

  it("digamma matches closed forms and the recurrence", () => {
    const eulerGamma = 0.5772156649015329;
    expect(digamma(1)).toBeCloseTo(-eulerGamma, 13); // A&S 6.3.2
    expect(digamma(0.5)).toBeCloseTo(-eulerGamma - 2 * Math.log(2), 13); // A&S 6.3.3
    for (const x of [0.01, 3.7, 5.99, 6, 250, 1e6]) expect(digamma(x + 1) - digamma(x)).toBeCloseTo(1 / x, 12);
    // ψ is the derivative of ln Γ.
    for (const x of [0.3, 7.5, 42]) expect(digamma(x)).toBeCloseTo((lnGamma(x + 1e-5) - lnGamma(x - 1e-5)) / 2e-5, 7);
  });

  it("lnBeta is accurate for large arguments", () => {
    expect(lnBeta(1, 1e6)).toBeCloseTo(-Math.log(1e6), 12); // B(1, n) = 1/n
    expect(lnBeta(2, 3)).toBeCloseTo(Math.log(1 / 12), 14);
    // B(a, b+1) = B(a, b) · b/(a+b) in every branch
    const pairs: [number, number][] = [[0.8, 2.4], [0.8, 5000], [20, 30], [3, 1e7]];
    for (const [a, b] of pairs) {
      expect(lnBeta(a, b + 1) - lnBeta(a, b)).toBeCloseTo(Math.log(b / (a + b)), 11);
    }
    expect(lnBeta(12, 15)).toBeCloseTo(lnGamma(12) + lnGamma(15) - lnGamma(27), 11);
  });

  it("hyp2f1 matches closed forms", () => {
    for (const z of [-0.9, -0.3, 0.2, 0.7, 0.95]) {
      expect(hyp2f1(1, 1, 2, z)).toBeCloseTo(-Math.log(1 - z) / z, 12); // A&S 15.1.3
      expect(hyp2f1(0.7, 1.3, 1.3, z)).toBeCloseTo(Math.pow(1 - z, -0.7), 12); // A&S 15.1.8
    }
    expect(hyp2f1(-3, 2, 1.5, 0.4)).toBeCloseTo(terminatingSeries(), 14);
    expect(() => hyp2f1(1, 1, 2, 1)).toThrow(RangeError);
  });
});

/** 2F1(−3, 2; 1.5; 0.4) written out: a = −3 makes the series a cubic (A&S 15.4.1). */
function terminatingSeries(): number {
  const n1 = ((-3 * 2) / 1.5) * 0.4;
  const n2 = ((-3 * -2 * (2 * 3)) / (1.5 * 2.5 * 2)) * 0.4 ** 2;
  const n3 = ((-3 * -2 * -1 * (2 * 3 * 4)) / (1.5 * 2.5 * 3.5 * 6)) * 0.4 ** 3;
  return 1 + n1 + n2 + n3;
}

describe("optimiser", () => {
  it("finds the Rosenbrock minimum from several starts", () => {
    const rosen = (v: number[]): number => {
      const [x = 0, y = 0] = v;
      return 100 * (y - x * x) ** 2 + (1 - x) ** 2;
    };
    const res = minimise(rosen, [[-1.2, 1], [2, 2]], { fTolerance: 1e-14, xTolerance: 1e-10 });
    expect(res.x[0]).toBeCloseTo(1, 5);
    expect(res.x[1]).toBeCloseTo(1, 5);
    expect(res.converged).toBe(true);
  });

  it("BFGS finds the Rosenbrock minimum with its gradient", () => {
    const fg = ([x = 0, y = 0]: number[]) => ({ f: (1 - x) ** 2 + 100 * (y - x * x) ** 2, g: [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)] });
    const r = bfgs(fg, [-1.2, 1]);
    expect(r.converged).toBe(true);
    expect(r.x[0]).toBeCloseTo(1, 6);
    expect(r.x[1]).toBeCloseTo(1, 6);
    expect(r.evaluations).toBeLessThan(200);
  });

  it("BFGS does not call a point against a wall converged", () => {
    // f = (x − 3)², infinite beyond x = 1: the search ends at the wall with the gradient still −4.
    const fg = ([x = 0]: number[]) => (x > 1 ? { f: Infinity, g: [NaN] } : { f: (x - 3) ** 2, g: [2 * (x - 3)] });
    const r = bfgs(fg, [0]);
    expect(r.x[0]).toBeCloseTo(1, 6);
    expect(r.converged).toBe(false);
  });

  it("reports a matrix that is not positive definite", () => {
    expect(invertSymmetricPositiveDefinite([[1, 2], [2, 1]])).toBeUndefined();
    const inv = invertSymmetricPositiveDefinite([[4, 2], [2, 3]]);
    expect(inv?.[0]?.[0]).toBeCloseTo(3 / 8, 14);
    expect(inv?.[0]?.[1]).toBeCloseTo(-2 / 8, 14);
    expect(inv?.[1]?.[1]).toBeCloseTo(4 / 8, 14);
  });
});

describe("summaries", () => {
  it("merges same-day purchases and measures from the first purchase", () => {
    const s = summarisePurchases(
      [
        { customerId: "a", day: 100, amount: 10 },
        { customerId: "a", day: 100, amount: 5 }, // same day: one transaction of 15
        { customerId: "a", day: 107, amount: 20 },
        { customerId: "a", day: 114, amount: 4 },
        { customerId: "a", day: 114, amount: 6 },
        { customerId: "a", day: 200, amount: 99 }, // after calibration: ignored
        { customerId: "b", day: 121, amount: 7 },
        { customerId: "c", day: 150, amount: 7 }, // first purchase after the end: left out
      ],
      { calibrationEnd: 128, unit: "week" },
    );
    expect(s).toEqual([
      { customerId: "a", x: 2, t_x: 2, T: 4, m_x: 15, firstDay: 100 },
      { customerId: "b", x: 0, t_x: 0, T: 1, m_x: 0, firstDay: 121 },
    ]);
  });

  it("reproduces the canonical CDNOW calibration summary", () => {
    expect(summaries).toHaveLength(2357);
    expect(summaries.filter((c) => c.x === 0)).toHaveLength(1411);
    expect(summaries.filter((c) => c.x >= 1)).toHaveLength(946);
    // 2,457 repeat transactions in calibration (Hardie's cdnowSummary: Σx).
    expect(summaries.reduce((s, c) => s + c.x, 0)).toBe(2457);
    // A customer whose first purchase is 1997-01-01 has T = 272/7 = 38.86 weeks.
    expect(Math.max(...summaries.map((c) => c.T))).toBeCloseTo(38.857, 3);
    for (const c of summaries) expect(c.t_x).toBeLessThanOrEqual(c.T);
  });
});

describe("BG/NBD on CDNOW (Fader, Hardie & Lee 2005)", () => {
  it("fits the published parameters and log-likelihood", () => {
    expect(bg.converged).toBe(true);
    expect(Math.abs(bg.params.r - 0.243)).toBeLessThan(0.0005);
    expect(Math.abs(bg.params.alpha - 4.414)).toBeLessThan(0.005);
    expect(Math.abs(bg.params.a - 0.793)).toBeLessThan(0.005);
    expect(Math.abs(bg.params.b - 2.426)).toBeLessThan(0.005);
    expect(Math.abs(bg.logLikelihood - -9582.4)).toBeLessThan(0.1);
    // the likelihood function agrees with the optimiser's value
    expect(bgNbdLogLikelihood(bg.params, summaries)).toBeCloseTo(bg.logLikelihood, 8);
    expect(bgNbdLogLikelihood(PUBLISHED_BG, summaries)).toBeLessThanOrEqual(bg.logLikelihood);
  });

  it("fits the same from summary columns (whole-day shapes, as the shop's fit reads them) as from summary objects", () => {
    const columns = summaryColumns(purchaseDaysOf(readCdnowSample()), { calibrationEnd: dayNumber("1997-09-30"), unit: "week" });
    expect(columns.length).toBe(summaries.length);
    // Same shapes with the same counts, whichever way they were grouped.
    const shapes = (g: ReturnType<typeof groupSummaryColumns>) =>
      Array.from({ length: g.length }, (_, k) => `${g.x[k]}:${g.t_x[k]}:${g.T[k]}:${g.weight[k]}`).sort();
    expect(shapes(groupSummaryColumns(columns))).toEqual(shapes(groupIdenticalCustomers(summaries)));
    const fromColumns = fitBgNbd(groupSummaryColumns(columns));
    expect(fromColumns.logLikelihood).toBeCloseTo(bg.logLikelihood, 8);
    expect(fromColumns.params.r).toBeCloseTo(bg.params.r, 5);
    expect(fromColumns.params.b).toBeCloseTo(bg.params.b, 4);
    expect(fitGammaGamma(spendColumns(columns)).logLikelihood).toBeCloseTo(gg.logLikelihood, 8);
  });

  it("a warm start from a fit's own covariance settles in a few steps, at the same optimum", () => {
    expect(bg.logCovariance).toHaveLength(4);
    const nearby = [bg.params.r * 1.2, bg.params.alpha * 0.8, bg.params.a * 1.1, bg.params.b * 0.9];
    const cold = fitBgNbd(summaries, { starts: [nearby] });
    const warm = fitBgNbd(summaries, { starts: [nearby], inverseHessian: bg.logCovariance, standardErrors: false });
    expect(warm.converged).toBe(true);
    expect(warm.logLikelihood).toBeCloseTo(bg.logLikelihood, 6);
    expect(warm.iterations).toBeLessThan(cold.iterations);
    // Without standard errors: none claimed.
    expect(Number.isNaN(warm.standardErrors.r)).toBe(true);
    expect(warm.hessianPositiveDefinite).toBe(false);
  });

  it("gives finite, positive standard errors", () => {
    expect(bg.hessianPositiveDefinite).toBe(true);
    for (const se of Object.values(bg.standardErrors)) {
      expect(Number.isFinite(se)).toBe(true);
      expect(se).toBeGreaterThan(0);
    }
    // No published standard errors: these pin this implementation's values (regression check).
    expect(bg.standardErrors.r).toBeCloseTo(0.0126, 3);
    expect(bg.standardErrors.alpha).toBeCloseTo(0.378, 2);
  });

  it("P(alive) is 1 without repeat purchases and falls as the last purchase gets older", () => {
    expect(probabilityAlive(bg.params, 0, 0, 38.86)).toBe(1);
    let previous = Infinity;
    for (const t_x of [38, 30, 20, 10, 1]) {
      const p = probabilityAlive(bg.params, 4, t_x, 38.86);
      expect(p).toBeLessThan(previous);
      expect(p).toBeGreaterThan(0);
      previous = p;
    }
    // at t_x = T the odds are a/(b+x−1) (eq. 11)
    expect(probabilityAlive(PUBLISHED_BG, 2, 10, 10)).toBeCloseTo(1 / (1 + 0.793 / (2.426 + 1)), 12);
  });

  it("the compiled sample likelihood equals the sum of eq. 6 over customers", () => {
    const compiled = compileBgNbdLogLikelihood(summaries);
    for (const p of [PUBLISHED_BG, { r: 1.3, alpha: 0.7, a: 2.5, b: 0.4 }, { r: 0.9, alpha: 20, a: 1e5, b: 9e5 }]) {
      const direct = summaries.reduce((sum, c) => sum + bgNbdCustomerLogLikelihood(p, c), 0);
      expect(compiled(p)).toBeCloseTo(direct, 6); // ~1e-12 relative: only the order of the sums differs
    }
    expect(bgNbdLogLikelihood(PUBLISHED_BG, summaries)).toBeCloseTo(-9582.4, 1);
  });

  it("the analytic gradients of both likelihoods agree with finite differences", () => {
    const central = (f: (v: number[]) => number, at: number[]) =>
      at.map((v, k) => {
        const h = 1e-6 * Math.max(1, Math.abs(v));
        return (f(at.map((w, j) => (j === k ? w + h : w))) - f(at.map((w, j) => (j === k ? w - h : w)))) / (2 * h);
      });
    const bgc = compileBgNbdLikelihood(summaries);
    const asBg = ([r = 0, alpha = 0, a = 0, b = 0]: number[]) => ({ r, alpha, a, b });
    for (const at of [[0.243, 4.414, 0.793, 2.426], [1.3, 0.7, 2.5, 0.4], [0.9, 20, 800, 9000]]) {
      const analytic = bgc.withGradient(asBg(at));
      expect(analytic.value).toBeCloseTo(bgc.logLikelihood(asBg(at)), 6);
      const numeric = central((v) => bgc.logLikelihood(asBg(v)), at);
      analytic.gradient.forEach((g, k) => expect(Math.abs(g - (numeric[k] ?? NaN))).toBeLessThan(1e-4 * Math.max(1, Math.abs(g))));
    }
    const spenders = summaries.filter((c) => c.x >= 1);
    const ggc = compileGammaGammaLikelihood(spenders);
    const asGg = ([p = 0, q = 0, gamma = 0]: number[]) => ({ p, q, gamma });
    for (const at of [[6.25, 3.74, 15.44], [1, 10, 2]]) {
      const analytic = ggc.withGradient(asGg(at));
      expect(analytic.value).toBeCloseTo(gammaGammaLogLikelihood(asGg(at), spenders), 6);
      const numeric = central((v) => ggc.logLikelihood(asGg(v)), at);
      analytic.gradient.forEach((g, k) => expect(Math.abs(g - (numeric[k] ?? NaN))).toBeLessThan(1e-4 * Math.max(1, Math.abs(g))));
    }
  });

  it("conditional expectation: the worked example (x=2, t_x=30.43, T=38.86, 39 weeks) ≈ 1.226", () => {
    expect(expectedPurchases(PUBLISHED_BG, 2, 30.43, 38.86, 39)).toBeCloseTo(1.226, 3);
    expect(expectedPurchases(bg.params, 2, 30.43, 38.86, 39)).toBeCloseTo(1.226, 3);
    // The log-space sum of eq. 10's series equals the plain series where the plain one can be summed.
    const histories: [number, number][] = [[0, 0], [1, 5], [7, 35], [20, 38]];
    for (const [x, t_x] of histories) {
      expect(expectedPurchases(bg.params, x, t_x, 38.86, 39)).toBeCloseTo(expectedPurchasesDirect(bg.params, x, t_x, 38.86, 39), 10);
    }
    // A heavy buyer: the log-space sum stays finite where the plain series would need ~2^x-sized terms.
    const heavy = expectedPurchases(bg.params, 500, 38.5, 38.86, 52);
    expect(Number.isFinite(heavy)).toBe(true);
    expect(heavy).toBeGreaterThan(100);
  });

  it("every customer with the same drop-out probability (a, b → ∞, a/(a+b) = p) gives the closed form of that limit", () => {
    // With p fixed and λ ~ Gamma(r, α): E[X(t)] = (1/p)(1 − (α/(α + p t))^r), integrating
    // (1/p)(1 − e^{−λ p t}) over λ. The Beta(1e5, 9e5) is a point at 0.1 to ~3e-4.
    const limit = { r: 0.9, alpha: 20, a: 1e5, b: 9e5 };
    for (const t of [5, 52, 200]) {
      expect(expectedPurchasesNewCustomer(limit, t)).toBeCloseTo((1 / 0.1) * (1 - (20 / (20 + 0.1 * t)) ** 0.9), 3);
    }
    // Conditional expectations there are finite, positive and continuous in a + b.
    for (const [x, t_x, T] of [[0, 0, 40], [3, 20, 40], [40, 39, 40]] as const) {
      const near = expectedPurchases(limit, x, t_x, T, 52);
      const further = expectedPurchases({ ...limit, a: 1e6, b: 9e6 }, x, t_x, T, 52);
      expect(Number.isFinite(near) && near > 0).toBe(true);
      expect(Math.abs(near - further) / near).toBeLessThan(1e-3);
    }
  });

  it("eq. 10 at x = 0, T = 0 is eq. 7, and eq. 7 agrees with a numerical integration of the model", () => {
    for (const t of [1, 39, 78]) {
      expect(expectedPurchases(bg.params, 0, 0, 0, t)).toBeCloseTo(expectedPurchasesNewCustomer(bg.params, t), 12);
      expect(expectedPurchasesNewCustomer(bg.params, t)).toBeCloseTo(integratedExpectation(bg.params, t), 6);
    }
    // small t: E[X(t)] ≈ E[λ] t = r t / α
    expect(expectedPurchasesNewCustomer(bg.params, 1e-6) / 1e-6).toBeCloseTo(bg.params.r / bg.params.alpha, 5);
  });
});

/**
 * E[X(t)] by integrating the model directly: given λ and p, E[X(t)] =
 * (1 − e^{−λpt})/p (FHL 2005 eq. 8 before mixing); the Gamma(r, α) mixture
 * over λ is (1 − (α/(α+pt))^r)/p in closed form; the Beta(a, b) mixture over
 * p is done numerically by Simpson's rule after p = u^{1/a}, which removes
 * the p^{a−1} singularity at 0.
 */
function integratedExpectation(params: BgNbdParams, t: number): number {
  const { r, alpha, a, b } = params;
  const lnB = lnBeta(a, b);
  const f = (u: number): number => {
    const p = Math.pow(u, 1 / a);
    const given = p === 0 ? (r * t) / alpha : -Math.expm1(r * Math.log(alpha / (alpha + p * t))) / p;
    return (given * Math.pow(1 - p, b - 1) * Math.exp(-lnB)) / a;
  };
  const n = 20000;
  const h = 1 / n;
  let s = f(0) + f(1);
  for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * f(i * h);
  return (s * h) / 3;
}

describe("Gamma-Gamma on CDNOW (Fader & Hardie 2013)", () => {
  it("fits the published parameters on the 946 repeat buyers", () => {
    const repeaters = summaries.filter((c) => c.x >= 1);
    expect(repeaters).toHaveLength(946);
    // Mean of m_x over the 946: $35.08 (Fader & Hardie 2013).
    expect(repeaters.reduce((s, c) => s + c.m_x, 0) / 946).toBeCloseTo(35.08, 2);
    expect(gg.converged).toBe(true);
    expect(Math.abs(gg.params.p - 6.25)).toBeLessThan(0.01);
    expect(Math.abs(gg.params.q - 3.74)).toBeLessThan(0.01);
    expect(Math.abs(gg.params.gamma - 15.44)).toBeLessThan(0.01);
    expect(gammaGammaLogLikelihood(gg.params, repeaters)).toBeCloseTo(gg.logLikelihood, 8);
    expect(gg.hessianPositiveDefinite).toBe(true);
    for (const se of Object.values(gg.standardErrors)) expect(se).toBeGreaterThan(0);
  });

  it("expected average spend is a weighted mean of the population mean and m_x", () => {
    const g = gg.params;
    const populationMean = (g.p * g.gamma) / (g.q - 1);
    expect(expectedAverageSpend(g, 0, 0)).toBeCloseTo(populationMean, 12);
    const x = 3;
    const m = 80;
    const w = (g.p * x) / (g.p * x + g.q - 1);
    expect(expectedAverageSpend(g, x, m)).toBeCloseTo(w * m + (1 - w) * populationMean, 10);
    // more transactions: closer to the customer's own mean
    expect(Math.abs(expectedAverageSpend(g, 20, m) - m)).toBeLessThan(Math.abs(expectedAverageSpend(g, 2, m) - m));
  });
});
