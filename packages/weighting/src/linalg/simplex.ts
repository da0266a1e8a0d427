/**
 * Euclidean projection of `y` onto the probability simplex {w ≥ 0, Σw = 1} (sort-based, exact).
 */
export function projectToSimplex(y: ArrayLike<number>): Float64Array {
  const n = y.length;
  const sorted = Array.from(y).sort((a, b) => b - a);
  let cumulative = 0;
  let tau = (sorted.reduce((a, b) => a + b, 0) - 1) / n;
  for (let i = 0; i < n - 1; i++) {
    cumulative += sorted[i]!;
    const t = (cumulative - 1) / (i + 1);
    if (t > sorted[i + 1]!) {
      tau = t;
      break;
    }
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.max(y[i]! - tau, 0);
  return out;
}

/** Result of a simplex-constrained minimisation. */
export interface SimplexSolution {
  readonly x: Float64Array;
  readonly iterations: number;
  readonly converged: boolean;
}

/**
 * Minimises a smooth convex function over the probability simplex by accelerated projected
 * gradient (FISTA with Armijo backtracking and adaptive restart). Generic and slow (CAGrad's dual
 * now uses the exact `solveCagradDual`); the tests use it as an independent reference.
 */
export function minimizeOnSimplex(
  f: (x: Float64Array) => number,
  gradient: (x: Float64Array) => Float64Array,
  start: Float64Array,
  options: { maxIterations?: number; tolerance?: number } = {},
): SimplexSolution {
  const maxIterations = options.maxIterations ?? 5000;
  const tolerance = options.tolerance ?? 1e-14;
  const n = start.length;
  let x = projectToSimplex(start);
  let y = x;
  let fx = f(x);
  let t = 1;
  let step = 1;
  for (let it = 1; it <= maxIterations; it++) {
    const gy = gradient(y);
    const fy = f(y);
    let next: Float64Array;
    let fNext: number;
    for (;;) {
      const trial = new Float64Array(n);
      for (let i = 0; i < n; i++) trial[i] = y[i]! - step * gy[i]!;
      next = projectToSimplex(trial);
      fNext = f(next);
      let lin = 0;
      let sq = 0;
      for (let i = 0; i < n; i++) {
        const d = next[i]! - y[i]!;
        lin += gy[i]! * d;
        sq += d * d;
      }
      if (fNext <= fy + lin + sq / (2 * step) + 1e-15 * Math.abs(fy) || step < 1e-300) break;
      step /= 2;
    }
    let change = 0;
    for (let i = 0; i < n; i++) change += Math.abs(next[i]! - x[i]!);
    if (fNext > fx) {
      // Adaptive restart: drop the momentum when the objective goes up.
      t = 1;
      y = x;
      step *= 1.5;
      continue;
    }
    const tNext = (1 + Math.sqrt(1 + 4 * t * t)) / 2;
    const yNext = new Float64Array(n);
    for (let i = 0; i < n; i++) yNext[i] = next[i]! + ((t - 1) / tNext) * (next[i]! - x[i]!);
    x = next;
    fx = fNext;
    y = yNext;
    t = tNext;
    step *= 1.5;
    if (change < tolerance) return { x, iterations: it, converged: true };
  }
  return { x, iterations: maxIterations, converged: false };
}
