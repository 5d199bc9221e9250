/**
 * Special functions for the customer-base models: ln Γ, ln B and the Gaussian
 * hypergeometric function 2F1. Pure, no dependencies.
 *
 * Precision target: ~1e-14 relative on ln Γ and ln B over the arguments the
 * models meet (parameters 1e-6 … 1e6, counts up to a few thousand), which is
 * far below what maximum likelihood on a few thousand customers can notice.
 */

const LN_SQRT_2PI = 0.9189385332046727; // ln √(2π)

/**
 * Stirling's correction term: lgammacor(x) = ln Γ(x) − [(x − ½) ln x − x + ln √(2π)],
 * as the asymptotic series Σ B_{2k} / (2k(2k−1) x^{2k−1}) (Abramowitz & Stegun
 * 6.1.41). For x ≥ 10 the first six terms leave an error below 1e-16.
 * Keeping the correction separate is what lets lnBeta cancel the big
 * (x − ½) ln x parts analytically instead of subtracting huge numbers
 * (the approach of R's nmath lbeta.c / lgammacor.c, after Cody & Hillstrom).
 */
export function lgammacor(x: number): number {
  if (!(x >= 10)) throw new RangeError(`lgammacor needs x >= 10, got ${x}`);
  const x2 = 1 / (x * x);
  // B2/2 = 1/12, B4/12 = -1/360, B6/30 = 1/1260, B8/56 = -1/1680, B10/90 = 1/1188, B12/132 = -691/360360
  return (
    (1 / 12 + x2 * (-1 / 360 + x2 * (1 / 1260 + x2 * (-1 / 1680 + x2 * (1 / 1188 + x2 * (-691 / 360360)))))) / x
  );
}

// Lanczos approximation, g = 7, n = 9 (the coefficient set published by
// P. Godfrey; relative error about 1e-15 for Re(x) > 0.5).
const LANCZOS_G = 7;
const LANCZOS_C = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/**
 * ln Γ(x) for x > 0. Lanczos (g = 7) below 10, Stirling with the series
 * correction above (A&S 6.1.41), both accurate to ~1e-15 relative.
 */
export function lnGamma(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) {
    if (x === Infinity) return Infinity;
    throw new RangeError(`lnGamma needs a finite x > 0, got ${x}`);
  }
  if (x >= 10) return (x - 0.5) * Math.log(x) - x + LN_SQRT_2PI + lgammacor(x);
  if (x < 0.5) {
    // Reflection Γ(x)Γ(1−x) = π / sin(πx) (A&S 6.1.17); x in (0, ½) so sin > 0.
    return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  }
  const z = x - 1;
  let s = LANCZOS_C[0] ?? 1;
  for (let i = 1; i < LANCZOS_C.length; i++) s += (LANCZOS_C[i] ?? 0) / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return LN_SQRT_2PI + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

/**
 * ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b), for a, b > 0.
 *
 * The naive sum loses digits when an argument is large: ln Γ(a + b) and
 * ln Γ(b) are each ~ b ln b and their difference is small. Following R's
 * nmath lbeta.c (itself after Cody's algorithm in ACM TOMS 708, Didonato &
 * Morris 1992), when an argument is ≥ 10 the Stirling parts are combined
 * analytically and only the small lgammacor corrections are subtracted.
 */
export function lnBeta(a: number, b: number): number {
  if (!(a > 0) || !(b > 0)) throw new RangeError(`lnBeta needs a, b > 0, got ${a}, ${b}`);
  const p = Math.min(a, b);
  const q = Math.max(a, b);
  if (!Number.isFinite(q)) return -Infinity;
  if (p >= 10) {
    // both large
    const corr = lgammacor(p) + lgammacor(q) - lgammacor(p + q);
    return -0.5 * Math.log(q) + LN_SQRT_2PI + corr + (p - 0.5) * Math.log(p / (p + q)) + q * Math.log1p(-p / (p + q));
  }
  if (q >= 10) {
    // p small, q large
    const corr = lgammacor(q) - lgammacor(p + q);
    return lnGamma(p) + corr + p - p * Math.log(p + q) + (q - 0.5) * Math.log1p(-p / (p + q));
  }
  return lnGamma(p) + lnGamma(q) - lnGamma(p + q);
}

export interface Hyp2f1Options {
  /** Stop when a term is below tolerance × |partial sum| (default 1e-15). */
  tolerance?: number;
  /** Give up (throw) after this many terms (default 1e6). */
  maxTerms?: number;
}

/**
 * Gauss's hypergeometric function 2F1(a, b; c; z) by its defining power series
 * Σ (a)_n (b)_n / ((c)_n n!) z^n (A&S 15.1.1), for real z with |z| < 1.
 *
 * Terms are built by the ratio t_{n+1}/t_n = (a+n)(b+n) z / ((c+n)(n+1)), so
 * no factorial or Pochhammer symbol is formed. For negative z beyond −½ the
 * Pfaff transformation 2F1(a,b;c;z) = (1−z)^{−a} 2F1(a, c−b; c; z/(z−1))
 * (A&S 15.3.4) maps the argument into (⅓, ½), where the terms no longer
 * alternate in sign (no cancellation) and |w| < |z| shortens the series.
 *
 * Convergence check: the series ends when two consecutive terms are both
 * below tolerance × |sum| once the term ratio is below 1 (so the tail is
 * bounded by a geometric series); otherwise a RangeError says it did not
 * converge, rather than returning a silently wrong number. Near z → 1 the
 * series needs ~ log(tol)/log(z) terms and converges only if c − a − b > 0;
 * callers in this module use the Euler transformation first (see bg-nbd.ts).
 */
