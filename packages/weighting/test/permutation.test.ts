/**
 * Row-permutation behaviour (torchjd-style property tests, spec §1): permuting the rows of G (and
 * the losses, the state, and — for seeded methods — the draws) must leave the direction unchanged
 * and permute the weights. Every registered method is covered; where the property holds only to a
 * tolerance (MGDA's Frank–Wolfe) or only up to the seeded order (PCGrad,
 * GradVac, RLW), the tests pin down the tolerance that holds and the methods' TSDoc says why.
 */
import { describe, expect, it } from 'vitest';
import { SeededRandom, type Matrix } from '@mtl/core';
import {
  createAggregator,
  gradvac,
  listMethods,
  pcgrad,
  rlw,
  type ComposedState,
  type DwaState,
  type GradNormState,
  type GradVacState,
  type ImtlState,
  type MethodAggregation,
  type NashMtlState,
  type ParamOptimizerState,
  type UwState,
} from '../src/index.js';
import { gammaDraw, permutation } from '../src/random-source.js';
import { expectClose } from './helpers.js';

type Opts = Record<string, unknown>;

/** Row r of the result is row perm[r] of g. */
function permuteRows(g: Matrix, perm: readonly number[]): Matrix {
  const data = new Float64Array(g.rows * g.cols);
  perm.forEach((src, r) => data.set(g.data.subarray(src * g.cols, (src + 1) * g.cols), r * g.cols));
  return { rows: g.rows, cols: g.cols, data };
}
const permute = <V>(x: readonly V[], perm: readonly number[]): V[] => perm.map((p) => x[p]!);
const inverse = (perm: readonly number[]): number[] => {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, r) => (inv[p] = r));
  return inv;
};
const maxAbs = (x: ArrayLike<number>): number => Array.from(x).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
/** max |a − b| / max(max |b|, floor). */
const relDiff = (a: ArrayLike<number>, b: ArrayLike<number>, floor = 0): number => {
  let d = 0;
  for (let i = 0; i < b.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d / Math.max(maxAbs(b), floor, Number.MIN_VALUE);
};
function close(label: string, actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, floor = 1e-12): void {
  try {
    expectClose(actual, expected, rel, floor);
  } catch (error) {
    throw new Error(`${label}: ${(error as Error).message}`);
  }
}

/** A uniform permutation of 0..T−1 that is never the identity (T ≥ 2). */
function randomPermutation(rng: SeededRandom, T: number): number[] {
  const p = permutation(T, () => rng.next());
  if (p.every((v, i) => v === i)) p.reverse();
  return p;
}

/** A T x P Gaussian matrix whose rows have log-normal norms (spread over about two decades). */
function randomRows(rng: SeededRandom, T: number, P: number): Matrix {
  const data = new Float64Array(T * P);
  for (let t = 0; t < T; t++) {
    const s = Math.exp(rng.normal());
    for (let k = 0; k < P; k++) data[t * P + k] = rng.normal() * s;
  }
  return { rows: T, cols: P, data };
}

interface Case {
  readonly g: Matrix;
  readonly losses: number[];
  readonly perm: number[];
}
/** `count` seeded cases, T cycling through `tasks`; P ≥ T (full row rank) unless `deficient` (P < T). */
function cases(seed: number, count: number, tasks: readonly number[], deficient = false): Case[] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: count }, (_, trial) => {
    const T = tasks[trial % tasks.length]!;
    const P = deficient ? 1 + (trial % (T - 1)) : T + (trial % 9);
    const g = randomRows(rng, T, P);
    const losses = Array.from({ length: T }, () => 0.1 + 2 * rng.next());
    return { g, losses, perm: randomPermutation(rng, T) };
  });
}

/** The uniforms that make `permutation(q.length, ·)` (Fisher–Yates) return exactly q. */
function uniformsFor(q: readonly number[]): number[] {
  const p = Array.from({ length: q.length }, (_, i) => i);
  const out: number[] = [];
  for (let i = q.length - 1; i > 0; i--) {
    const j = p.indexOf(q[i]!);
    out.push((j + 0.5) / (i + 1));
    p[j] = p[i]!;
    p[i] = q[i]!;
  }
  return out;
}

