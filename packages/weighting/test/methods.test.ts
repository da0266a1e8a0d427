import { describe, expect, it } from 'vitest';
import { SeededRandom, type Matrix } from '@mtl/core';
import {
  alignedMtl,
  cagrad,
  compose,
  dwa,
  equalWeighting,
  gradnorm,
  gradvac,
  imtl,
  mgda,
  pcgrad,
  rlw,
  scalarize,
  uncertaintyWeighting,
  upgrad,
  weightingAsAggregator,
} from '../src/index.js';
import { permutation } from '../src/random-source.js';
import { draws, expectClose, fromRows, randomMatrix, rowsOf } from './helpers.js';

const L2 = { losses: [1, 1] };
const orth = fromRows([
  [1, 0],
  [0, 2],
]);
const conflict = fromRows([
  [1, 0],
  [-1, 1],
]);

/** LibMTL's PCGrad loop, literally in P-space, with the orders given (LibMTL: eps = 1e-8; the paper: 0). */
function pcgradReference(g: Matrix, orders: number[][], eps = 0): number[] {
  const rows = rowsOf(g);
  const pc = rows.map((r) => [...r]);
  const dot = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + v * b[i]!, 0);
  for (let i = 0; i < rows.length; i++) {
    for (const j of orders[i]!) {
      const gij = dot(pc[i]!, rows[j]!);
      if (gij < 0) pc[i] = pc[i]!.map((v, k) => v - (gij * rows[j]![k]!) / (dot(rows[j]!, rows[j]!) + eps));
    }
  }
  return rows[0]!.map((_, k) => pc.reduce((s, r) => s + r[k]!, 0));
}

/**
 * LibMTL's GradVac loop (whole model), literally in P-space. `afterFix`: the target update after
 * every pair (LibMTL since d2d84fa, Feb 2024); false: inside the `if rho < phi` branch (before).
 */
function gradvacReference(g: Matrix, orders: number[][], target: number[][], beta: number, afterFix = true): { direction: number[]; target: number[][] } {
  const rows = rowsOf(g);
  const pc = rows.map((r) => [...r]);
  const dot = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + v * b[i]!, 0);
  const nrm = (a: number[]): number => Math.sqrt(dot(a, a));
  const rhoT = target.map((r) => [...r]);
  for (let i = 0; i < rows.length; i++) {
    for (const j of orders[i]!) {
      const rho = dot(pc[i]!, rows[j]!) / (nrm(pc[i]!) * nrm(rows[j]!) + 1e-8);
      const phi = rhoT[i]![j]!;
      if (rho < phi) {
        const w = (nrm(pc[i]!) * (phi * Math.sqrt(1 - rho ** 2) - rho * Math.sqrt(1 - phi ** 2))) / (nrm(rows[j]!) * Math.sqrt(1 - phi ** 2) + 1e-8);
        pc[i] = pc[i]!.map((v, k) => v + rows[j]![k]! * w);
        if (!afterFix) rhoT[i]![j] = (1 - beta) * phi + beta * rho;
      }
      if (afterFix) rhoT[i]![j] = (1 - beta) * phi + beta * rho;
    }
  }
  return { direction: rows[0]!.map((_, k) => pc.reduce((s, r) => s + r[k]!, 0)), target: rhoT };
}

describe('EW and scalarize', () => {
  it('EW sums the task gradients (weights 1; 1/T with normalize: mean)', () => {
    const g = fromRows([
      [1, 2],
      [3, 4],
    ]);
    const ew = weightingAsAggregator(equalWeighting());
    const r = ew.aggregate(g, L2);
    expect(Array.from(r.direction)).toEqual([4, 6]);
    expect(r.weights).toEqual([1, 1]);
    expect(equalWeighting({ normalize: 'mean' }).weigh(L2).weights).toEqual([0.5, 0.5]);
  });
  it('scalarize uses the fixed vector', () => {
    const g = fromRows([
      [1, 2],
      [3, 4],
    ]);
    const r = weightingAsAggregator(scalarize({ weights: [0.5, 2] })).aggregate(g, L2);
    expect(Array.from(r.direction)).toEqual([6.5, 9]);
  });
});

