/**
 * The Gamma-Gamma model of monetary value (Fader, Hardie & Lee 2005b,
 * "RFM and CLV: Using Iso-Value Curves for Customer Base Analysis", Journal
 * of Marketing Research 42(4):415–430, §"Adding monetary value"; and Fader &
 * Hardie 2013, "The Gamma-Gamma Model of Monetary Value", the note whose
 * equation numbers are cited below).
 *
 * Assumptions: a customer's transaction values z_i are Gamma(p, ν); ν varies
 * across customers as Gamma(q, γ); spend is independent of the transaction
 * process. A customer is summarised by x ≥ 1 repeat transactions with mean
 * value m_x (x = 0 carries no information on spend and is excluded).
 *
 * Invariants: x ≥ 1 and m_x > 0 for every customer fitted; p, q, γ > 0;
 * expectedAverageSpend needs p x + q > 1 (a finite posterior mean; q > 1
 * suffices for every x ≥ 1).
 */
import { fitOverLogParameters, type FitOptions, type FitResult } from "./optimise.ts";
import { digamma, lnGamma } from "./special.ts";

export interface GammaGammaParams {
  p: number;
  q: number;
  gamma: number;
}

export interface SpendCustomer {
  /** Number of repeat transactions, ≥ 1. */
  x: number;
  /** Mean value of those transactions, > 0. */
  m_x: number;
}

/** Spenders as columns: customer k made x[k] ≥ 1 repeat transactions worth m_x[k] > 0 on average. */
export interface SpendColumns {
  length: number;
  x: ArrayLike<number>;
  m_x: ArrayLike<number>;
}

function checkParams(g: GammaGammaParams): void {
  if (!(g.p > 0 && g.q > 0 && g.gamma > 0)) throw new RangeError(`Gamma-Gamma parameters must be > 0: ${JSON.stringify(g)}`);
}

/**
 * Log density of m_x for one customer (Fader & Hardie 2013, eq. 3; FHL 2005b
 * eq. 3 before the change of variable). The sum z = x m_x is Gamma(px, ν);
 * integrating ν over Gamma(q, γ) and changing variable from z to m_x
 * (Jacobian x) gives
 *   f(m_x | p, q, γ; x) = Γ(px+q) / (Γ(px) Γ(q)) · γ^q m_x^{px−1} x^{px} / (γ + m_x x)^{px+q}.
 */
export function gammaGammaCustomerLogLikelihood(g: GammaGammaParams, c: SpendCustomer): number {
  const { p, q, gamma } = g;
  const { x, m_x } = c;
  const px = p * x;
  return (
    lnGamma(px + q) -
    lnGamma(px) -
    lnGamma(q) +
    q * Math.log(gamma) +
    (px - 1) * Math.log(m_x) +
    px * Math.log(x) -
    (px + q) * Math.log(gamma + m_x * x)
  );
}

function checkSpend(x: number, m_x: number): void {
  if (!(Number.isInteger(x) && x >= 1 && m_x > 0)) {
    throw new RangeError(`Gamma-Gamma needs x >= 1 and m_x > 0: ${JSON.stringify({ x, m_x })}`);
  }
}

/** Sum of the individual log-likelihoods; every customer must have x ≥ 1 and m_x > 0. */
export function gammaGammaLogLikelihood(g: GammaGammaParams, customers: readonly SpendCustomer[]): number {
  checkParams(g);
  let total = 0;
  for (const c of customers) {
    checkSpend(c.x, c.m_x);
    total += gammaGammaCustomerLogLikelihood(g, c);
  }
  return total;
}

const GG_STARTS = [
  [1, 1, 1],
  [5, 3, 15],
  [0.5, 5, 50],
  [10, 10, 5],
];

function toParams(v: readonly number[]): GammaGammaParams {
  return { p: v[0] ?? NaN, q: v[1] ?? NaN, gamma: v[2] ?? NaN };
}

/**
 * Maximum-likelihood fit of (p, q, γ), over their logarithms, with the same
 * restarted Nelder–Mead and Hessian-based standard errors as fitBgNbd.
 */
export function fitGammaGamma(customers: readonly SpendCustomer[] | SpendColumns, options: FitOptions = {}): FitResult<GammaGammaParams> {
  if (customers.length === 0) throw new RangeError("fitGammaGamma: no customers");
  const compiled = compileGammaGammaLikelihood(customers);
  return fitOverLogParameters(compiled.logLikelihood, toParams, GG_STARTS, options, false, compiled.withGradient);
}

