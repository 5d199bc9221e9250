/**
 * Minimisation for maximum likelihood: BFGS with an analytic gradient where
 * the model has one (BG/NBD, Gamma-Gamma: tens of iterations, which is what
 * makes a fit on a million customers take seconds), and derivative-free
 * Nelder–Mead (Nelder & Mead 1965, "A simplex method for function
 * minimization", Computer Journal 7(4)) with the standard coefficients
 * (reflection 1, expansion 2, contraction ½, shrink ½) as in Lagarias et al.
 * 1998 (SIAM J. Optim. 9(1)) where it has not (Pareto/NBD, whose gradient
 * would need derivatives of 2F1). Restarting Nelder–Mead from its best point
 * rebuilds a fresh simplex, which cures the known failure of a collapsed
 * simplex (McKinnon 1998). Finite-difference Hessians give standard errors.
 */

export interface NelderMeadOptions {
  /** Stop when max |f_i − f_best| over the simplex is below this (default 1e-10). */
  fTolerance?: number;
  /** …and the simplex diameter (max-norm) is below this (default 1e-8). */
  xTolerance?: number;
  /** Evaluation budget per run (default 20 000). */
  maxEvaluations?: number;
  /** Initial simplex step along each axis (default 0.5). */
  step?: number;
}

export interface MinimumResult {
  x: number[];
  f: number;
  iterations: number;
  evaluations: number;
  converged: boolean;
}

function safe(f: (x: number[]) => number): (x: number[]) => number {
  // A non-finite value (overflow, domain error) is treated as +∞ so the
  // simplex moves away from it instead of being poisoned by NaN comparisons.
  return (x) => {
    const v = f(x);
    return Number.isFinite(v) ? v : Infinity;
  };
}

/** One Nelder–Mead run from x0. */
export function nelderMead(fn: (x: number[]) => number, x0: number[], options: NelderMeadOptions = {}): MinimumResult {
  const f = safe(fn);
  const n = x0.length;
  const fTol = options.fTolerance ?? 1e-10;
  const xTol = options.xTolerance ?? 1e-8;
  const maxEval = options.maxEvaluations ?? 20_000;
  const step = options.step ?? 0.5;

  let evaluations = 0;
  const evaluate = (x: number[]): number => {
    evaluations++;
    return f(x);
  };

  interface Vertex {
    x: number[];
    f: number;
  }
  const simplex: Vertex[] = [{ x: [...x0], f: evaluate(x0) }];
  for (let i = 0; i < n; i++) {
    const x = [...x0];
    x[i] = (x[i] ?? 0) + step;
    simplex.push({ x, f: evaluate(x) });
  }

  const combine = (a: number[], b: number[], t: number): number[] =>
    // a + t (b − a)
    a.map((ai, i) => ai + t * ((b[i] ?? 0) - ai));

  let iterations = 0;
  let converged = false;
  while (evaluations < maxEval) {
    simplex.sort((u, v) => u.f - v.f);
    const best = simplex[0];
    const worst = simplex[n];
    const second = simplex[n - 1];
    if (!best || !worst || !second) break;

    let fSpread = 0;
    let xSpread = 0;
    for (const v of simplex) {
      fSpread = Math.max(fSpread, Math.abs(v.f - best.f));
      for (let i = 0; i < n; i++) xSpread = Math.max(xSpread, Math.abs((v.x[i] ?? 0) - (best.x[i] ?? 0)));
    }
    if (fSpread <= fTol && xSpread <= xTol) {
      converged = true;
      break;
    }
    iterations++;

    const centroid = new Array<number>(n).fill(0);
    for (let k = 0; k < n; k++) {
      const v = simplex[k];
      if (!v) continue;
      for (let i = 0; i < n; i++) centroid[i] = (centroid[i] ?? 0) + (v.x[i] ?? 0) / n;
    }

    const xr = combine(centroid, worst.x, -1);
    const fr = evaluate(xr);
    if (fr < best.f) {
      const xe = combine(centroid, worst.x, -2);
      const fe = evaluate(xe);
      simplex[n] = fe < fr ? { x: xe, f: fe } : { x: xr, f: fr };
      continue;
    }
    if (fr < second.f) {
      simplex[n] = { x: xr, f: fr };
      continue;
    }
    // Contraction: outside if the reflected point beat the worst, else inside.
    const outside = fr < worst.f;
    const xc = outside ? combine(centroid, worst.x, -0.5) : combine(centroid, worst.x, 0.5);
    const fc = evaluate(xc);
    if (outside ? fc <= fr : fc < worst.f) {
      simplex[n] = { x: xc, f: fc };
      continue;
    }
    // Shrink towards the best vertex.
    for (let k = 1; k <= n; k++) {
      const v = simplex[k];
      if (!v) continue;
      const xs = combine(best.x, v.x, 0.5);
      simplex[k] = { x: xs, f: evaluate(xs) };
    }
  }
  simplex.sort((u, v) => u.f - v.f);
  const best = simplex[0];
  if (!best) throw new Error("nelderMead: empty simplex");
  return { x: best.x, f: best.f, iterations, evaluations, converged };
}