describe('PCGrad', () => {
  it('hand-computed: g1 = (1,0), g2 = (−1,1) → pc1 = (½,½), pc2 = (0,1)', () => {
    const r = pcgrad().aggregate(conflict, { losses: [1, 1], random: draws([0.3, 0.7]) });
    expectClose(r.direction, [0.5, 1.5]);
    expectClose(r.weights, [2, 1.5]);
  });
  it('equals LibMTL’s loop for the same draws on random matrices', () => {
    const rng = new SeededRandom(11);
    for (let trial = 0; trial < 40; trial++) {
      const T = 2 + (trial % 5);
      const g = randomMatrix(rng, T, 7);
      const u = Array.from({ length: T * T }, () => rng.next());
      const replay = draws(u);
      const orders = Array.from({ length: T }, () => permutation(T, replay));
      const r = pcgrad().aggregate(g, { losses: new Array<number>(T).fill(1), random: draws(u) });
      expectClose(r.direction, pcgradReference(g, orders), 1e-9);
    }
  });
  it('epsilon: 1e-8 equals LibMTL’s loop (+1e-8 in the denominator) and leaves a tiny conflicting gradient partly unprojected', () => {
    // g1 = (1, 0), g2 = 1e-4 (−1, 1): pc1 · g2 = −1e-4, ‖g2‖² = 2e-8 → coefficient 1e-4 / 3e-8 with ε, 1e-4 / 2e-8 without;
    // pc2 · g1 = −1e-4, ‖g1‖² = 1 → coefficient 1e-4 / (1 + ε) on g1.
    const g = fromRows([
      [1, 0],
      [-1e-4, 1e-4],
    ]);
    const exact = pcgrad().aggregate(g, { losses: [1, 1], random: draws([0.3, 0.7]) });
    expectClose(exact.weights, [1 + 1e-4, 1 + 1e-4 / 2e-8], 1e-9);
    const libmtl = pcgrad({ epsilon: 1e-8 }).aggregate(g, { losses: [1, 1], random: draws([0.3, 0.7]) });
    expectClose(libmtl.weights, [1 + 1e-4 / (1 + 1e-8), 1 + 1e-4 / 3e-8], 1e-9);
    // pc1 still conflicts with g2 under LibMTL's ε; never with the exact projection.
    const pc1 = (w: number) => [1 - 1e-4 * w, 1e-4 * w];
    expect(pc1(1e-4 / 3e-8)[0]! * -1e-4 + pc1(1e-4 / 3e-8)[1]! * 1e-4).toBeLessThan(0);
    const rng = new SeededRandom(13);
    for (let trial = 0; trial < 20; trial++) {
      const T = 2 + (trial % 4);
      const g2 = randomMatrix(rng, T, 5, Array.from({ length: T }, (_, t) => (t % 2 ? 1e-4 : 1)));
      const u = Array.from({ length: T * T }, () => rng.next());
      const replay = draws(u);
      const orders = Array.from({ length: T }, () => permutation(T, replay));
      const r = pcgrad({ epsilon: 1e-8 }).aggregate(g2, { losses: new Array<number>(T).fill(1), random: draws(u) });
      expectClose(r.direction, pcgradReference(g2, orders, 1e-8), 1e-9);
    }
  });
  it('a seed makes it deterministic; different draws can change a 3-task result', () => {
    const g = fromRows([
      [1, 0.2],
      [-1, 1],
      [0.3, -1],
    ]);
    const a = pcgrad({ seed: 3 }).aggregate(g, { losses: [1, 1, 1] });
    const b = pcgrad({ seed: 3 }).aggregate(g, { losses: [1, 1, 1] });
    expect(Array.from(a.direction)).toEqual(Array.from(b.direction));
    const orderA = pcgradReference(g, [[1, 2], [0, 2], [0, 1]].map((o, i) => [i, ...o]));
    const orderB = pcgradReference(g, [[2, 1], [2, 0], [1, 0]].map((o, i) => [i, ...o]));
    expect(Math.abs(orderA[0]! - orderB[0]!)).toBeGreaterThan(1e-3);
  });
});

