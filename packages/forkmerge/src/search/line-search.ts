/** A one-dimensional search for the best x in [0, upper] of a score g (higher is better). */
export type LineSearch = (g: (x: number) => number, upper: number) => { readonly x: number; readonly score: number };

/**
 * Scores every grid value scaled by `upper` (grid ⊂ [0, 1]); ties go to the smallest x, i.e. the
 * least weight on the auxiliary direction.
 */
export function gridLine(grid: readonly number[]): LineSearch {
  const values = [...new Set(grid)].sort((a, b) => a - b);
  return (g, upper) => {
    let best = { x: NaN, score: -Infinity };
    for (const v of values) {
      const x = v * upper;
      const score = g(x);
      if (Number.isNaN(best.x) || score > best.score) best = { x, score };
    }
    return best;
  };
}

/**
 * Bisection (the paper's appendix A.1): score both ends of [lo, hi], halve the interval towards
 * the better end (ties towards lo), score the new end, `steps` times; return the best x scored.
 */
export function binaryLine(steps: number): LineSearch {
  return (g, upper) => {
    let lo = 0;
    let hi = upper;
    let sLo = g(lo);
    let sHi = g(hi);
    let best = sHi > sLo ? { x: hi, score: sHi } : { x: lo, score: sLo };
    for (let i = 0; i < steps; i++) {
      const mid = (lo + hi) / 2;
      const sMid = g(mid);
      if (sLo >= sHi) {
        hi = mid;
        sHi = sMid;
      } else {
        lo = mid;
        sLo = sMid;
      }
      if (sMid > best.score) best = { x: mid, score: sMid };
    }
    return best;
  };
}