export interface MinimiseOptions extends NelderMeadOptions {
  /** Restarts from the best point after each run (default 3). */
  restarts?: number;
}

/**
 * Minimise from several starting points; each start is run, then restarted
 * from its own optimum (fresh simplex) until a restart no longer improves f
 * by more than fTolerance. Returns the best over all starts; `converged`
 * means that run's last simplex met the tolerances and the last restart
 * found no improvement.
 */
export function minimise(fn: (x: number[]) => number, starts: number[][], options: MinimiseOptions = {}): MinimumResult {
  const restarts = options.restarts ?? 3;
  const fTol = options.fTolerance ?? 1e-10;
  let overall: MinimumResult | undefined;
  let totalIterations = 0;
  let totalEvaluations = 0;
  for (const start of starts) {
    let run = nelderMead(fn, start, options);
    totalIterations += run.iterations;
    totalEvaluations += run.evaluations;
    let settled = false;
    for (let k = 0; k < restarts; k++) {
      const again = nelderMead(fn, run.x, { ...options, step: Math.min(options.step ?? 0.5, 0.1) });
      totalIterations += again.iterations;
      totalEvaluations += again.evaluations;
      const improved = again.f < run.f - Math.max(fTol, 1e-12 * Math.abs(run.f));
      if (again.f <= run.f) run = again;
      if (!improved) {
        settled = true;
        break;
      }
    }
    const result = { ...run, converged: run.converged && settled };
    if (!overall || result.f < overall.f) overall = result;
  }
  if (!overall) throw new Error("minimise: no starting point");
  return { ...overall, iterations: totalIterations, evaluations: totalEvaluations };
}

export interface BfgsOptions {
  /** Iteration budget (default 500). */
  maxIterations?: number;
  /** Stop when max |∂f/∂x_i| ≤ this × max(1, |f|) (default 1e-10). */
  gradientTolerance?: number;
  /** …or when f improves by less than this × max(1, |f|) three iterations running (default 1e-14). */
  fTolerance?: number;
  /**
   * The inverse Hessian to start from (a warm start near a known optimum,
   * e.g. the covariance of a fit on similar data); the identity otherwise.
   */
  initialInverseHessian?: readonly (readonly number[])[];
}

/**
 * Quasi-Newton minimisation with the BFGS update of the inverse Hessian
 * (Nocedal & Wright 2006, "Numerical Optimization", Algorithm 6.1), the
 * initial scaling of eq. 6.20, and a backtracking line search with the
 * Armijo condition (c₁ = 1e-4). A point where f is not finite (outside a
 * bound, a series that cannot be summed) is stepped back from. Needs the
 * gradient; for 3–4 parameters it converges in tens of iterations where
 * Nelder–Mead needs thousands of evaluations, which is what makes a fit on a
 * million customers take seconds.
 */