describe('GradVac', () => {
  it('hand-computed first step equals PCGrad (target 0), second step uses the EMA target', () => {
    const gv = gradvac();
    const first = gv.aggregate(conflict, { losses: [1, 1], random: draws([]) });
    expectClose(first.direction, [0.5, 1.5], 1e-7);
    const rho = -1 / (Math.SQRT2 + 1e-8);
    expectClose(first.state.target, [0, 0.5 * rho, 0.5 * rho, 0], 1e-9);
    const second = gv.aggregate(conflict, { losses: [1, 1] }, first.state);
    const phi = 0.5 * rho;
    const w01 = (1 * (phi * Math.sqrt(1 - rho * rho) - rho * Math.sqrt(1 - phi * phi))) / (Math.SQRT2 * Math.sqrt(1 - phi * phi) + 1e-8);
    const w10 = (Math.SQRT2 * (phi * Math.sqrt(1 - rho * rho) - rho * Math.sqrt(1 - phi * phi))) / (1 * Math.sqrt(1 - phi * phi) + 1e-8);
    expectClose(second.weights, [1 + w10, 1 + w01], 1e-7);
  });
  it.each([
    ['always', true],
    ['on-conflict', false],
  ] as const)('emaUpdate %s equals LibMTL’s loop (after / before its Feb 2024 fix) over three steps of random matrices', (emaUpdate, afterFix) => {
    const rng = new SeededRandom(12);
    for (let trial = 0; trial < 15; trial++) {
      const T = 2 + (trial % 4);
      const gv = gradvac({ beta: 0.3, ...(emaUpdate === 'always' ? {} : { emaUpdate }) });
      let state = gv.initialState(T);
      let target = Array.from({ length: T }, () => new Array<number>(T).fill(0));
      for (let step = 0; step < 3; step++) {
        const g = randomMatrix(rng, T, 6);
        const u = Array.from({ length: T * T }, () => rng.next());
        const replay = draws(u);
        const orders = Array.from({ length: T }, (_, i) => {
          const others = Array.from({ length: T - 1 }, (_, k) => (k < i ? k : k + 1));
          return permutation(T - 1, replay).map((p) => others[p]!);
        });
        const ref = gradvacReference(g, orders, target, 0.3, afterFix);
        const r = gv.aggregate(g, { losses: new Array<number>(T).fill(1), random: draws(u) }, state);
        expectClose(r.direction, ref.direction, 1e-8);
        expectClose(r.state.target, ref.target.flat(), 1e-8);
        state = r.state;
        target = ref.target;
      }
    }
  });
  it('by default the target also moves for a pair that agrees: g1 = (1, 0), g2 = (1, 1) → φ̂ = β cos = 0.5/√2', () => {
    const g = fromRows([
      [1, 0],
      [1, 1],
    ]);
    const rho = 1 / (Math.SQRT2 + 1e-8);
    expectClose(gradvac().aggregate(g, { losses: [1, 1] }).state.target, [0, 0.5 * rho, 0.5 * rho, 0], 1e-12);
    expect(gradvac({ emaUpdate: 'on-conflict' }).aggregate(g, { losses: [1, 1] }).state.target).toEqual([0, 0, 0, 0]);
  });
});

