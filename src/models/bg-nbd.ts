/**
 * The BG/NBD model of repeat buying (Fader, Hardie & Lee 2005, "'Counting
 * Your Customers' the Easy Way: An Alternative to the Pareto/NBD Model",
 * Marketing Science 24(2):275–284). Equation numbers refer to that paper.
 *
 * Assumptions (paper §3): while alive, a customer buys as a Poisson process
 * with rate λ ~ Gamma(r, α); after each purchase the customer drops out with
 * probability p ~ Beta(a, b). A customer is summarised by (x, t_x, T): x
 * repeat transactions, the last at t_x, observed for T since the first.
 *
 * Invariants: 0 ≤ t_x ≤ T; t_x = 0 when x = 0 (it is ignored then);
 * all parameters > 0; a ≠ 1 for the expectations (eq. 7, 10 divide by a − 1).
 */
import { fitOverLogParameters, type FitOptions, type FitResult } from "./optimise.ts";
import { digamma, hyp2f1, lnBeta, lnGamma, lnHyp2f1Positive, logAddExp } from "./special.ts";
import { groupIdenticalCustomers, type RfmCustomer, type ShapeGroups } from "./shape-groups.ts";

export type { RfmCustomer, ShapeGroups } from "./shape-groups.ts";

export interface BgNbdParams {
  r: number;
  alpha: number;
  a: number;
  b: number;
}


function checkParams(p: BgNbdParams): void {
  if (!(p.r > 0 && p.alpha > 0 && p.a > 0 && p.b > 0)) {
    throw new RangeError(`BG/NBD parameters must be > 0: ${JSON.stringify(p)}`);
  }
}

/**
 * Log-likelihood of one customer, paper eq. 6:
 *   L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^{r+x})
 *     + δ_{x>0} B(a+1, b+x−1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^{r+x}).
 * The common factor Γ(r+x) α^r / Γ(r) is taken out and the two terms are
 * added in log space (log-sum-exp), so customers with large x or T, whose
 * terms underflow as plain numbers, keep full precision.
 */
export function bgNbdCustomerLogLikelihood(p: BgNbdParams, c: RfmCustomer): number {
  const { r, alpha, a, b } = p;
  const { x, t_x, T } = c;
  const common = lnGamma(r + x) - lnGamma(r) + r * Math.log(alpha) - lnBeta(a, b);
  const first = lnBeta(a, b + x) - (r + x) * Math.log(alpha + T);
  if (x === 0) return common + first;
  const second = lnBeta(a + 1, b + x - 1) - (r + x) * Math.log(alpha + t_x);
  return common + logAddExp(first, second);
}

/**
 * Sum of the individual log-likelihoods (paper eq. 6). Customers with the
 * same (x, t_x, T) are evaluated once — CDNOW has 1,411 customers with x = 0
 * but far fewer distinct T values.
 */
export function bgNbdLogLikelihood(p: BgNbdParams, customers: readonly RfmCustomer[]): number {
  checkParams(p);
  const cache = new Map<string, number>();
  let total = 0;
  for (const c of customers) {
    const key = c.x === 0 ? `0|${c.T}` : `${c.x}|${c.t_x}|${c.T}`;
    let ll = cache.get(key);
    if (ll === undefined) {
      ll = bgNbdCustomerLogLikelihood(p, c);
      cache.set(key, ll);
    }
    total += ll;
  }
  return total;
}

export type { FitOptions, FitResult } from "./optimise.ts";

const BG_NBD_STARTS = [
  [1, 1, 1, 1],
  [0.25, 4, 0.8, 2.5],
  [0.1, 10, 0.5, 5],
  [2, 0.5, 2, 0.5],
];

function toParams(v: readonly number[]): BgNbdParams {
  return { r: v[0] ?? NaN, alpha: v[1] ?? NaN, a: v[2] ?? NaN, b: v[3] ?? NaN };
}

/**
 * Maximum-likelihood fit (paper §4: "the four BG/NBD model parameters can
 * be estimated via the method of maximum likelihood"). The search runs over
 * φ = ln θ, which keeps every parameter positive without constraints, with
 * Nelder–Mead restarted from several starting points (optimise.ts).
 * Standard errors come from the numerical Hessian of −LL in φ, by the delta
 * method (optimise.ts, logParameterStandardErrors).
 */