export function bfgs(fg: (x: number[]) => { f: number; g: number[] }, x0: number[], options: BfgsOptions = {}): MinimumResult {
  const n = x0.length;
  const maxIterations = options.maxIterations ?? 500;
  const gTol = options.gradientTolerance ?? 1e-10;
  const fTol = options.fTolerance ?? 1e-14;
  const finite = (r: { f: number; g: number[] }) => Number.isFinite(r.f) && r.g.length === n && r.g.every(Number.isFinite);
  let x = [...x0];
  let cur = fg(x);
  let evaluations = 1;
  if (!finite(cur)) return { x, f: Infinity, iterations: 0, evaluations, converged: false };
  const identity = (): number[][] => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  const warm = options.initialInverseHessian;
  const warmUsable = warm !== undefined && warm.length === n && warm.every((row) => row.length === n && row.every(Number.isFinite));
  let H = warmUsable ? warm.map((row) => [...row]) : identity();
  let converged = false;
  let quiet = 0;
  let iterations = 0;
  const at = (m: number[][], i: number, j: number) => m[i]?.[j] ?? 0;
  for (; iterations < maxIterations; iterations++) {
    const g = cur.g;
    if (Math.max(...g.map(Math.abs)) <= gTol * Math.max(1, Math.abs(cur.f))) {
      converged = true;
      break;
    }
    let d = g.map((_, i) => -g.reduce((sum, gj, j) => sum + at(H, i, j) * gj, 0));
    let slope = d.reduce((sum, di, i) => sum + di * (g[i] ?? 0), 0);
    if (!(slope < 0)) {
      H = identity();
      d = g.map((gi) => -gi);
      slope = -g.reduce((sum, gi) => sum + gi * gi, 0);
    }
    // No step longer than 2 in any coordinate (a factor e² on a log parameter).
    let step = Math.min(1, 2 / Math.max(...d.map(Math.abs)));
    let next: { x: number[]; r: { f: number; g: number[] } } | undefined;
    let invisible = false;
    let blocked = false;
    for (let k = 0; k < 60; k++) {
      // A decrease smaller than f's rounding cannot be seen: f is at its minimum to rounding.
      if (-step * slope < 1e-15 * Math.max(1, Math.abs(cur.f))) {
        invisible = true;
        break;
      }
      const xn = x.map((xi, i) => xi + step * (d[i] ?? 0));
      const r = fg(xn);
      evaluations++;
      if (!finite(r)) blocked = true;
      if (finite(r) && r.f <= cur.f + 1e-4 * step * slope) {
        next = { x: xn, r };
        break;
      }
      step /= 2;
    }
    if (!next) {
      // Converged when no decrease is visible any more; not when every trial
      // step failed (non-finite f: stuck against a wall or a singularity).
      converged = invisible && !blocked;
      break;
    }
    const sVec = next.x.map((xi, i) => xi - (x[i] ?? 0));
    const yVec = next.r.g.map((gi, i) => gi - (g[i] ?? 0));
    const sy = sVec.reduce((sum, si, i) => sum + si * (yVec[i] ?? 0), 0);
    const improvement = cur.f - next.r.f;
    x = next.x;
    cur = next.r;
    if (sy > 1e-12 * Math.hypot(...sVec) * Math.hypot(...yVec)) {
      if (iterations === 0 && !warmUsable) {
        const yy = yVec.reduce((sum, yi) => sum + yi * yi, 0);
        H = H.map((row) => row.map((v) => (v * sy) / yy));
      }
      const rho = 1 / sy;
      const Hy = yVec.map((_, i) => yVec.reduce((sum, yj, j) => sum + at(H, i, j) * yj, 0));
      const yHy = yVec.reduce((sum, yi, i) => sum + yi * (Hy[i] ?? 0), 0);
      // H⁺ = H − ρ (H y sᵀ + s yᵀ H) + (ρ² yᵀHy + ρ) s sᵀ (Nocedal & Wright eq. 6.17 expanded)
      H = H.map((row, i) =>
        row.map((v, j) => {
          const si = sVec[i] ?? 0;
          const sj = sVec[j] ?? 0;
          return v - rho * ((Hy[i] ?? 0) * sj + si * (Hy[j] ?? 0)) + (rho * rho * yHy + rho) * si * sj;
        }),
      );
    }
    if (improvement <= fTol * Math.max(1, Math.abs(cur.f))) {
      quiet++;
      if (quiet >= 3) {
        converged = true;
        break;
      }
    } else {
      quiet = 0;
    }
  }
  return { x, f: cur.f, iterations, evaluations, converged };
}

