/**
 * The Pareto/NBD model of repeat buying (Schmittlein, Morrison & Colombo
 * 1987, "Counting Your Customers: Who Are They and What Will They Do Next?",
 * Management Science 33(1):1–24 — "SMC"), implemented as in Fader, Hardie &
 * Lee (2005), "A Note on Implementing the Pareto/NBD Model in MATLAB"
 * ("the MATLAB note") and Fader & Hardie (2005), "A Note on Deriving the
 * Pareto/NBD Model and Related Expressions" ("the derivations note").
 * Each formula is written out in full next to the code that evaluates it.
 *
 * Assumptions (SMC §2): while alive, a customer buys as a Poisson process
 * with rate λ ~ Gamma(r, α); the unobserved lifetime is exponential with
 * rate μ ~ Gamma(s, β), independent of λ. A customer is summarised by
 * (x, t_x, T) as for the BG/NBD (summaries.ts): x repeat transactions, the
 * last at t_x, observed for T since the first.
 *
 * Invariants: 0 ≤ t_x ≤ T; t_x = 0 when x = 0; all parameters > 0.
 */
import { groupIdenticalCustomers, type RfmCustomer, type ShapeGroups } from "./shape-groups.ts";
import { fitOverLogParameters, type FitOptions, type FitResult } from "./optimise.ts";
import { hyp2f1, lnGamma, logAddExp } from "./special.ts";

export interface ParetoNbdParams {
  r: number;
  alpha: number;
  s: number;
  beta: number;
}

function checkParams(p: ParetoNbdParams): void {
  if (!(p.r > 0 && p.alpha > 0 && p.s > 0 && p.beta > 0 && Number.isFinite(p.r + p.alpha + p.s + p.beta))) {
    throw new RangeError(`Pareto/NBD parameters must be finite and > 0: ${JSON.stringify(p)}`);
  }
}

function checkCustomer(x: number, t_x: number, T: number): void {
  if (!(x >= 0 && Number.isInteger(x) && T >= 0 && t_x >= 0 && t_x <= T)) {
    throw new RangeError(`invalid customer summary: ${JSON.stringify({ x, t_x, T })}`);
  }
}

/** Terms allowed for one 2F1 series in the likelihood (see lnA0Term). */
export const MAX_SERIES_TERMS = 20_000;

/** ln(e^u − e^v) for u ≥ v (log-diff-exp); −∞ when u = v. */
function logSubExp(u: number, v: number): number {
  if (v === -Infinity) return u;
  if (!(u >= v)) throw new RangeError(`logSubExp needs u >= v, got ${u}, ${v}`);
  if (u === v) return -Infinity;
  return u + Math.log(-Math.expm1(v - u));
}

/**
 * ln of one of the two terms of A₀ (MATLAB note, the two cases of A₀):
 *   α ≥ β:  2F1(r+s+x, s+1;   r+s+x+1; (α−β)/(α+y)) / (α+y)^{r+s+x}
 *   α < β:  2F1(r+s+x, r+x;   r+s+x+1; (β−α)/(β+y)) / (β+y)^{r+s+x}
 * Choosing the case by the sign of α − β keeps the 2F1 argument in [0, 1):
 * with m = max(α, β), z = |α−β|/(m+y) ≤ |α−β|/m < 1, and z ≥ 0 so every
 * series term is positive (no cancellation inside the 2F1).
 *
 * Both cases are the same integral (derivations note, the A₀ step):
 *   (r+s+x) ∫_y^∞ (α+u)^{−(r+x)} (β+u)^{−(s+1)} du,
 * written as a 2F1 after the substitution that puts the larger of α, β in
 * the base. At α = β the 2F1 is 1 and the term is (α+y)^{−(r+s+x)}.
 */
function lnA0Term(p: ParetoNbdParams, x: number, y: number): number {
  const { r, alpha, s, beta } = p;
  const a = r + s + x;
  const m = Math.max(alpha, beta);
  const z = Math.abs(alpha - beta) / (m + y);
  const b = alpha >= beta ? s + 1 : r + x;
  // The series needs ~1/(1 − z) terms: near z = 1 (α and β far apart, y small)
  // it would run for millions of terms per customer and stall a fit. Past
  // MAX_SERIES_TERMS the term is refused (the likelihood there is +∞ for the
  // optimiser), and the fit reports whatever it reached with its flags.
  const f = z === 0 ? 1 : hyp2f1(a, b, a + 1, z, { maxTerms: MAX_SERIES_TERMS });
  return Math.log(f) - a * Math.log(m + y);
}