export function fitBgNbd(customers: readonly RfmCustomer[] | ShapeGroups, options: FitOptions = {}): FitResult<BgNbdParams> {
  if (customers.length === 0) throw new RangeError("fitBgNbd: no customers");
  const compiled = compileBgNbdLikelihood(customers);
  return fitOverLogParameters(compiled.logLikelihood, toParams, BG_NBD_STARTS, options, true, compiled.withGradient);
}

/**
 * The sample log-likelihood (eq. 6 summed) as a function of the parameters,
 * prepared once for a fit's evaluations, with its gradient. Customers are
 * grouped by (x, t_x, T); the parameter-only parts of eq. 6 — ln Γ(r+x) −
 * ln Γ(r) + r ln α − ln B(a, b) and the two ln B(a…, b+x…) — and their
 * derivatives (digamma differences) are computed once per distinct x, and
 * ln(α+T), ln(α+t_x) once per distinct time, so each group costs a few
 * multiplications and one log-sum-exp. With L = ln(e^u + e^v) for the two
 * terms u, v of eq. 6, ∂L/∂θ = w ∂u/∂θ + (1−w) ∂v/∂θ, w = e^{u−L}.
 * Same value as summing bgNbdCustomerLogLikelihood (a test checks it, and the
 * gradient against finite differences).
 */
export function compileBgNbdLikelihood(customers: readonly RfmCustomer[] | ShapeGroups): {
  logLikelihood: (p: BgNbdParams) => number;
  withGradient: (p: BgNbdParams) => { value: number; gradient: number[] };
} {
  const groups = "weight" in customers ? customers : groupIdenticalCustomers(customers);
  const n = groups.length;
  const xs = [...new Set(groups.x)].sort((u, v) => u - v);
  const times = [...new Set([...groups.T, ...groups.t_x])];
  const xIndex = new Map(xs.map((x, i) => [x, i]));
  const timeIndex = new Map(times.map((t, i) => [t, i]));
  const gx = groups.x;
  const gxi = new Int32Array(n);
  const gT = new Int32Array(n);
  const gtx = new Int32Array(n);
  const gw = groups.weight;
  for (let i = 0; i < n; i++) {
    gxi[i] = xIndex.get(gx[i] ?? 0) ?? 0;
    gT[i] = timeIndex.get(groups.T[i] ?? 0) ?? 0;
    gtx[i] = timeIndex.get(groups.t_x[i] ?? 0) ?? 0;
  }
  const timeValues = Float64Array.from(times);
  const first = new Float64Array(xs.length);
  const second = new Float64Array(xs.length);
  const lnTime = new Float64Array(times.length);
  const invTime = new Float64Array(times.length);
  // Per distinct x: ∂/∂r of the common part, ∂u/∂a, ∂u/∂b, ∂v/∂a, ∂v/∂b.
  const dR = new Float64Array(xs.length);
  const dUa = new Float64Array(xs.length);
  const dUb = new Float64Array(xs.length);
  const dVa = new Float64Array(xs.length);
  const dVb = new Float64Array(xs.length);

  const prepare = (p: BgNbdParams, gradient: boolean) => {
    checkParams(p);
    const { r, alpha, a, b } = p;
    const base = -lnGamma(r) + r * Math.log(alpha) - lnBeta(a, b);
    const psiAB = gradient ? digamma(a + b) : 0;
    const psiR = gradient ? digamma(r) : 0;
    const psiA = gradient ? digamma(a) : 0;
    const psiB = gradient ? digamma(b) : 0;
    xs.forEach((x, i) => {
      const common = base + lnGamma(r + x);
      first[i] = common + lnBeta(a, b + x);
      second[i] = x > 0 ? common + lnBeta(a + 1, b + x - 1) : -Infinity;
      if (gradient) {
        const psiABX = digamma(a + b + x);
        dR[i] = digamma(r + x) - psiR + Math.log(alpha);
        // ∂/∂a of −ln B(a,b) is ψ(a+b) − ψ(a); of ln B(a, b+x) is ψ(a) − ψ(a+b+x); of ln B(a+1, b+x−1) is ψ(a+1) − ψ(a+b+x).
        dUa[i] = psiAB - psiABX;
        dUb[i] = psiAB - psiB + digamma(b + x) - psiABX;
        dVa[i] = x > 0 ? psiAB - psiA + digamma(a + 1) - psiABX : 0;
        dVb[i] = x > 0 ? psiAB - psiB + digamma(b + x - 1) - psiABX : 0;
      }
    });
    for (let i = 0; i < timeValues.length; i++) {
      const at = alpha + (timeValues[i] ?? 0);
      lnTime[i] = Math.log(at);
      invTime[i] = 1 / at;
    }
  };

  const logLikelihood = (p: BgNbdParams): number => {
    prepare(p, false);
    const r = p.r;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const x = gx[i] ?? 0;
      const xi = gxi[i] ?? 0;
      const u = (first[xi] ?? 0) - (r + x) * (lnTime[gT[i] ?? 0] ?? 0);
      const ll = x === 0 ? u : logAddExp(u, (second[xi] ?? 0) - (r + x) * (lnTime[gtx[i] ?? 0] ?? 0));
      total += (gw[i] ?? 0) * ll;
    }
    return total;
  };

  const withGradient = (p: BgNbdParams): { value: number; gradient: number[] } => {
    prepare(p, true);
    const { r, alpha } = p;
    let total = 0;
    let gr = 0;
    let galpha = 0;
    let ga = 0;
    let gb = 0;
    for (let i = 0; i < n; i++) {
      const x = gx[i] ?? 0;
      const xi = gxi[i] ?? 0;
      const w = gw[i] ?? 0;
      const iT = gT[i] ?? 0;
      const u = (first[xi] ?? 0) - (r + x) * (lnTime[iT] ?? 0);
      let ll = u;
      let wu = 1;
      const iTx = gtx[i] ?? 0;
      if (x > 0) {
        // ln(e^u + e^v) and w = e^u / (e^u + e^v) from one exp and one log1p.
        const d = (second[xi] ?? 0) - (r + x) * (lnTime[iTx] ?? 0) - u;
        if (d < 0) {
          const e = Math.exp(d);
          ll = u + Math.log1p(e);
          wu = 1 / (1 + e);
        } else {
          const e = Math.exp(-d);
          ll = u + d + Math.log1p(e);
          wu = e / (1 + e);
        }
      }
      const wv = 1 - wu;
      total += w * ll;
      gr += w * ((dR[xi] ?? 0) - wu * (lnTime[iT] ?? 0) - wv * (lnTime[iTx] ?? 0));
      galpha += w * (r / alpha - (r + x) * (wu * (invTime[iT] ?? 0) + wv * (invTime[iTx] ?? 0)));
      ga += w * (wu * (dUa[xi] ?? 0) + wv * (dVa[xi] ?? 0));
      gb += w * (wu * (dUb[xi] ?? 0) + wv * (dVb[xi] ?? 0));
    }
    return { value: total, gradient: [gr, galpha, ga, gb] };
  };
  return { logLikelihood, withGradient };
}