/**
 * Hessian of f at x by central differences (Dennis & Schnabel 1983, §5.6):
 * diagonal (f(x+h) − 2f(x) + f(x−h)) / h², off-diagonal from the four points
 * (±h_i, ±h_j). Step h_i = ε^{1/4} · max(1, |x_i|) with ε the machine
 * epsilon, the usual balance of truncation and rounding error for second
 * differences.
 */
export function numericalHessian(fn: (x: number[]) => number, x: number[]): number[][] {
  const n = x.length;
  const h = x.map((xi) => Math.pow(Number.EPSILON, 0.25) * Math.max(1, Math.abs(xi)));
  const at = (di: number, si: number, dj: number, sj: number): number => {
    const y = [...x];
    y[di] = (y[di] ?? 0) + si * (h[di] ?? 0);
    y[dj] = (y[dj] ?? 0) + sj * (h[dj] ?? 0);
    return fn(y);
  };
  const f0 = fn(x);
  const H: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    const hi = h[i] ?? 0;
    const row = H[i];
    if (!row) continue;
    const fp = at(i, 1, i, 0);
    const fm = at(i, -1, i, 0);
    row[i] = (fp - 2 * f0 + fm) / (hi * hi);
    for (let j = 0; j < i; j++) {
      const hj = h[j] ?? 0;
      const v = (at(i, 1, j, 1) - at(i, 1, j, -1) - at(i, -1, j, 1) + at(i, -1, j, -1)) / (4 * hi * hj);
      row[j] = v;
      const other = H[j];
      if (other) other[i] = v;
    }
  }
  return H;
}

/**
 * Inverse of a symmetric matrix by Cholesky factorisation, or undefined when
 * the matrix is not (numerically) positive definite — for a negative
 * log-likelihood Hessian that means the optimum is flat or a saddle and
 * standard errors do not exist.
 */
export function invertSymmetricPositiveDefinite(A: number[][]): number[][] | undefined {
  const n = A.length;
  const L: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const get = (M: number[][], i: number, j: number): number => M[i]?.[j] ?? 0;
  const set = (M: number[][], i: number, j: number, v: number): void => {
    const row = M[i];
    if (row) row[j] = v;
  };
  let maxDiag = 0;
  for (let i = 0; i < n; i++) maxDiag = Math.max(maxDiag, Math.abs(get(A, i, i)));
  for (let j = 0; j < n; j++) {
    let d = get(A, j, j);
    for (let k = 0; k < j; k++) d -= get(L, j, k) ** 2;
    // Relative threshold: a pivot lost in rounding is not positive.
    if (!(d > 1e-12 * maxDiag)) return undefined;
    const ljj = Math.sqrt(d);
    set(L, j, j, ljj);
    for (let i = j + 1; i < n; i++) {
      let s = get(A, i, j);
      for (let k = 0; k < j; k++) s -= get(L, i, k) * get(L, j, k);
      set(L, i, j, s / ljj);
    }
  }
  // Invert L (lower triangular), then A⁻¹ = L⁻ᵀ L⁻¹.
  const Li: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    set(Li, i, i, 1 / get(L, i, i));
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s += get(L, i, k) * get(Li, k, j);
      set(Li, i, j, -s / get(L, i, i));
    }
  }
  const inv: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += get(Li, k, i) * get(Li, k, j);
      set(inv, i, j, s);
      set(inv, j, i, s);
    }
  }
  return inv;
}

