import { describe, expect, it } from 'vitest';
import { SeededRandom, type Matrix } from '@mtl/core';
import { createAggregator, listMethods, mgda, pcgrad, upgrad } from '../src/index.js';
import { dotRows, expectClose, randomMatrix, vnorm } from './helpers.js';

const ones = (T: number): number[] => new Array<number>(T).fill(1);
/** Every registered method; scalarize needs its weights. */
const methodOptions = (name: string, T: number): Record<string, unknown> => (name === 'scalarize' ? { weights: ones(T).map((_, t) => 1 + t) } : { seed: 1 });
const allNames = listMethods().map((m) => m.name);

/** Runs a method on G at epoch 1 after one epoch-0 step (so GradNorm/DWA leave their warm-up). */
function run(name: string, g: Matrix, losses = ones(g.rows), extra: Record<string, unknown> = {}) {
  const method = createAggregator(name, { ...methodOptions(name, g.rows), ...extra });
  const first = method.aggregate(g, { losses, epoch: 0, step: 0 });
  return method.aggregate(g, { losses, epoch: 1, step: 1 }, first.state);
}

describe('properties on random matrices', () => {
  it('PCGrad never conflicts with any task when only two tasks conflict', () => {
    const rng = new SeededRandom(21);
    for (let trial = 0; trial < 200; trial++) {
      const T = 2 + (trial % 5);
      const P = 6;
      const data = new Float64Array(T * (P + 1));
      for (let t = 0; t < T; t++) for (let k = 0; k < P; k++) data[t * (P + 1) + k] = Math.abs(rng.normal()) * Math.exp(rng.normal());
      // a private coordinate makes rows 0 and 1 (only) conflict
      const n0 = Math.sqrt(Array.from(data.subarray(0, P)).reduce((s, v) => s + v * v, 0));
      data[P] = 3 * n0 * (1 + rng.next());
      data[(P + 1) + P] = -3 * n0 * (1 + rng.next());
      const g: Matrix = { rows: T, cols: P + 1, data };
      expect(dotRows(g.data.subarray(0, P + 1), g, 1)).toBeLessThan(0);
      const d = pcgrad({ seed: trial }).aggregate(g, { losses: ones(T) }).direction;
      for (let t = 0; t < T; t++) expect(dotRows(d, g, t)).toBeGreaterThanOrEqual(-1e-9 * vnorm(d) * vnorm(g.data.subarray(t * (P + 1), (t + 1) * (P + 1))));
    }
  });

  it('MGDA: non-negative inner product with every row and minimal norm in the convex hull', () => {
    const rng = new SeededRandom(22);
    for (let trial = 0; trial < 150; trial++) {
      const T = 2 + (trial % 6);
      const g = randomMatrix(rng, T, 2 + (trial % 9));
      for (const solver of ['exact', 'frank-wolfe'] as const) {
        const { direction: d, weights } = mgda({ solver }).aggregate(g, { losses: ones(T) });
        const n2 = vnorm(d) ** 2;
        const scale = Math.max(...Array.from({ length: T }, (_, t) => dotRows(g.data.subarray(t * g.cols, (t + 1) * g.cols), g, t)));
        const tol = solver === 'exact' ? 1e-9 * scale : 2e-3 * scale;
        expect(weights.reduce((s, w) => s + w, 0)).toBeCloseTo(1, 10);
        for (let t = 0; t < T; t++) expect(dotRows(d, g, t)).toBeGreaterThanOrEqual(n2 - tol);
        for (let k = 0; k < 20; k++) {
          const w = Array.from({ length: T }, () => rng.next());
          const s = w.reduce((a, b) => a + b, 0);
          const v = new Float64Array(g.cols);
          for (let t = 0; t < T; t++) for (let c = 0; c < g.cols; c++) v[c] = v[c]! + (w[t]! / s) * g.data[t * g.cols + c]!;
          expect(vnorm(v) ** 2).toBeGreaterThanOrEqual(n2 - tol);
        }
      }
    }
  });

  it('UPGrad never conflicts with any task', () => {
    const rng = new SeededRandom(23);
    for (let trial = 0; trial < 150; trial++) {
      const T = 2 + (trial % 7);
      const g = randomMatrix(rng, T, 3 + (trial % 10));
      const d = upgrad().aggregate(g, { losses: ones(T) }).direction;
      const frob = vnorm(g.data);
      for (let t = 0; t < T; t++) expect(dotRows(d, g, t)).toBeGreaterThanOrEqual(-1e-3 * frob * frob);
    }
  });

  it('every method reduces to a positive multiple of the mean when all rows are equal', () => {
    const rng = new SeededRandom(24);
    for (const name of allNames) {
      for (const T of name === 'krum' ? [3, 5] : [2, 3, 5]) {
        const row = Array.from({ length: 9 }, () => rng.normal());
        const g: Matrix = { rows: T, cols: 9, data: Float64Array.from({ length: T * 9 }, (_, i) => row[i % 9]!) };
        const d = run(name, g).direction;
        const k = vnorm(d) / vnorm(row);
        expect(k, name).toBeGreaterThan(0);
        expectClose(d, row.map((v) => v * k * Math.sign(d[0]! * row[0]!)), 1e-6);
        expect(Math.sign(d[0]! * row[0]!), name).toBe(1);
      }
    }
  });

  it('scaling: linear methods scale with G, l2-normalised MGDA and Nash-MTL are invariant', () => {
    const rng = new SeededRandom(25);
    const linear = ['ew', 'pcgrad', 'gradvac', 'mgda', 'cagrad', 'imtl', 'aligned-mtl', 'upgrad'];
    for (let trial = 0; trial < 10; trial++) {
      const T = 2 + (trial % 4);
      const g = randomMatrix(rng, T, 12);
      for (const k of [1e-2, 30]) {
        const scaled: Matrix = { rows: T, cols: 12, data: g.data.map((v) => v * k) };
        for (const name of linear) {
          // LibMTL's Frank–Wolfe thresholds are absolute, so only the exact MGDA solver is scale-free.
          const extra = name === 'mgda' ? { solver: 'exact' } : {};
          const base = run(name, g, ones(T), extra).direction;
          expectClose(run(name, scaled, ones(T), extra).direction, base.map((v) => v * k), name === 'cagrad' || name === 'gradvac' ? 1e-4 : 1e-7); // their 1e-8 epsilons are absolute
        }
        const nash = (m: Matrix): Float64Array => Float64Array.from(createAggregator('nash-mtl', { maxNorm: 0 }).aggregate(m, { losses: ones(T) }).direction);
        // Nash-MTL on the raw Gram matrix: α scales as 1/k, so the direction does not change (the paper's scale invariance).
        expectClose(nash(scaled), nash(g), 1e-6);
        const l2 = (m: Matrix): Float64Array => Float64Array.from(mgda({ normalization: 'l2', solver: 'exact' }).aggregate(m, { losses: ones(T) }).direction);
        expectClose(l2(scaled), l2(g), 1e-7);
      }
    }
  });

  it('zero rows and norms from 1e-3 to 1e3 give finite results for every method', () => {
    const rng = new SeededRandom(27);
    for (const name of allNames) {
      for (let trial = 0; trial < 4; trial++) {
        const T = 3 + (trial % 2);
        const scales = Array.from({ length: T }, (_, t) => (t === 0 ? 1e-3 : t === 1 ? 1e3 : t === 2 && trial % 2 === 0 ? 0 : 1));
        const g = randomMatrix(rng, T, 20, scales);
        const r = run(name, g, Array.from({ length: T }, () => 0.1 + rng.next()));
        expect(Array.from(r.direction).every(Number.isFinite), name).toBe(true);
        expect(r.weights.every(Number.isFinite), name).toBe(true);
      }
      const zero: Matrix = { rows: 3, cols: 5, data: new Float64Array(15) };
      const z = run(name, zero);
      expect(Array.from(z.direction).every((v) => v === 0), name).toBe(true);
    }
  });
});