/** The compiled sample log-likelihood alone (see compileBgNbdLikelihood). */
export function compileBgNbdLogLikelihood(customers: readonly RfmCustomer[]): (p: BgNbdParams) => number {
  return compileBgNbdLikelihood(customers).logLikelihood;
}

/**
 * Probability that a customer with history (x, t_x, T) is still alive at T,
 * paper eq. 11 (the δ_{x>0} factor added in the authors' later errata /
 * "Computing P(alive) using the BG/NBD model" note, 2008): a customer who
 * has never repurchased cannot have dropped out, since dropout happens only
 * right after a purchase.
 *   P(alive) = 1 / (1 + δ_{x>0} · a/(b+x−1) · ((α+T)/(α+t_x))^{r+x})
 */
export function probabilityAlive(p: BgNbdParams, x: number, t_x: number, T: number): number {
  checkParams(p);
  if (x === 0) return 1;
  const { r, alpha, a, b } = p;
  // ln of the odds term, so (α+T)/(α+t_x) raised to a large power cannot overflow.
  const lnOdds = Math.log(a) - Math.log(b + x - 1) + (r + x) * (Math.log(alpha + T) - Math.log(alpha + t_x));
  return 1 / (1 + Math.exp(lnOdds));
}

/**
 * Expected number of transactions in (0, t] for a customer picked at random
 * at time 0 (paper eq. 7):
 *   E[X(t)] = (a+b−1)/(a−1) · [1 − (α/(α+t))^r · 2F1(r, b; a+b−1; t/(α+t))].
 * The 2F1 is evaluated after the Euler transformation (A&S 15.3.3),
 * 2F1(A,B;C;z) = (1−z)^{C−A−B} 2F1(C−A, C−B; C; z), which here gives
 *   (α/(α+t))^r · 2F1(r, b; a+b−1; z) = (1−z)^{a−1} · 2F1(a+b−1−r, a−1; a+b−1; z)
 * with z = t/(α+t). The transformed series has small, fixed parameters;
 * when both a+b−1−r and a−1 exceed −1 (as on CDNOW) its terms keep one sign
 * from n = 1 on, so there is no cancellation. For long horizons (z → 1) it
 * needs more terms, which hyp2f1 counts and bounds.
 */