export interface StandardErrors {
  /** Standard errors of the natural parameters θ = exp(φ); NaN when not available. */
  standardErrors: number[];
  /** Covariance of φ = ln θ (inverse Hessian), when positive definite. */
  logCovariance: number[][] | undefined;
  /** False when the Hessian is not positive definite (flat likelihood / saddle). */
  hessianPositiveDefinite: boolean;
}

/**
 * Standard errors by the observed information: Cov(φ̂) ≈ H⁻¹ with H the
 * Hessian of −LL in φ = ln θ, then the delta method, se(θ̂_i) = θ̂_i · se(φ̂_i)
 * since dθ/dφ = θ.
 */
/**
 * Hessian of f at x by central differences of its gradient, symmetrised:
 * 2n gradient evaluations instead of the 2n² + 1 values of numericalHessian,
 * and one order of accuracy more (first differences of an exact gradient).
 */
export function hessianFromGradient(grad: (x: number[]) => number[], x: number[]): number[][] {
  const n = x.length;
  const columns = x.map((xi, j) => {
    const h = Math.cbrt(Number.EPSILON) * Math.max(1, Math.abs(xi));
    const up = grad(x.map((v, k) => (k === j ? v + h : v)));
    const down = grad(x.map((v, k) => (k === j ? v - h : v)));
    return up.map((u, i) => (u - (down[i] ?? NaN)) / (2 * h));
  });
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => ((columns[j]?.[i] ?? NaN) + (columns[i]?.[j] ?? NaN)) / 2));
}

export function logParameterStandardErrors(negLogLik: (phi: number[]) => number, phiHat: number[], negGradient?: (phi: number[]) => number[]): StandardErrors {
  const H = negGradient ? hessianFromGradient(negGradient, phiHat) : numericalHessian(negLogLik, phiHat);
  const inv = invertSymmetricPositiveDefinite(H);
  if (!inv) return { standardErrors: phiHat.map(() => NaN), logCovariance: undefined, hessianPositiveDefinite: false };
  const standardErrors = phiHat.map((phi, i) => Math.exp(phi) * Math.sqrt(inv[i]?.[i] ?? NaN));
  return { standardErrors, logCovariance: inv, hessianPositiveDefinite: true };
}

export interface FitOptions extends MinimiseOptions {
  /** Starting points in natural parameters; defaults cover several orders of magnitude. */
  starts?: number[][];
  /**
   * With one start near the optimum (a refit warm-started from a fit on
   * similar data): that fit's `logCovariance`, BFGS's first inverse Hessian,
   * so the first steps are already Newton-like instead of gradient steps.
   */
  inverseHessian?: number[][];
  /** False skips the standard errors (a refit whose errors nobody reads): NaN, hessianPositiveDefinite false. */
  standardErrors?: boolean;
}

export interface FitResult<P> {
  params: P;
  logLikelihood: number;
  iterations: number;
  converged: boolean;
  /** Standard errors of each parameter (delta method); NaN when the Hessian is not positive definite. */
  standardErrors: P;
  /** False when the Hessian of −LL at the optimum is not positive definite (flat likelihood). */
  hessianPositiveDefinite: boolean;
  /** Covariance of φ = ln θ at the optimum (inverse Hessian of −LL), when positive definite. */
  logCovariance?: number[][];
}

/** |ln θ| beyond which a bounded fit refuses a parameter (θ outside 1e-6 … 1e6). */
export const PARAMETER_LOG_BOUND = Math.log(1e6);