describe('MGDA', () => {
  it('two orthogonal rows: γ = 0.8 → d = (0.8, 0.4); l2-normalised: weights (½, ¼)', () => {
    const r = mgda().aggregate(orth, L2);
    expectClose(r.weights, [0.8, 0.2]);
    expectClose(r.direction, [0.8, 0.4]);
    const n = mgda({ normalization: 'l2' }).aggregate(orth, L2);
    expectClose(n.weights, [0.5, 0.25]);
    const l = mgda({ normalization: 'loss' }).aggregate(orth, { losses: [2, 1] });
    // rows (½, 0) and (0, 2): γ = 4 / 4.25
    expectClose(l.weights, [(4 / 4.25) / 2, 1 - 4 / 4.25]);
  });
  it('a dominated row gives weight exactly 1 (LibMTL: 0.999 with libmtlClamp)', () => {
    const g = fromRows([
      [1, 0],
      [2, 0],
    ]);
    expectClose(mgda().aggregate(g, L2).weights, [1, 0]);
    expectClose(mgda({ libmtlClamp: true }).aggregate(g, L2).weights, [0.999, 0.001]);
  });
  it('MGDA-UB is MGDA on the representation: the min-norm weights of the flattened batch x dim rows, by hand', () => {
    // Rows (1, 0, 1, 0) and (0, 1, 0, 3) are orthogonal with ‖g‖² = 2, 10: weights ∝ 1/‖g‖² → (5/6, 1/6).
    const ub = mgda({ space: 'representation', solver: 'exact' });
    expect(ub.space).toBe('representation');
    expect(ub.name).toBe('mgda-ub');
    const r = ub.aggregate(fromRows([[1, 0, 1, 0], [0, 1, 0, 3]]), L2);
    expectClose(r.weights, [5 / 6, 1 / 6], 1e-10);
    expectClose(r.direction, [5 / 6, 1 / 6, 5 / 6, 0.5], 1e-10);
  });
});

describe('CAGrad', () => {
  it('orthogonal unit rows: w = (½, ½), d = (ḡ + ½ g_w) / 1.25 = (0.6, 0.6)', () => {
    const g = fromRows([
      [1, 0],
      [0, 1],
    ]);
    const r = cagrad().aggregate(g, L2);
    expectClose(r.direction, [0.6, 0.6], 1e-6);
  });
  it('matches a brute-force solution of LibMTL’s dual for two tasks', () => {
    const rng = new SeededRandom(13);
    for (let trial = 0; trial < 10; trial++) {
      const g = randomMatrix(rng, 2, 5);
      const [r0, r1] = rowsOf(g) as [number[], number[]];
      const dot = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + v * b[i]!, 0);
      const A = [
        [dot(r0, r0), dot(r0, r1)],
        [dot(r1, r0), dot(r1, r1)],
      ];
      const g0 = Math.sqrt((A[0]![0]! + 2 * A[0]![1]! + A[1]![1]!) / 4 + 1e-8);
      const k = 0.5 * g0 + 1e-8;
      const f = (x: number): number => {
        const w = [x, 1 - x];
        const ab = [0, 1].map((i) => (A[i]![0]! + A[i]![1]!) / 2);
        const q = w[0]! * w[0]! * A[0]![0]! + 2 * w[0]! * w[1]! * A[0]![1]! + w[1]! * w[1]! * A[1]![1]!;
        return w[0]! * ab[0]! + w[1]! * ab[1]! + k * Math.sqrt(q + 1e-8);
      };
      // golden-section search on [0, 1] (f is convex)
      let lo = 0;
      let hi = 1;
      for (let i = 0; i < 200; i++) {
        const m1 = lo + (hi - lo) * 0.382;
        const m2 = lo + (hi - lo) * 0.618;
        if (f(m1) < f(m2)) hi = m2;
        else lo = m1;
      }
      const x = (lo + hi) / 2;
      const gw = r0.map((v, i) => x * v + (1 - x) * r1[i]!);
      const lambda = k / (Math.sqrt(dot(gw, gw)) + 1e-8);
      const expected = r0.map((v, i) => ((v + r1[i]!) / 2 + lambda * gw[i]!) / 1.25);
      expectClose(cagrad().aggregate(g, L2).direction, expected, 1e-6);
    }
  });
});