/**
 * Draws for PCGrad ('all': task i visits an order of all T tasks) or GradVac ('others': an order of
 * the other tasks, drawn as a permutation of their ascending list) that make task i visit
 * `orders[i]` (task indices), for i = 0..T−1 in turn.
 */
function drawsForOrders(orders: readonly (readonly number[])[], kind: 'all' | 'others'): number[] {
  return orders.flatMap((order, i) => {
    if (kind === 'all') return uniformsFor(order);
    const others = Array.from({ length: orders.length }, (_, t) => t).filter((t) => t !== i);
    return uniformsFor(order.map((j) => others.indexOf(j)));
  });
}
/** The same visiting orders, seen from the permuted problem (row r is task perm[r]). */
const permutedOrders = (orders: readonly (readonly number[])[], perm: readonly number[]): number[][] => {
  const inv = inverse(perm);
  return perm.map((p) => orders[p]!.map((j) => inv[j]!));
};
function randomOrders(rng: SeededRandom, T: number, kind: 'all' | 'others'): number[][] {
  return Array.from({ length: T }, (_, i) => {
    const tasks = Array.from({ length: T }, (_, t) => t).filter((t) => kind === 'all' || t !== i);
    return permute(tasks, permutation(tasks.length, () => rng.next()));
  });
}
/** A uniform source replaying `values` (fails loudly when they run out). */
function replay(values: readonly number[]): () => number {
  let i = 0;
  return () => {
    if (i >= values.length) throw new Error(`only ${values.length} draws were provided`);
    return values[i++]!;
  };
}

/** Checks one method's output on the permuted problem against the original's. */
function expectPermuted(label: string, a: MethodAggregation<unknown>, b: MethodAggregation<unknown>, perm: readonly number[], tol: number, floor = 1e-12): void {
  close(`${label} direction`, b.direction, a.direction, tol, floor);
  close(`${label} weights`, b.weights, permute(a.weights, perm), tol);
  if (a.headWeights) close(`${label} head weights`, b.headWeights!, permute(a.headWeights, perm), tol);
}

/** Permutes a method's JSON state into the permuted problem's task order. */
function permuteState(name: string, s: unknown, perm: readonly number[]): unknown {
  const T = perm.length;
  const p = <V>(x: readonly V[]): V[] => permute(x, perm);
  const opt = (o: ParamOptimizerState): ParamOptimizerState => ({ t: o.t, m: p(o.m), v: p(o.v) });
  switch (name) {
    case 'uw': {
      const x = s as UwState;
      return { logVariance: p(x.logVariance), optimizer: opt(x.optimizer) };
    }
    case 'dwa': {
      const x = s as DwaState;
      return { ...x, sums: p(x.sums), history: x.history.map((h) => ({ epoch: h.epoch, means: p(h.means) })) };
    }
    case 'gradnorm': {
      const x = s as GradNormState;
      return { ...x, logits: p(x.logits), optimizer: opt(x.optimizer), initialSums: p(x.initialSums), initialLosses: x.initialLosses && p(x.initialLosses) };
    }
    case 'imtl': {
      const x = s as ImtlState;
      return { scale: p(x.scale), optimizer: opt(x.optimizer) };
    }
    case 'nash-mtl': {
      const x = s as NashMtlState;
      return { ...x, alpha: x.alpha && p(x.alpha) };
    }
    case 'gradvac': {
      const x = s as GradVacState;
      return { numTasks: T, target: Array.from({ length: T * T }, (_, i) => x.target[perm[Math.floor(i / T)]! * T + perm[i % T]!]) };
    }
    case 'imtl-l': {
      const x = s as ImtlState;
      return { scale: p(x.scale), optimizer: opt(x.optimizer) };
    }
    case 'stch': {
      const x = s as { numTasks: number; sums: number[]; count: number; nadir: number[] | null };
      return { ...x, sums: p(x.sums), nadir: x.nadir && p(x.nadir) };
    }
    case 'famo': {
      const x = s as { logits: number[]; optimizer: ParamOptimizerState; previousLosses: number[] | null };
      return { logits: p(x.logits), optimizer: opt(x.optimizer), previousLosses: x.previousLosses && p(x.previousLosses) };
    }
    case 'excess-mtl': {
      const x = s as { numTasks: number; weights: number[]; gradSquares: number[]; initial: number[] | null };
      return { ...x, weights: p(x.weights), gradSquares: permuteBlocks(x.gradSquares, perm), initial: x.initial && p(x.initial) };
    }
    case 'db-mtl': {
      const x = s as { numTasks: number; step: number; buffer: number[] };
      return { ...x, buffer: permuteBlocks(x.buffer, perm) };
    }
    case 'moco': {
      const x = s as { numTasks: number; step: number; lambda: number[]; y: number[] };
      return { ...x, lambda: p(x.lambda), y: permuteBlocks(x.y, perm) };
    }
    case 'modo':
      return { lambda: p((s as { lambda: number[] }).lambda) };
    case 'sdmgrad':
      return { w: p((s as { w: number[] }).w) };
    case 'uw-pcgrad': {
      const x = s as ComposedState<UwState, null>;
      return { weighting: permuteState('uw', x.weighting, perm), aggregator: x.aggregator };
    }
    default:
      return s;
  }
}
/** Permutes the T row blocks of a row-major T x P array. */
function permuteBlocks(x: readonly number[], perm: readonly number[]): number[] {
  const T = perm.length;
  const P = x.length / T;
  return perm.flatMap((r) => x.slice(r * P, (r + 1) * P));
}

