import { describe, expect, it } from 'vitest';
import { SeededRandom, type Matrix } from '@mtl/core';
import { nashMtl } from '../src/index.js';
import { expectClose, fromRows, randomMatrix, rowsOf } from './helpers.js';

const L2 = { losses: [1, 1] };
const orth = fromRows([
  [1, 0],
  [0, 2],
]);
const conflict = fromRows([
  [1, 0],
  [-1, 1],
]);

const gramOf = (g: Matrix): number[][] => {
  const rows = rowsOf(g);
  return rows.map((a) => rows.map((b) => a.reduce((s, v, k) => s + v * b[k]!, 0)));
};
/** max_t |α_t (G Gᵀ α)_t − 1|: the paper's bargaining equation on the raw Gram matrix. */
const residual = (A: number[][], alpha: readonly number[]): number =>
  Math.max(...A.map((row, i) => Math.abs(row.reduce((s, v, j) => s + v * alpha[j]!, 0) * alpha[i]! - 1)));

describe('Nash-MTL', () => {
  it('hand-computed: orthogonal rows → α_t = 1 / ‖g_t‖ (the paper); heads scaled by α; direction clipped to max norm 1', () => {
    const free = nashMtl({ maxNorm: 0 }).aggregate(orth, L2);
    expectClose(free.weights, [1, 0.5], 1e-9);
    expectClose(free.direction, [1, 1], 1e-9);
    expectClose(free.headWeights!, [1, 0.5], 1e-9);
    const clipped = nashMtl().aggregate(orth, L2);
    const n = Math.SQRT2;
    expectClose(clipped.direction, [1 / (n + 1e-6), 1 / (n + 1e-6)], 1e-9);
    // LibMTL clips only the shared parameters' gradient: the heads keep α.
    expectClose(clipped.headWeights!, [1, 0.5], 1e-9);
  });
  it('one task: α = 1 / ‖g‖, so the direction has unit norm whatever the gradient’s scale', () => {
    for (const s of [1e-3, 0.5, 7]) {
      const r = nashMtl({ maxNorm: 0 }).aggregate([[3 * s, 4 * s]], { losses: [1] });
      expectClose(r.weights, [1 / (5 * s)], 1e-9);
    }
  });
  it('solves α_t (G Gᵀ α)_t = 1 on random matrices and reuses weights between updates', () => {
    const rng = new SeededRandom(15);
    for (let trial = 0; trial < 30; trial++) {
      const T = 2 + (trial % 6);
      const g = randomMatrix(rng, T, T + 1 + (trial % 10), Array.from({ length: T }, () => 0.2 + rng.next()));
      const r = nashMtl({ maxNorm: 0 }).aggregate(g, { losses: new Array<number>(T).fill(1) });
      expect(residual(gramOf(g), r.weights)).toBeLessThan(1e-7);
    }
    const nm = nashMtl({ updateWeightsEvery: 2, maxNorm: 0 });
    const s1 = nm.aggregate(orth, L2);
    const s2 = nm.aggregate(conflict, L2, s1.state);
    expect(s2.weights).toEqual(s1.weights);
    const s3 = nm.aggregate(conflict, L2, s2.state);
    expect(s3.weights).not.toEqual(s1.weights);
  });
  it('the returned α solves the (ridged) bargaining equation to 1e-10, row norms spread over decades', () => {
    // α = α̂ / √n with (Â + ρ I) α̂ = 1/α̂, Â = G Gᵀ / n, n = ‖G Gᵀ‖_F, ρ = 1e-10:
    // α_t (G Gᵀ α)_t + ρ n α_t² = 1.
    const rng = new SeededRandom(18);
    let worst = 0;
    for (let trial = 0; trial < 300; trial++) {
      const T = 2 + (trial % 7);
      const P = T + (trial % 9);
      const g = randomMatrix(rng, T, P, Array.from({ length: T }, () => Math.exp(rng.normal())));
      const r = nashMtl({ maxNorm: 0 }).aggregate(g, { losses: new Array<number>(T).fill(1) });
      const A = gramOf(g);
      const fro = Math.hypot(...A.flat());
      const alpha = r.weights;
      for (let i = 0; i < T; i++) {
        const lhs = A[i]!.reduce((s, v, j) => s + v * alpha[j]!, 0) * alpha[i]!;
        worst = Math.max(worst, Math.abs(lhs + 1e-10 * fro * alpha[i]! * alpha[i]! - 1));
      }
    }
    expect(worst).toBeLessThan(1e-10);
  });
});