describe('IMTL', () => {
  it('IMTL-G: orthogonal rows (1,0), (0,2) → α = (⅔, ⅓), equal projections on the unit rows', () => {
    const r = imtl().aggregate(orth, { losses: [2, 0.5] });
    expectClose(r.weights, [2 / 3, 1 / 3]);
    expectClose(r.direction, [2 / 3, 2 / 3]);
    // IMTL-L: s takes one Adam step on e^s L − 1 = (1, −0.5): s = −lr · g / (|g| + eps)
    expectClose(r.state.scale, [-1e-3 / (1 + 1e-8), 1e-3 * (0.5 / (0.5 + 1e-8))], 1e-9);
    expect(r.headWeights).toEqual([1, 1]);
  });
  it('equals the P-space closed form on random matrices', () => {
    const rng = new SeededRandom(14);
    for (let trial = 0; trial < 20; trial++) {
      const T = 2 + (trial % 3);
      const g = randomMatrix(rng, T, 8);
      const rows = rowsOf(g);
      const dot = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + v * b[i]!, 0);
      const unit = rows.map((r) => r.map((v) => v / Math.sqrt(dot(r, r))));
      const D = rows.slice(1).map((r) => rows[0]!.map((v, k) => v - r[k]!));
      const U = unit.slice(1).map((u) => unit[0]!.map((v, k) => v - u[k]!));
      // α (D Uᵀ) = g1 Uᵀ, solved by Cramer for T ≤ 3
      const M = D.map((d) => U.map((u) => dot(d, u)));
      const b = U.map((u) => dot(rows[0]!, u));
      let alpha: number[];
      if (T === 2) alpha = [b[0]! / M[0]![0]!];
      else {
        const det = M[0]![0]! * M[1]![1]! - M[0]![1]! * M[1]![0]!;
        // row vector α solves α M = b → α = b M⁻¹
        alpha = [(b[0]! * M[1]![1]! - b[1]! * M[1]![0]!) / det, (b[1]! * M[0]![0]! - b[0]! * M[0]![1]!) / det];
      }
      if (T === 4) continue;
      const full = [1 - alpha.reduce((s, v) => s + v, 0), ...alpha];
      const r = imtl().aggregate(g, { losses: new Array<number>(T).fill(1) });
      expectClose(r.weights, full, 1e-8);
    }
  });
});

describe('IMTL with linearly dependent rows (singular D Uᵀ)', () => {
  const projections = (g: Matrix, d: ArrayLike<number>): number[] =>
    rowsOf(g).map((r) => r.reduce((s, v, k) => s + v * d[k]!, 0) / Math.hypot(...r));
  it('by hand: (1,0), (2,0), (0,1) → the minimum-norm α = (2/7, 1/7, 4/7) of the line 2α₁ + 3α₂ = 1, α₃ = α₁ + 2α₂', () => {
    // Equal projections give one equation for three unknowns with Σ α = 1; LibMTL inverts a singular matrix.
    const g = fromRows([
      [1, 0],
      [2, 0],
      [0, 1],
    ]);
    const r = imtl({ lossScale: false }).aggregate(g, { losses: [1, 1, 1] });
    expectClose(r.weights, [2 / 7, 1 / 7, 4 / 7], 1e-12);
    expectClose(r.direction, [4 / 7, 4 / 7], 1e-12);
    // Opposite rows: the direction must be ⊥ both, so 0 (unique α = (⅔, ⅓) for g and −2g).
    const opposite = imtl({ lossScale: false }).aggregate(fromRows([[1, 1], [-2, -2]]), { losses: [1, 1] });
    expectClose(opposite.weights, [2 / 3, 1 / 3], 1e-12);
    expectClose(opposite.direction, [0, 0], 1e-12, 1);
    // All rows equal: every α with Σ α = 1 solves it; the minimum-norm one is 1/T (as before).
    expectClose(imtl().aggregate(fromRows([[1, 2], [1, 2], [1, 2]]), { losses: [1, 1, 1] }).weights, [1 / 3, 1 / 3, 1 / 3], 1e-12);
  });
  it('collinear rows among generic ones: finite, Σ α = 1, equal projections on the unit rows', () => {
    const rng = new SeededRandom(16);
    for (let trial = 0; trial < 40; trial++) {
      const T = 3 + (trial % 5);
      const g = randomMatrix(rng, T, T + 2);
      const c = 0.1 + 3 * rng.next(); // row 1 = c · row 0 (same direction: the system stays consistent)
      for (let k = 0; k < g.cols; k++) g.data[g.cols + k] = c * g.data[k]!;
      const r = imtl({ lossScale: false }).aggregate(g, { losses: new Array<number>(T).fill(1) });
      expect(r.weights.every(Number.isFinite)).toBe(true);
      expect(Math.abs(r.weights.reduce((s, v) => s + v, 0) - 1)).toBeLessThan(1e-12);
      const p = projections(g, r.direction);
      expectClose(p, new Array<number>(T).fill(p[0]!), 1e-9);
    }
  });
  it('P < T: finite weights with Σ α = 1 and the least-squares property (no α does better)', () => {
    const rng = new SeededRandom(17);
    const spread = (g: Matrix, w: readonly number[]): number => {
      const d = new Float64Array(g.cols);
      w.forEach((a, t) => { for (let k = 0; k < g.cols; k++) d[k] = d[k]! + a * g.data[t * g.cols + k]!; });
      const p = projections(g, d);
      const mean = p.reduce((s, v) => s + v, 0) / p.length;
      return Math.hypot(...p.map((v) => v - mean));
    };
    for (let trial = 0; trial < 40; trial++) {
      const T = 3 + (trial % 6);
      const g = randomMatrix(rng, T, 1 + (trial % (T - 1)));
      const r = imtl({ lossScale: false }).aggregate(g, { losses: new Array<number>(T).fill(1) });
      expect(r.weights.every(Number.isFinite)).toBe(true);
      expect(Math.abs(r.weights.reduce((s, v) => s + v, 0) - 1)).toBeLessThan(1e-12);
      // Random perturbations along Σ α = 1 never reduce the spread of the projections.
      const best = spread(g, r.weights);
      for (let k = 0; k < 20; k++) {
        const e = Array.from({ length: T }, () => rng.normal() * 1e-3);
        const m = e.reduce((s, v) => s + v, 0) / T;
        expect(spread(g, r.weights.map((w, t) => w + e[t]! - m))).toBeGreaterThanOrEqual(best * (1 - 1e-9) - 1e-12);
      }
    }
  });
});