/** Deep comparison of JSON states, numbers to a relative tolerance. */
function expectStateClose(label: string, actual: unknown, expected: unknown, tol: number): void {
  if (typeof expected === 'number') {
    expect(typeof actual, label).toBe('number');
    const ok = Math.abs((actual as number) - expected) <= tol * Math.max(1, Math.abs(expected));
    if (!ok) throw new Error(`${label}: state ${String(actual)} ≠ ${expected}`);
  } else if (Array.isArray(expected)) {
    expect(Array.isArray(actual) && actual.length === expected.length, label).toBe(true);
    expected.forEach((e, i) => expectStateClose(`${label}[${i}]`, (actual as unknown[])[i], e, tol));
  } else if (expected !== null && typeof expected === 'object') {
    expect(Object.keys(actual as object).sort(), label).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected)) expectStateClose(`${label}.${k}`, (actual as Record<string, unknown>)[k], v, tol);
  } else {
    expect(actual, label).toBe(expected);
  }
}

const ALL = listMethods().map((m) => m.name);

describe('row permutation: deterministic aggregators (full row rank)', () => {
  /** [registered name, options, tolerance, task counts]; each runs on 120 seeded matrices. */
  const configs: readonly [string, Opts, number, readonly number[]][] = [
    ['ew', {}, 1e-12, [2, 3, 5, 8]],
    ['ew', { normalize: 'mean' }, 1e-12, [2, 3, 5, 8]],
    ['mgda', { solver: 'exact' }, 1e-9, [2, 3, 4, 5, 6, 7, 8]],
    ['mgda', { solver: 'exact', normalization: 'l2' }, 1e-9, [3, 5, 8]],
    ['mgda', { solver: 'exact', normalization: 'loss' }, 1e-9, [3, 5, 8]],
    ['mgda', { solver: 'exact', normalization: 'loss+' }, 1e-9, [3, 5, 8]],
    ['mgda-ub', { solver: 'exact' }, 1e-9, [3, 5, 8]],
    // Frank–Wolfe's best pair is exact for two tasks; for T ≥ 3 see the dedicated test below.
    ['mgda', {}, 1e-12, [2]],
    ['mgda', { normalization: 'loss+' }, 1e-12, [2]],
    ['cagrad', {}, 1e-9, [2, 3, 4, 5, 6, 7, 8]],
    ['cagrad', { c: 2, rescale: 2 }, 1e-9, [2, 3, 5, 8]],
    ['imtl', {}, 1e-9, [2, 3, 4, 5, 6, 7, 8]],
    ['imtl', { lossScale: false, normalize: 'sum' }, 1e-9, [3, 6]],
    ['aligned-mtl', {}, 1e-9, [2, 3, 4, 5, 6, 7, 8]],
    ['upgrad', {}, 1e-9, [2, 3, 4, 5, 6, 7, 8]],
    ['upgrad', { regEps: 0 }, 1e-9, [2, 4, 7]],
    // Nash-MTL: its Newton loop runs to convergence (it used to stall in the line search at ~1e-8).
    ['nash-mtl', {}, 1e-9, [2, 3, 4, 5, 6, 7, 8]],
    ['nash-mtl', { maxNorm: 0 }, 1e-9, [2, 3, 5, 8]],
    // Seeded methods with two tasks: the only order that matters is "the other task", so no draw changes anything.
    ['pcgrad', {}, 1e-12, [2]],
    ['gradvac', {}, 1e-12, [2]],
    // Loss weightings as aggregators, first step (DWA/UW/GradNorm over many steps below).
    ['dwa', {}, 1e-12, [2, 5]],
    ['uw', {}, 1e-12, [2, 5]],
    ['gradnorm', {}, 1e-12, [2, 5]],
    ['uw-pcgrad', {}, 1e-12, [2]],
    ['nash-mtl', { solver: 'authors' }, 1e-6, [2, 3, 5]],
    ['gls', {}, 1e-12, [2, 5]],
    ['geometric-mean', {}, 1e-12, [3]],
    ['stch', {}, 1e-12, [2, 5]],
    ['famo', {}, 1e-12, [2, 5]],
    ['imtl-l', {}, 1e-12, [2, 5]],
    ['imtl-g', {}, 1e-9, [2, 3, 5, 8]],
    ['dualproj', {}, 1e-9, [2, 3, 4, 5, 6, 7, 8]],
    ['config', {}, 1e-9, [2, 3, 5, 8]],
    ['fairgrad', {}, 1e-9, [2, 3, 5, 8]],
    ['fairgrad', { alpha: 2 }, 1e-9, [2, 3, 5, 8]],
    ['excess-mtl', {}, 1e-12, [2, 5]],
    ['db-mtl', {}, 1e-12, [2, 5]],
    ['moco', {}, 1e-12, [2, 5]],
    // GradDrop draws one uniform per column, not per row: the same draws give the permuted rows the same masks.
    ['graddrop', {}, 1e-12, [2, 3, 5]],
    ['graddrop', { leak: 0.3 }, 1e-12, [3]],
    ['modo', {}, 1e-12, [2, 5]],
    ['sdmgrad', {}, 1e-9, [2, 3, 5]],
    // Krum with T − f − 2 = 1 neighbour scores the closest pair equally: a tie broken by row index, so T ≥ 4 here.
    ['krum', {}, 1e-12, [4, 5, 8]],
    ['krum', { nSelected: 2 }, 1e-12, [3]],
    ['krum', { nByzantine: 1, nSelected: 2 }, 1e-12, [4, 6]],
    ['trimmed-mean', {}, 1e-12, [2, 5]],
    ['trimmed-mean', { trimNumber: 1 }, 1e-12, [3, 5, 8]],
  ];

  for (const [name, options, tol, tasks] of configs) {
    it(`${name} ${JSON.stringify(options)}: direction unchanged, weights permuted (rel ${tol}, T ∈ {${tasks.join(', ')}})`, () => {
      let worst = 0;
      for (const [trial, { g, losses, perm }] of cases(1000 + name.length * 31 + JSON.stringify(options).length, 120, tasks).entries()) {
        // Fresh instances: a seeded method must not see one stream advanced by the other run.
        const a = createAggregator(name, { seed: 5, ...options }).aggregate(g, { losses });
        const b = createAggregator(name, { seed: 5, ...options }).aggregate(permuteRows(g, perm), { losses: permute(losses, perm) });
        expectPermuted(`${name} trial ${trial} (T=${g.rows}, P=${g.cols}, perm ${perm.join(',')})`, a, b, perm, tol);
        worst = Math.max(worst, relDiff(b.direction, a.direction));
      }
      expect(worst).toBeLessThanOrEqual(tol);
    });
  }

  it('scalarize: permuting the rows and the fixed weight vector together', () => {
    for (const { g, losses, perm } of cases(1100, 60, [2, 3, 5, 8])) {
      const weights = losses.map((_, t) => 0.5 + t);
      const a = createAggregator('scalarize', { weights }).aggregate(g, { losses });
      const b = createAggregator('scalarize', { weights: permute(weights, perm) }).aggregate(permuteRows(g, perm), { losses: permute(losses, perm) });
      expectPermuted('scalarize', a, b, perm, 1e-12);
    }
  });

  it('every registered method is covered by a permutation test in this file', () => {
    const covered = new Set([...configs.map((c) => c[0]), 'scalarize', 'rlw', 'pcgrad', 'gradvac', 'mgda', 'nash-mtl', 'uw-pcgrad']);
    expect(ALL.filter((n) => !covered.has(n))).toEqual([]);
  });
});