export function expectedPurchasesNewCustomer(p: BgNbdParams, t: number): number {
  checkParams(p);
  if (p.a === 1) throw new RangeError("expectedPurchasesNewCustomer: a = 1 is a removable singularity not handled");
  if (t <= 0) return 0;
  const { r, alpha, a, b } = p;
  const z = t / (alpha + t);
  return ((a + b - 1) / (a - 1)) * residualBracket(r, a, b, 0, z);
}

/**
 * Expected number of transactions in (T, T+t] for a customer with history
 * (x, t_x, T), paper eq. 10:
 *   E[Y(t) | x, t_x, T] = (a+b+x−1)/(a−1)
 *       · [1 − ((α+T)/(α+T+t))^{r+x} · 2F1(r+x, b+x; a+b+x−1; t/(α+T+t))]
 *       / [1 + δ_{x>0} · a/(b+x−1) · ((α+T)/(α+t_x))^{r+x}].
 * As in eq. 7, the Euler transformation turns the numerator bracket into
 *   1 − (1−z)^{a−1} · 2F1(a+b−1−r, a−1; a+b+x−1; z),  z = t/(α+T+t),
 * whose series parameters no longer grow with x: the literal series for a
 * heavy buyer (x in the hundreds) has terms that grow like n^{r+x−a} z^n —
 * astronomically large — before they decay, and the tiny prefactor
 * ((α+T)/(α+T+t))^{r+x} must then cancel them.
 * The denominator equals 1 / P(alive) (eq. 11).
 */
export function expectedPurchases(p: BgNbdParams, x: number, t_x: number, T: number, t: number): number {
  return expectedPurchasesIfAlive(p, x, T, t) * probabilityAlive(p, x, t_x, T);
}

/**
 * Eq. 10 without its denominator: the expected transactions in (T, T+t] of
 * a customer with x repeat transactions observed for T who is still alive.
 * A dead customer buys nothing, so eq. 10 = this × P(alive) (eq. 11). It does
 * not depend on t_x, so a caller scoring many customers can share it between
 * everyone with the same x and T.
 */
export function expectedPurchasesIfAlive(p: BgNbdParams, x: number, T: number, t: number): number {
  checkParams(p);
  if (p.a === 1) throw new RangeError("expectedPurchases: a = 1 is a removable singularity not handled");
  if (t <= 0) return 0;
  const { r, alpha, a, b } = p;
  const z = t / (alpha + T + t);
  return ((a + b + x - 1) / (a - 1)) * residualBracket(r, a, b, x, z);
}

/**
 * The bracket of eq. 7 (x = 0) and eq. 10: 1 − (1−z)^{r+x} · 2F1(r+x, b+x; a+b+x−1; z).
 * When a+b+x−1 > 0 every term of that series is positive, so it is summed
 * as it stands, in log space (lnHyp2f1Positive): neither a heavy buyer's
 * terms, which climb like n^{r+x} z^n before decaying, nor a point-like Beta
 * (a and b in the hundreds of thousands, when every customer has the same
 * drop-out probability) can overflow it. Otherwise (x = 0 and a + b ≤ 1) the
 * Euler form 1 − (1−z)^{a−1} · 2F1(a+b−1−r, a−1; a+b+x−1; z) is used, whose
 * parameters are then small.
 */
function residualBracket(r: number, a: number, b: number, x: number, z: number): number {
  const c = a + b + x - 1;
  if (c > 0) return -Math.expm1((r + x) * Math.log1p(-z) + lnHyp2f1Positive(r + x, b + x, c, z));
  return 1 - Math.pow(1 - z, a - 1) * hyp2f1(a + b - 1 - r, a - 1, c, z);
}

/**
 * Eq. 10 with the 2F1 taken literally (no Euler transformation); kept for
 * cross-checking the transformed form in tests. Fails for large x.
 */
export function expectedPurchasesDirect(p: BgNbdParams, x: number, t_x: number, T: number, t: number): number {
  const { r, alpha, a, b } = p;
  const z = t / (alpha + T + t);
  const bracket = 1 - Math.pow((alpha + T) / (alpha + T + t), r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z);
  return ((a + b + x - 1) / (a - 1)) * bracket * probabilityAlive(p, x, t_x, T);
}