/**
 * Maximum likelihood over φ = ln θ, the one procedure every model here uses:
 * the log keeps each parameter positive without constraints; with a
 * gradient, BFGS runs from the starting points best first until two runs
 * agree; without, Nelder–Mead is restarted from several starting points
 * (`minimise`); standard errors come from the Hessian of −LL in φ (from
 * gradient differences when there is a gradient) by the delta method. A likelihood
 * that throws a RangeError (a series that cannot be summed) counts as +∞, so
 * the simplex moves away. With `bounded`, parameters beyond 1e±6 count as
 * +∞ too: no shop's data identifies them, and without that wall a simplex can
 * drift along a flat ridge (no churn: a dropout parameter → ∞) for its whole
 * evaluation budget.
 */
export function fitOverLogParameters<P>(
  logLikelihood: (params: P) => number,
  toParams: (theta: readonly number[]) => P,
  defaultStarts: readonly (readonly number[])[],
  options: FitOptions,
  bounded: boolean,
  withGradient?: (params: P) => { value: number; gradient: number[] },
): FitResult<P> {
  const outside = (phi: number[]) => bounded && phi.some((v) => Math.abs(v) > PARAMETER_LOG_BOUND);
  const negLL = (phi: number[]): number => {
    if (outside(phi)) return Infinity;
    try {
      return -logLikelihood(toParams(phi.map(Math.exp)));
    } catch (e) {
      if (e instanceof RangeError) return Infinity;
      throw e;
    }
  };
  const starts = (options.starts ?? defaultStarts).map((s) => s.map(Math.log));
  let best: MinimumResult;
  let negGradient: ((phi: number[]) => number[]) | undefined;
  if (withGradient) {
    // ∂(−LL)/∂φ_k = −θ_k ∂LL/∂θ_k (chain rule through θ = e^φ).
    const fg = (phi: number[]): { f: number; g: number[] } => {
      if (outside(phi)) return { f: Infinity, g: [] };
      const theta = phi.map(Math.exp);
      try {
        const r = withGradient(toParams(theta));
        return { f: -r.value, g: r.gradient.map((gk, k) => -gk * (theta[k] ?? NaN)) };
      } catch (e) {
        if (e instanceof RangeError) return { f: Infinity, g: [] };
        throw e;
      }
    };
    // Several starts, best first (by −LL at the start); once two runs end at
    // the same optimum the remaining starts are skipped — on a large shop
    // each run costs seconds, and agreement from two places is the check.
    const ranked = starts.map((x) => ({ x, f: fg(x).f })).sort((u, v) => (Number.isFinite(u.f) ? u.f : Infinity) - (Number.isFinite(v.f) ? v.f : Infinity));
    const runs: MinimumResult[] = [];
    for (const start of ranked) {
      const run = bfgs(fg, start.x, { initialInverseHessian: ranked.length === 1 ? options.inverseHessian : undefined });
      runs.push(run);
      const sorted = [...runs].sort((u, v) => u.f - v.f);
      const [a, b] = sorted;
      if (a && b && a.converged && Math.abs(a.f - b.f) <= 1e-9 * Math.max(1, Math.abs(a.f))) break;
    }
    const first = runs.reduce((a, b) => (b.f < a.f ? b : a));
    best = { ...first, iterations: runs.reduce((sum, r) => sum + r.iterations, 0), evaluations: runs.reduce((sum, r) => sum + r.evaluations, 0) };
    negGradient = (phi) => fg(phi).g;
  } else {
    best = minimise(negLL, starts, options);
  }
  const se: StandardErrors =
    options.standardErrors === false
      ? { standardErrors: best.x.map(() => NaN), logCovariance: undefined, hessianPositiveDefinite: false }
      : logParameterStandardErrors(negLL, best.x, negGradient);
  return {
    params: toParams(best.x.map(Math.exp)),
    logLikelihood: -best.f,
    iterations: best.iterations,
    converged: best.converged,
    standardErrors: toParams(se.standardErrors),
    hessianPositiveDefinite: se.hessianPositiveDefinite,
    ...(se.logCovariance ? { logCovariance: se.logCovariance } : {}),
  };
}