describe('row permutation: rank-deficient G (P < T)', () => {
  it('the direction stays unique and unchanged for EW, exact MGDA, CAGrad, Aligned-MTL, UPGrad, Nash-MTL, IMTL', () => {
    // Weights of the min-norm point are not unique when the rows are dependent (MGDA, CAGrad's dual),
    // so only the direction is compared for those; UPGrad's ridge and Aligned-MTL's spectral
    // formula make their weights unique, and so does IMTL's minimum-norm α. Nash-MTL's weights can be
    // ~1e5 here (the ridge bounds them when 0 is in the convex hull), so only its direction is
    // compared. Direction error is relative to the largest entry of G
    // (the min-norm direction is often ~0 here).
    const configs: readonly [string, Opts, number, boolean][] = [
      ['ew', {}, 1e-12, true],
      ['mgda', { solver: 'exact' }, 1e-9, false],
      ['cagrad', {}, 1e-9, true],
      ['aligned-mtl', {}, 1e-9, true],
      ['upgrad', {}, 1e-9, true],
      ['nash-mtl', {}, 1e-8, false],
      ['imtl', {}, 1e-9, true],
      ['imtl', { lossScale: false, normalize: 'sum' }, 1e-9, true],
    ];
    for (const [name, options, tol, weightsToo] of configs) {
      for (const { g, losses, perm } of cases(1200, 80, [3, 4, 6, 8], true)) {
        const a = createAggregator(name, options).aggregate(g, { losses });
        const b = createAggregator(name, options).aggregate(permuteRows(g, perm), { losses: permute(losses, perm) });
        close(`${name} direction (T=${g.rows}, P=${g.cols})`, b.direction, a.direction, tol, maxAbs(g.data));
        if (weightsToo) close(`${name} weights`, b.weights, permute(a.weights, perm), tol, 1e-300);
      }
    }
  });
});