/**
 * ln A₀ = ln[ term(t_x) − term(T) ] (MATLAB note). term(y) is the integral
 * from y to ∞ above, hence decreasing in y, so the difference is ≥ 0 and is
 * taken in log space; it is exactly 0 (ln A₀ = −∞) when t_x = T.
 */
function lnA0(p: ParetoNbdParams, x: number, t_x: number, T: number): number {
  if (t_x === T) return -Infinity;
  const hi = lnA0Term(p, x, t_x);
  const lo = lnA0Term(p, x, T);
  // Rounding can make lo exceed hi by an ulp when t_x ≈ T: the true value is ~0.
  return lo >= hi ? -Infinity : logSubExp(hi, lo);
}

/**
 * Log-likelihood of one customer (MATLAB note, eq. for L with A₀; SMC 1987
 * Appendix; derivations note, the individual-level likelihood integrated
 * over λ and μ):
 *   L(r, α, s, β | x, t_x, T) = Γ(r+x) α^r β^s / Γ(r)
 *       · { 1 / ((α+T)^{r+x} (β+T)^s)  +  s/(r+s+x) · A₀ }.
 * The first term is "still alive at T", the second "died in (t_x, T]".
 * The common factor is taken out in logs and the braces are added by
 * log-sum-exp, so customers with large x or T, whose terms underflow as
 * plain numbers, keep full precision.
 */
export function paretoNbdCustomerLogLikelihood(p: ParetoNbdParams, c: RfmCustomer): number {
  const { r, alpha, s, beta } = p;
  const { x, T } = c;
  const t_x = x === 0 ? 0 : c.t_x;
  const common = lnGamma(r + x) - lnGamma(r) + r * Math.log(alpha) + s * Math.log(beta);
  const alive = -(r + x) * Math.log(alpha + T) - s * Math.log(beta + T);
  const died = Math.log(s) - Math.log(r + s + x) + lnA0(p, x, t_x, T);
  return common + logAddExp(alive, died);
}

function groupKey(c: RfmCustomer): string {
  return c.x === 0 ? `0|${c.T}` : `${c.x}|${c.t_x}|${c.T}`;
}

/**
 * Sum of the individual log-likelihoods. Customers with the same
 * (x, t_x, T) are evaluated once (as in bg-nbd.ts); for x = 0, t_x is
 * ignored (taken as 0).
 */
export function paretoNbdLogLikelihood(p: ParetoNbdParams, customers: readonly RfmCustomer[]): number {
  checkParams(p);
  const cache = new Map<string, number>();
  let total = 0;
  for (const c of customers) {
    const key = groupKey(c);
    let ll = cache.get(key);
    if (ll === undefined) {
      checkCustomer(c.x, c.x === 0 ? 0 : c.t_x, c.T);
      ll = paretoNbdCustomerLogLikelihood(p, c);
      cache.set(key, ll);
    }
    total += ll;
  }
  return total;
}

// Starting points (natural parameters). The MATLAB note starts from all ones;
// the others cover heavier / lighter buying and short / long lifetimes.
const PARETO_NBD_STARTS = [
  [1, 1, 1, 1],
  [0.5, 10, 0.5, 10],
  [0.25, 4, 1, 20],
  [2, 20, 2, 5],
];

function toParams(v: readonly number[]): ParetoNbdParams {
  return { r: v[0] ?? NaN, alpha: v[1] ?? NaN, s: v[2] ?? NaN, beta: v[3] ?? NaN };
}

/**
 * Maximum-likelihood fit (MATLAB note: maximise the sum of ln L over
 * customers). As for fitBgNbd, the search runs over φ = ln θ with
 * Nelder–Mead restarted from several starting points (optimise.ts), and the
 * standard errors come from the numerical Hessian of −LL in φ by the delta
 * method. Parameter values where the 2F1 series cannot be summed (argument
 * within ~1e-6 of 1, i.e. one of α, β many orders of magnitude above the
 * other) are treated as infeasible (−LL = +∞), so the simplex moves away.
 */