describe('Aligned-MTL', () => {
  it('hand-computed: diag Gram (4, 1) → weights (½, 1); equal rows → weights 1 each', () => {
    const g = fromRows([
      [2, 0],
      [0, 1],
    ]);
    expectClose(alignedMtl().aggregate(g, L2).weights, [0.5, 1]);
    const same = fromRows([
      [1, 1],
      [1, 1],
    ]);
    const r = alignedMtl().aggregate(same, L2);
    expectClose(r.weights, [1, 1], 1e-9);
    expectClose(r.direction, [2, 2], 1e-9);
  });
});

describe('UPGrad', () => {
  it('hand-computed on a conflicting pair', () => {
    const r = upgrad().aggregate(conflict, L2);
    const e = 1e-4;
    const w1 = 0.5 + (1 / 6) / (1 / 3 + e);
    const w2 = (1 / 6) / (2 / 3 + e) + 0.5;
    expectClose(r.weights, [w1, w2], 1e-9);
    expectClose(r.direction, [w1 - w2, w2], 1e-9);
  });
  it('orthogonal rows keep their mean', () => {
    expectClose(upgrad().aggregate(orth, L2).weights, [0.5, 0.5], 1e-9);
  });
});

describe('DWA', () => {
  it('weights 1 for epochs 0 and 1, then T · softmax(ratio / 2)', () => {
    const w = dwa();
    let state = w.initialState(2);
    const feed = (epoch: number, losses: number[]): readonly number[] => {
      const r = w.weigh({ losses, epoch }, state);
      state = r.state;
      return r.weights;
    };
    expect(feed(0, [1, 2])).toEqual([1, 1]);
    feed(0, [1, 2]);
    expect(feed(1, [0.4, 2])).toEqual([1, 1]);
    feed(1, [0.6, 2]);
    const e = [Math.exp(0.25), Math.exp(0.5)];
    expectClose(feed(2, [9, 9]), [(2 * e[0]!) / (e[0]! + e[1]!), (2 * e[1]!) / (e[0]! + e[1]!)]);
  });
});