describe('row permutation: IMTL with collinear rows (singular D Uᵀ)', () => {
  it('duplicated, scaled and opposite rows: finite weights, permuted; the same direction', () => {
    // Before the rank test these gave order-dependent weights (the singular system passed a pivot
    // check relative to its own near-zero entries); now the minimum-norm least-squares α.
    const rng = new SeededRandom(1250);
    let worst = 0;
    for (let trial = 0; trial < 120; trial++) {
      const T = 3 + (trial % 6);
      const P = T + (trial % 4);
      const g = randomRows(rng, T, P);
      // Row j copies row i times c: c > 0 (scaled duplicate) or c < 0 (opposite).
      const i = trial % T;
      const j = (i + 1 + (trial % (T - 1))) % T;
      const c = (trial % 3 === 0 ? -1 : 1) * (0.2 + 2 * rng.next());
      for (let k = 0; k < P; k++) g.data[j * P + k] = c * g.data[i * P + k]!;
      const losses = Array.from({ length: T }, () => 0.1 + 2 * rng.next());
      const perm = randomPermutation(rng, T);
      const a = createAggregator('imtl', {}).aggregate(g, { losses });
      const b = createAggregator('imtl', {}).aggregate(permuteRows(g, perm), { losses: permute(losses, perm) });
      expect(a.weights.every(Number.isFinite) && b.weights.every(Number.isFinite)).toBe(true);
      close(`imtl collinear direction (T=${T}, rows ${i}, ${j}, c=${c.toFixed(2)})`, b.direction, a.direction, 1e-9, maxAbs(g.data));
      close('imtl collinear weights', b.weights, permute(a.weights, perm), 1e-9);
      worst = Math.max(worst, relDiff(b.direction, a.direction, maxAbs(g.data)));
    }
    expect(worst).toBeLessThan(1e-9);
  });
});