export function fitParetoNbd(customers: readonly RfmCustomer[] | ShapeGroups, options: FitOptions = {}): FitResult<ParetoNbdParams> {
  if (customers.length === 0) throw new RangeError("fitParetoNbd: no customers");
  const groups = "weight" in customers ? customers : groupIdenticalCustomers(customers);
  const logLikelihood = (p: ParetoNbdParams): number => {
    let total = 0;
    for (let g = 0; g < groups.length; g++) {
      total += (groups.weight[g] ?? 0) * paretoNbdCustomerLogLikelihood(p, { x: groups.x[g] ?? 0, t_x: groups.t_x[g] ?? 0, T: groups.T[g] ?? 0 });
    }
    return total;
  };
  return fitOverLogParameters(logLikelihood, toParams, PARETO_NBD_STARTS, options, true);
}

/**
 * Probability that a customer with history (x, t_x, T) is still alive at T
 * (SMC 1987 eq. 11 in the A₀ form of the MATLAB note / derivations note):
 *   P(alive) = 1 / { 1 + s/(r+s+x) · (α+T)^{r+x} (β+T)^s · A₀ }.
 * It is the "alive" share of the likelihood's braces. The odds term is
 * formed in logs, so large powers cannot overflow. At t_x = T, A₀ = 0 and
 * P(alive) = 1 (the customer was seen buying at the end of calibration).
 */
export function paretoNbdProbabilityAlive(p: ParetoNbdParams, x: number, t_x: number, T: number): number {
  checkParams(p);
  const tx = x === 0 ? 0 : t_x;
  checkCustomer(x, tx, T);
  const { r, alpha, s, beta } = p;
  const lnOdds =
    Math.log(s) - Math.log(r + s + x) + (r + x) * Math.log(alpha + T) + s * Math.log(beta + T) + lnA0(p, x, tx, T);
  return 1 / (1 + Math.exp(lnOdds));
}

/**
 * (1 − (b/(b+t))^{s−1}) / (s−1), written as −expm1(−(s−1)·ln(1 + t/b))/(s−1)
 * so that it stays accurate near s = 1, where it tends to ln(1 + t/b).
 */
function lifetimeFactor(s: number, b: number, t: number): number {
  const l = Math.log1p(t / b);
  if (s === 1) return l;
  return -Math.expm1(-(s - 1) * l) / (s - 1);
}

/**
 * Expected number of transactions in (0, t] for a customer picked at random
 * at time 0 (SMC 1987 eq. 17; derivations note, E[X(t)]):
 *   E[X(t)] = r β / (α (s−1)) · [1 − (β/(β+t))^{s−1}].
 * At s = 1 the bracket over s−1 is its limit ln(1 + t/β).
 */
export function paretoNbdExpectedPurchasesNewCustomer(p: ParetoNbdParams, t: number): number {
  checkParams(p);
  if (t <= 0) return 0;
  const { r, alpha, s, beta } = p;
  return ((r * beta) / alpha) * lifetimeFactor(s, beta, t);
}

/**
 * Expected number of transactions in (T, T+t] for a customer with history
 * (x, t_x, T) (SMC 1987 eq. 22; derivations note, conditional expectation):
 *   E[Y(t) | x, t_x, T] = (r+x)(β+T) / ((α+T)(s−1))
 *       · [1 − ((β+T)/(β+T+t))^{s−1}] · P(alive | x, t_x, T).
 * Given alive at T, the posterior of (λ, μ) is Gamma(r+x, α+T) ×
 * Gamma(s, β+T), so this is E[X(t)] with the updated parameters, times
 * P(alive). At s = 1 the bracket over s−1 is its limit ln(1 + t/(β+T)).
 */
export function paretoNbdExpectedPurchases(p: ParetoNbdParams, x: number, t_x: number, T: number, t: number): number {
  checkParams(p);
  const tx = x === 0 ? 0 : t_x;
  checkCustomer(x, tx, T);
  if (t <= 0) return 0;
  const { r, alpha, s, beta } = p;
  const ifAlive = (((r + x) * (beta + T)) / (alpha + T)) * lifetimeFactor(s, beta + T, t);
  return ifAlive * paretoNbdProbabilityAlive(p, x, tx, T);
}