export function hyp2f1(a: number, b: number, c: number, z: number, options: Hyp2f1Options = {}): number {
  const tol = options.tolerance ?? 1e-15;
  const maxTerms = options.maxTerms ?? 1_000_000;
  if (!(Math.abs(z) < 1)) throw new RangeError(`hyp2f1 series needs |z| < 1, got ${z}`);
  if (c <= 0 && Number.isInteger(c)) throw new RangeError(`hyp2f1: c must not be a non-positive integer, got ${c}`);
  if (z === 0) return 1;
  if (z < -0.5) {
    const w = z / (z - 1);
    return Math.pow(1 - z, -a) * hyp2f1(a, c - b, c, w, options);
  }
  const { sum } = sumSeries(a, b, c, z, tol, maxTerms, false);
  return sum;
}

/**
 * The 2F1 series Σ t_n with t_{n+1}/t_n = (a+n)(b+n) z / ((c+n)(n+1)), shared
 * by hyp2f1 and lnHyp2f1Positive. The sum ends when two consecutive terms are
 * both below tolerance × |sum| once the term ratio is below 1 and the tail,
 * bounded by a geometric series, is negligible; otherwise a RangeError. With
 * `rescale`, terms and sum are divided by 1e200 whenever a term passes it and
 * `lnScale` counts the divisions (the answer is e^lnScale · sum), for series
 * of positive terms that climb beyond the double range before decaying.
 */
function sumSeries(a: number, b: number, c: number, z: number, tol: number, maxTerms: number, rescale: boolean): { sum: number; lnScale: number } {
  const BIG = 1e200;
  let lnScale = 0;
  let term = 1;
  let sum = 1;
  let smallRun = 0;
  for (let n = 0; n < maxTerms; n++) {
    const ratio = ((a + n) * (b + n) * z) / ((c + n) * (n + 1));
    term *= ratio;
    sum += term;
    if (term === 0) return { sum, lnScale }; // a or b a non-positive integer: a polynomial
    if (rescale && term > BIG) {
      term /= BIG;
      sum /= BIG;
      lnScale += Math.log(BIG);
    }
    if (Math.abs(term) <= tol * Math.abs(sum) && Math.abs(ratio) < 1) {
      smallRun++;
      if (smallRun >= 2) {
        // Tail ≤ |term| · q / (1 − q) with q bounding every later ratio; the
        // ratios tend to z, from above or below, so max(|ratio|, |z|) serves.
        const q = Math.max(Math.abs(ratio), Math.abs(z));
        if ((Math.abs(term) * q) / (1 - q) <= 10 * tol * Math.abs(sum)) return { sum, lnScale };
      }
    } else {
      smallRun = 0;
    }
    if (!Number.isFinite(sum)) throw new RangeError(`hyp2f1(${a}, ${b}; ${c}; ${z}) overflowed`);
  }
  throw new RangeError(`hyp2f1(${a}, ${b}; ${c}; ${z}) did not converge in ${maxTerms} terms`);
}

/**
 * ln 2F1(a, b; c; z) for a, b, c > 0 and 0 ≤ z < 1, where every term of the
 * series is positive. The terms are kept relative to a running scale that
 * moves whenever they pass 1e200, so a series whose terms climb far beyond
 * the double range before decaying (a BG/NBD heavy buyer: a = r + x in the
 * hundreds; or b and c in the hundreds of thousands when the Beta mixing
 * distribution collapses to a point) is summed without overflow: a positive
 * sum has no cancellation, so the result keeps full relative precision.
 */
export function lnHyp2f1Positive(a: number, b: number, c: number, z: number, options: Hyp2f1Options = {}): number {
  if (!(a > 0 && b > 0 && c > 0)) throw new RangeError(`lnHyp2f1Positive needs a, b, c > 0, got ${a}, ${b}, ${c}`);
  if (!(z >= 0 && z < 1)) throw new RangeError(`lnHyp2f1Positive needs 0 ≤ z < 1, got ${z}`);
  if (z === 0) return 0;
  const tol = options.tolerance ?? 1e-15;
  const maxTerms = options.maxTerms ?? 1_000_000;
  const { sum, lnScale } = sumSeries(a, b, c, z, tol, maxTerms, true);
  return lnScale + Math.log(sum);
}

/**
 * The digamma function ψ(x) = d/dx ln Γ(x), x > 0: the recurrence
 * ψ(x) = ψ(x+1) − 1/x up to x ≥ 10, then the asymptotic series
 * ψ(x) ~ ln x − 1/(2x) − Σ B_2k / (2k x^2k) (A&S 6.3.18) to the x^−10 term,
 * which leaves an error below 1e-14 there.
 */
export function digamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`digamma needs x > 0, got ${x}`);
  let shift = 0;
  while (x < 10) {
    shift -= 1 / x;
    x += 1;
  }
  const f = 1 / (x * x);
  return shift + Math.log(x) - 0.5 / x - f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f / 132))));
}

/** ln(e^u + e^v) without overflow (log-sum-exp). */
export function logAddExp(u: number, v: number): number {
  if (u === -Infinity) return v;
  if (v === -Infinity) return u;
  const m = Math.max(u, v);
  return m + Math.log1p(Math.exp(-Math.abs(u - v)));
}