describe('row permutation: IMTL with P < T', () => {
  it('finite weights, permuted; the same direction (T = 3..8, P = 1..T − 1)', () => {
    let worst = 0;
    let count = 0;
    for (const { g, losses, perm } of cases(1260, 300, [3, 4, 5, 6, 7, 8], true)) {
      const a = createAggregator('imtl', { lossScale: false }).aggregate(g, { losses });
      const b = createAggregator('imtl', { lossScale: false }).aggregate(permuteRows(g, perm), { losses: permute(losses, perm) });
      expect(a.weights.every(Number.isFinite) && b.weights.every(Number.isFinite)).toBe(true);
      const d = relDiff(b.direction, a.direction, maxAbs(g.data));
      if (d > 1e-9) count++;
      worst = Math.max(worst, d, relDiff(b.weights, permute(a.weights, perm)));
    }
    // Before the rank test: a few cases per 300 with weights off by 200% and directions by up to ~40%.
    expect(count, `worst relative difference ${worst}`).toBe(0);
    expect(worst).toBeLessThan(1e-9);
  });
});

describe('row permutation: MGDA with the default Frank–Wolfe solver (T ≥ 3)', () => {
  it('invariant only to the solver’s convergence error: ≤ 1e-2 relative, not to rounding', () => {
    // Frank–Wolfe usually runs into its 250-iteration cap while still zig-zagging; rounding
    // differences from the new row order (sums over the rows in another order) are amplified
    // along that path, so the two runs stop at slightly different unconverged points. The exact
    // solver agrees to ~1e-15 on the same matrices (test above).
    let worst = 0;
    let worstNorm = 0;
    for (const { g, losses, perm } of cases(1300, 200, [3, 4, 5, 6, 7, 8])) {
      const a = createAggregator('mgda').aggregate(g, { losses });
      const b = createAggregator('mgda').aggregate(permuteRows(g, perm), { losses: permute(losses, perm) });
      close(`mgda FW direction (T=${g.rows})`, b.direction, a.direction, 2e-2);
      close(`mgda FW weights (T=${g.rows})`, b.weights, permute(a.weights, perm), 2e-2);
      worst = Math.max(worst, relDiff(b.direction, a.direction));
      const na = Math.hypot(...a.direction);
      worstNorm = Math.max(worstNorm, Math.abs(Math.hypot(...b.direction) - na) / na);
    }
    // The tolerance is needed (not exact) and the min-norm value itself agrees much better.
    expect(worst).toBeGreaterThan(1e-9);
    expect(worstNorm).toBeLessThan(1e-3);
  });

  it('with a long enough run the permuted result converges to the same point', () => {
    for (const { g, losses, perm } of cases(1300, 200, [3, 4, 5, 6, 7, 8]).slice(0, 24)) {
      const opts = { maxIterations: 20000, tolerance: 1e-12 };
      const a = createAggregator('mgda', opts).aggregate(g, { losses });
      const b = createAggregator('mgda', opts).aggregate(permuteRows(g, perm), { losses: permute(losses, perm) });
      const exact = createAggregator('mgda', { solver: 'exact' }).aggregate(g, { losses });
      // Both land within 1e-3 of the exact min-norm point, hence of each other.
      close('long FW vs exact', a.direction, exact.direction, 1e-3);
      close('long FW permuted', b.direction, a.direction, 2e-3);
    }
  });
});