/**
 * The sample log-likelihood (eq. 3 summed) prepared for a fit, with its
 * gradient. The Γ and ψ terms depend on the customer only through x, so they
 * are computed once per distinct x; ln m_x and ln x are computed once; each
 * customer then costs one log and one division per evaluation:
 *   ∂/∂p = x [ψ(px+q) − ψ(px) + ln m_x + ln x − ln(γ + m_x x)]
 *   ∂/∂q = ψ(px+q) − ψ(q) + ln γ − ln(γ + m_x x)
 *   ∂/∂γ = q/γ − (px+q)/(γ + m_x x)
 */
export function compileGammaGammaLikelihood(customers: readonly SpendCustomer[] | SpendColumns): {
  logLikelihood: (g: GammaGammaParams) => number;
  withGradient: (g: GammaGammaParams) => { value: number; gradient: number[] };
} {
  const columns: SpendColumns = "x" in customers ? customers : { length: customers.length, x: customers.map((c) => c.x), m_x: customers.map((c) => c.m_x) };
  const n = columns.length;
  const cx = Float64Array.from(columns.x);
  const cm = Float64Array.from(columns.m_x);
  for (let i = 0; i < n; i++) checkSpend(cx[i] ?? NaN, cm[i] ?? NaN);
  const xs = [...new Set(cx)].sort((u, v) => u - v);
  const xIndex = new Map(xs.map((x, i) => [x, i]));
  const cxi = new Int32Array(n);
  const cLnM = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    cxi[i] = xIndex.get(cx[i] ?? 0) ?? 0;
    cLnM[i] = Math.log(cm[i] ?? 0);
  }
  const lnX = xs.map((x) => Math.log(x));
  const constant = new Float64Array(xs.length);
  const psiP = new Float64Array(xs.length);
  const psiQ = new Float64Array(xs.length);

  const evaluate = (g: GammaGammaParams, gradient: boolean): { value: number; gradient: number[] } => {
    checkParams(g);
    const { p, q, gamma } = g;
    const lnGammaQ = lnGamma(q);
    const psiq = gradient ? digamma(q) : 0;
    const lnG = Math.log(gamma);
    xs.forEach((x, i) => {
      const px = p * x;
      constant[i] = lnGamma(px + q) - lnGamma(px) - lnGammaQ + q * lnG + px * (lnX[i] ?? 0);
      if (gradient) {
        const both = digamma(px + q);
        psiP[i] = x * (both - digamma(px) + (lnX[i] ?? 0));
        psiQ[i] = both - psiq + lnG;
      }
    });
    let total = 0;
    let gp = 0;
    let gq = 0;
    let gg = 0;
    for (let i = 0; i < n; i++) {
      const x = cx[i] ?? 0;
      const xi = cxi[i] ?? 0;
      const px = p * x;
      const denom = gamma + (cm[i] ?? 0) * x;
      const lnDenom = Math.log(denom);
      const lnM = cLnM[i] ?? 0;
      total += (constant[xi] ?? 0) + (px - 1) * lnM - (px + q) * lnDenom;
      if (gradient) {
        gp += (psiP[xi] ?? 0) + x * (lnM - lnDenom);
        gq += (psiQ[xi] ?? 0) - lnDenom;
        gg += q / gamma - (px + q) / denom;
      }
    }
    return { value: total, gradient: [gp, gq, gg] };
  };
  return { logLikelihood: (g) => evaluate(g, false).value, withGradient: (g) => evaluate(g, true) };
}

/**
 * Expected mean transaction value of a customer given x transactions of
 * mean m_x (Fader & Hardie 2013, eq. 5; FHL 2005b eq. 5):
 *   E[M | p, q, γ; m_x, x] = (γ + m_x x) p / (p x + q − 1),
 * a weighted mean of the population mean p γ/(q − 1) and the customer's own
 * m_x, with weight p x / (p x + q − 1) on m_x. With x = 0 it is the
 * population mean (needs q > 1).
 */
export function expectedAverageSpend(g: GammaGammaParams, x: number, m_x: number): number {
  checkParams(g);
  const denom = g.p * x + g.q - 1;
  if (!(denom > 0)) throw new RangeError(`expectedAverageSpend: p x + q − 1 must be > 0 (got ${denom})`);
  return ((g.gamma + m_x * x) * g.p) / denom;
}