describe("Nash-MTL with the authors' solver (solver: 'authors')", () => {
  it('one task: LibMTL stops at once (Âα = 1/α holds for α = 1 at the normalised scale) and keeps α = 1', () => {
    const r = nashMtl({ solver: 'authors', maxNorm: 0 }).aggregate([[3, 4]], { losses: [1] });
    expectClose(r.weights, [1], 1e-12);
    expect(nashMtl({ maxNorm: 0 }).aggregate([[3, 4]], { losses: [1] }).weights[0]).toBeCloseTo(0.2, 9);
  });
  it('orthogonal rows by hand: the separable sub-problem gives α_t = 1/‖g_t‖ at the first solve', () => {
    // min c_t α_t s.t. α_t² ‖g_t‖² ≥ 1 with c > 0 → α_t = 1/‖g_t‖; the second solve does not move → stop.
    const one = nashMtl({ solver: 'authors', optimIter: 1, maxNorm: 0 }).aggregate(orth, L2);
    expectClose(one.weights, [1, 0.5], 1e-7);
    const full = nashMtl({ solver: 'authors', maxNorm: 0 }).aggregate(orth, L2);
    expectClose(full.weights, [1, 0.5], 1e-7);
  });
  it('a bounded sub-problem lands on the bargaining solution (all constraints active): one solve = Newton', () => {
    const rng = new SeededRandom(21);
    for (let trial = 0; trial < 12; trial++) {
      const T = 2 + (trial % 4);
      // Rows sharing a common part: G Gᵀ 1 > 0, so the first sub-problem (at α = 1) is bounded.
      const common = Array.from({ length: T + 3 }, () => rng.normal());
      const g = fromRows(Array.from({ length: T }, () => common.map((c) => c + 0.8 * rng.normal())));
      const input = { losses: new Array<number>(T).fill(1) };
      const one = nashMtl({ solver: 'authors', optimIter: 1, maxNorm: 0 }).aggregate(g, input).weights;
      expect(residual(gramOf(g), one)).toBeLessThan(1e-7);
      expectClose(nashMtl({ solver: 'authors', maxNorm: 0 }).aggregate(g, input).weights, nashMtl({ maxNorm: 0 }).aggregate(g, input).weights, 1e-6);
    }
  });
  it('an unbounded sub-problem keeps the previous α, as LibMTL (cvxpy returns no value and the loop stops): at the first call ones, later the last step’s α', () => {
    const rng = new SeededRandom(3);
    const first = fromRows([
      [1, 0.2, 0.1, 0],
      [0.3, 1, 0.2, 0],
      [0.5, 0.1, 2, 0],
      [0.2, 0.2, 0.2, 1],
    ]);
    const nm = nashMtl({ solver: 'authors', maxNorm: 0 });
    const s1 = nm.aggregate(first, { losses: [1, 1, 1, 1] });
    expect(residual(gramOf(first), s1.weights)).toBeLessThan(1e-7);
    let fresh = 0;
    let later = 0;
    for (let trial = 0; trial < 60; trial++) {
      const g = randomMatrix(rng, 4, 7);
      const newton = nashMtl({ maxNorm: 0 }).aggregate(g, { losses: [1, 1, 1, 1] }).weights;
      if (unboundedAt(g, [1, 1, 1, 1], newton)) {
        fresh++;
        expect(nashMtl({ solver: 'authors', maxNorm: 0 }).aggregate(g, { losses: [1, 1, 1, 1] }).weights).toEqual([1, 1, 1, 1]);
      }
      if (unboundedAt(g, s1.weights, newton)) {
        later++;
        expect(nm.aggregate(g, { losses: [1, 1, 1, 1] }, s1.state).weights).toEqual(s1.weights);
      }
    }
    expect(fresh).toBeGreaterThan(0);
    expect(later).toBeGreaterThan(0);
  });
  it('the same Gramian again: the new solve moves < 1e-6, so the previous α is returned bit for bit (their stop rule)', () => {
    const g = fromRows([
      [1, 0.2, 0.1],
      [0.3, 1, 0.2],
      [0.5, 0.1, 2],
    ]);
    const nm = nashMtl({ solver: 'authors', maxNorm: 0 });
    const first = nm.aggregate(g, { losses: [1, 1, 1] });
    expect(nm.aggregate(g, { losses: [1, 1, 1] }, first.state).weights).toEqual(first.weights);
  });
});

/**
 * Whether the authors' sub-problem at α_p is unbounded, shown by hand: its cost is
 * c = 1ᵀÂ + (1/α_p + Âᵀ(1/(Âα_p))) / n; the bargaining α* > 0 has G Gᵀ α* = 1/α* > 0, so s α* is
 * feasible for every s ≥ 1 and cᵀα* < 0 sends the objective to −∞.
 */
function unboundedAt(g: Matrix, alphaP: readonly number[], bargaining: readonly number[]): boolean {
  const A = gramOf(g);
  const fro = Math.hypot(...A.flat());
  const aHat = A.map((r) => r.map((v) => v / fro));
  const ga = aHat.map((r) => r.reduce((s, v, j) => s + v * alphaP[j]!, 0));
  const c = aHat.map((_, j) => aHat.reduce((s, r, i) => s + r[j]! + r[j]! / ga[i]! / fro, 0) + 1 / alphaP[j]! / fro);
  return c.reduce((s, v, j) => s + v * bargaining[j]!, 0) < 0;
}