describe('row permutation: stateful methods over several steps (permuted losses and state)', () => {
  /** Runs the original and the permuted problem side by side from their initial states. */
  function chain(name: string, options: Opts, T: number, seed: number, tol: number, seeded?: 'all' | 'others'): void {
    const rng = new SeededRandom(seed);
    const perm = randomPermutation(rng, T);
    const A = createAggregator(name, options);
    const B = createAggregator(name, options);
    let sa: unknown = A.initialState(T);
    let sb: unknown = B.initialState(T);
    // Epochs 0..4, three steps each: DWA and GradNorm leave their warm-up, IMTL/UW/GradNorm step
    // their own parameters, Nash-MTL (every 2) reuses α, GradVac moves its EMA targets.
    let step = 0;
    for (let epoch = 0; epoch < 5; epoch++) {
      for (let k = 0; k < 3; k++, step++) {
        const g = randomRows(rng, T, T + 3);
        const losses = Array.from({ length: T }, () => 0.1 + 3 * rng.next());
        const input = { losses, epoch, step };
        const pinput = { losses: permute(losses, perm), epoch, step };
        let extra = {};
        let pextra = {};
        if (seeded) {
          const orders = randomOrders(rng, T, seeded);
          extra = { random: replay(drawsForOrders(orders, seeded)) };
          pextra = { random: replay(drawsForOrders(permutedOrders(orders, perm), seeded)) };
        }
        const a = A.aggregate(g, { ...input, ...extra }, sa);
        const b = B.aggregate(permuteRows(g, perm), { ...pinput, ...pextra }, sb);
        const label = `${name} T=${T} epoch ${epoch} step ${step}`;
        expectPermuted(label, a, b, perm, tol);
        expectStateClose(`${label} state`, b.state, permuteState(name, a.state, perm), tol);
        sa = a.state;
        sb = b.state;
      }
    }
  }

  const stateful: readonly [string, Opts, number, ('all' | 'others')?][] = [
    ['dwa', {}, 1e-12],
    ['dwa', { temperature: 0.5 }, 1e-12],
    ['uw', {}, 1e-12],
    ['uw', { optimizer: { type: 'sgd', learningRate: 0.1 } }, 1e-12],
    ['gradnorm', { optimizer: { learningRate: 0.05 } }, 1e-12],
    ['imtl', { optimizer: { learningRate: 0.05 } }, 1e-9],
    ['nash-mtl', { updateWeightsEvery: 2 }, 1e-9],
    ['gradvac', {}, 1e-12, 'others'],
    ['gradvac', { emaUpdate: 'on-conflict', beta: 0.3 }, 1e-12, 'others'],
    ['uw-pcgrad', {}, 1e-12, 'all'],
    ['stch', { warmupEpochs: 1 }, 1e-12],
    ['imtl-l', { optimizer: { learningRate: 0.05 } }, 1e-12],
    ['excess-mtl', {}, 1e-12],
    ['db-mtl', { betaSigma: 0.5 }, 1e-12],
    ['moco', { rho: 0.1 }, 1e-12],
    ['modo', { gamma: 0.05 }, 1e-12],
    ['sdmgrad', {}, 1e-9],
  ];
  for (const [name, options, tol, seeded] of stateful) {
    it(`${name} ${JSON.stringify(options)}${seeded ? ' (draws encoding the same task order)' : ''}`, () => {
      for (const T of [2, 3, 5, 7]) for (let rep = 0; rep < 4; rep++) chain(name, options, T, 1400 + 10 * T + rep, tol, seeded);
    });
  }
});