describe('RLW', () => {
  it('softmax of Box–Muller normals from the given draws', () => {
    const z = [Math.sqrt(2 * Math.log(2)), -Math.sqrt(2 * Math.log(4))];
    const s = Math.exp(z[0]!) + Math.exp(z[1]!);
    const r = rlw().weigh({ losses: [1, 1], random: draws([0.5, 0, 0.25, 0.5]) });
    expectClose(r.weights, [Math.exp(z[0]!) / s, Math.exp(z[1]!) / s]);
  });
  it('Dirichlet(1) from exponential draws, optionally softmaxed like LibMTL', () => {
    expectClose(rlw({ distribution: 'dirichlet' }).weigh({ losses: [1, 1], random: draws([0.5, 0.75]) }).weights, [1 / 3, 2 / 3]);
    const e = [Math.exp(1 / 3), Math.exp(2 / 3)];
    expectClose(rlw({ distribution: 'dirichlet', libmtlDirichletSoftmax: true }).weigh({ losses: [1, 1], random: draws([0.5, 0.75]) }).weights, [e[0]! / (e[0]! + e[1]!), e[1]! / (e[0]! + e[1]!)]);
  });
  it('uniform-normalized (CoNAL): U[0, 1] draws divided by their sum', () => {
    expectClose(rlw({ distribution: 'uniform-normalized' }).weigh({ losses: [1, 1, 1], random: draws([0.2, 0.6, 0.2]) }).weights, [0.2, 0.6, 0.2]);
    expectClose(rlw({ distribution: 'uniform-normalized' }).weigh({ losses: [1, 1], random: draws([0.1, 0.3]) }).weights, [0.25, 0.75]);
    expectClose(rlw({ distribution: 'uniform-normalized' }).weigh({ losses: [1, 1], random: draws([0, 0]) }).weights, [0.5, 0.5]);
  });
  it('Dirichlet with another concentration averages to 1/T', () => {
    const w = rlw({ distribution: 'dirichlet', concentration: 0.5, seed: 2 });
    const mean = [0, 0, 0];
    for (let i = 0; i < 4000; i++) w.weigh({ losses: [1, 1, 1] }).weights.forEach((v, t) => (mean[t] = mean[t]! + v / 4000));
    for (const m of mean) expect(Math.abs(m - 1 / 3)).toBeLessThan(0.02);
  });
});

describe('UW', () => {
  it('weights 1 / (2 e^s) with s = −0.5, then one step on −L/(2e^s) + ½', () => {
    const uw = uncertaintyWeighting({ optimizer: { type: 'sgd', learningRate: 0.1 } });
    const r = uw.weigh({ losses: [2, 0.5] });
    const w0 = Math.exp(0.5) / 2;
    expectClose(r.weights, [w0, w0]);
    expectClose(r.state.logVariance, [-0.5 - 0.1 * (-2 * w0 + 0.5), -0.5 - 0.1 * (-0.5 * w0 + 0.5)]);
  });
  it('UW-PCGrad scales the rows by the UW weights, then projects', () => {
    const uwPc = compose(uncertaintyWeighting(), pcgrad());
    const w0 = Math.exp(0.5) / 2;
    const r = uwPc.aggregate(conflict, { losses: [1, 1], random: draws([0.1, 0.1]) });
    expectClose(r.direction, [0.5 * w0, 1.5 * w0]);
    expectClose(r.headWeights!, [w0, w0]);
    expect(uwPc.name).toBe('uw-pcgrad');
  });
});

describe('GradNorm', () => {
  it('EW during epoch 0, then T·softmax(p) with p stepped on the GradNorm loss', () => {
    const gn = gradnorm({ optimizer: { type: 'sgd', learningRate: 0.1 } });
    const g = fromRows([
      [3, 0],
      [0, 1],
    ]);
    const e0 = gn.aggregate(g, { losses: [1, 1], epoch: 0 });
    expect(e0.weights).toEqual([1, 1]);
    const e1 = gn.aggregate(g, { losses: [0.5, 1], epoch: 1 }, e0.state);
    expectClose(e1.weights, [1, 1]);
    expectClose(e1.state.logits, [1 - 0.1 * 2, 1 + 0.1 * 2]);
    const e2 = gn.aggregate(g, { losses: [0.5, 1], epoch: 1 }, e1.state);
    const s = Math.exp(0.8) / (Math.exp(0.8) + Math.exp(1.2));
    expectClose(e2.weights, [2 * s, 2 * (1 - s)]);
  });
});