describe('TorchJD-style properties of the methods added from LibMTL and TorchJD', () => {
  it('non-conflicting where the method promises it: DualProj, ConFIG, Nash-MTL ((G Gᵀ α)_t = 1/α_t > 0), FairGrad', () => {
    const rng = new SeededRandom(61);
    for (const [name, options] of [['dualproj', { regEps: 0 }], ['config', {}], ['nash-mtl', { maxNorm: 0 }], ['fairgrad', {}], ['fairgrad', { alpha: 3 }]] as const) {
      for (let trial = 0; trial < 40; trial++) {
        const T = 2 + (trial % 5);
        const g = randomMatrix(rng, T, T + 3 + (trial % 4));
        const d = createAggregator(name, options).aggregate(g, { losses: ones(T) }).direction;
        for (let t = 0; t < T; t++) expect(dotRows(d, g, t), `${name} trial ${trial} row ${t}`).toBeGreaterThan(-1e-9 * vnorm(d));
      }
    }
  });
  it('scale: DualProj, ConFIG and GradDrop (same draws) are linear in G; FairGrad (α = 1) is invariant, like Nash-MTL above; GLS ignores a common loss scale', () => {
    const rng = new SeededRandom(62);
    for (let trial = 0; trial < 10; trial++) {
      const T = 2 + (trial % 4);
      const g = randomMatrix(rng, T, 9);
      for (const k of [1e-2, 30]) {
        const scaled: Matrix = { rows: T, cols: 9, data: g.data.map((v) => v * k) };
        const u = Array.from({ length: 9 }, () => rng.next());
        const at = (name: string, m: Matrix) => Float64Array.from(createAggregator(name, {}).aggregate(m, { losses: ones(T), random: ((i) => () => u[i++ % 9]!)(0) }).direction);
        for (const name of ['dualproj', 'config', 'graddrop']) expectClose(at(name, scaled), at(name, g).map((v) => v * k), 1e-7);
        for (const name of ['fairgrad']) expectClose(at(name, scaled), at(name, g), 1e-6);
        const losses = Array.from({ length: T }, () => 0.1 + rng.next());
        expectClose(createAggregator('gls').aggregate(g, { losses: losses.map((l) => l * k) }).weights, createAggregator('gls').aggregate(g, { losses }).weights, 1e-12);
      }
    }
  });
});