describe('row permutation: seeded task orders (PCGrad, GradVac)', () => {
  it('uniformsFor / drawsForOrders reproduce the intended Fisher–Yates orders', () => {
    const rng = new SeededRandom(1500);
    for (let n = 1; n <= 8; n++) {
      for (let k = 0; k < 20; k++) {
        const q = permutation(n, () => rng.next());
        expect(permutation(n, replay(uniformsFor(q)))).toEqual(q);
      }
    }
  });

  for (const [label, make, kind] of [
    ['pcgrad', () => pcgrad(), 'all'],
    ['gradvac (step 0)', () => gradvac(), 'others'],
  ] as const) {
    it(`${label}: draws that encode the same task order after permutation → same direction, permuted weights`, () => {
      const rng = new SeededRandom(1600 + label.length);
      for (const { g, losses, perm } of cases(1601 + label.length, 150, [3, 4, 5, 6, 7, 8])) {
        const orders = randomOrders(rng, g.rows, kind);
        const a = make().aggregate(g, { losses, random: replay(drawsForOrders(orders, kind)) });
        const b = make().aggregate(permuteRows(g, perm), { losses: permute(losses, perm), random: replay(drawsForOrders(permutedOrders(orders, perm), kind)) });
        expectPermuted(`${label} T=${g.rows}`, a, b, perm, 1e-12);
      }
    });

    it(`${label}: the same raw draws on permuted rows may give another direction (T ≥ 3), never for T = 2`, () => {
      const rng = new SeededRandom(1700 + label.length);
      let differs = 0;
      let total = 0;
      for (const { g, losses, perm } of cases(1701 + label.length, 150, [2, 3, 4, 5, 6])) {
        const u = Array.from({ length: g.rows * g.rows }, () => rng.next());
        const a = make().aggregate(g, { losses, random: replay(u) });
        const b = make().aggregate(permuteRows(g, perm), { losses: permute(losses, perm), random: replay(u) });
        const d = relDiff(b.direction, a.direction);
        if (g.rows === 2) expect(d).toBeLessThan(1e-12);
        else {
          total++;
          if (d > 1e-6) differs++;
        }
      }
      // A sizeable share of random conflicting rows is order-sensitive, so the raw draws matter.
      expect(differs).toBeGreaterThan(total / 10);
    });
  }
});

describe('row permutation: RLW', () => {
  /**
   * RLW consumes its uniforms in task order, in one block per task: two for a normal (Box–Muller),
   * one for 'uniform', 'bernoulli' and Dirichlet(1), a variable number for Gamma(α ≠ 1). Moving
   * task t's block to row r moves its weight to row r.
   */
  const blocksFor = (distribution: string, concentration: number, T: number, rng: SeededRandom): number[][] =>
    Array.from({ length: T }, () => {
      if (distribution === 'normal') return [0.01 + 0.98 * rng.next(), rng.next()];
      if (distribution === 'dirichlet' && concentration !== 1) {
        const used: number[] = [];
        gammaDraw(concentration, () => {
          const v = rng.next();
          used.push(v);
          return v;
        });
        return used;
      }
      return [rng.next()];
    });
  const settings: readonly Opts[] = [
    {},
    { distribution: 'uniform' },
    { distribution: 'uniform-normalized' },
    { distribution: 'dirichlet' },
    { distribution: 'dirichlet', libmtlDirichletSoftmax: true },
    { distribution: 'dirichlet', concentration: 0.4 },
    { distribution: 'dirichlet', concentration: 3 },
    { distribution: 'bernoulli' },
    { normalize: 'sum' },
  ];
  for (const options of settings) {
    it(`${JSON.stringify(options)}: permuted draws → permuted weights and the same direction; same draws → weights stay with the rows`, () => {
      const rng = new SeededRandom(1800 + JSON.stringify(options).length);
      const distribution = (options.distribution as string | undefined) ?? 'normal';
      for (const { g, losses, perm } of cases(1801, 60, [2, 3, 5, 8])) {
        const T = g.rows;
        const blocks = blocksFor(distribution, (options.concentration as number | undefined) ?? 1, T, rng);
        // Bernoulli redraws while all weights are 0: keep one 1 so a single round is used.
        if (distribution === 'bernoulli' && blocks.every((b) => b[0]! >= 0.5)) blocks[0] = [0.25];
        const a = createAggregator('rlw', options).aggregate(g, { losses, random: replay(blocks.flat()) });
        const b = createAggregator('rlw', options).aggregate(permuteRows(g, perm), { losses: permute(losses, perm), random: replay(permute(blocks, perm).flat()) });
        expectPermuted(`rlw ${JSON.stringify(options)} T=${T}`, a, b, perm, 1e-12);
        const same = rlw(options).weigh({ losses: permute(losses, perm), random: replay(blocks.flat()) });
        close('rlw same raw draws', same.weights, a.weights, 1e-15);
      }
    });
  }
});
