import { describe, expect, it } from 'vitest';
import { SeededRandom, isMtlError } from '@mtl/core';
import { affinityPropagation } from '../src/index.js';
import { NumpyRandomState } from '../src/numpy-random.js';

describe("NumPy's RandomState stream (the degeneracy noise)", () => {
  it('reproduces np.random.RandomState(0).standard_normal and .random_sample, and seed 42', () => {
    // Published values: np.random.seed(0); np.random.randn(6) and np.random.rand(2); np.random.seed(42); np.random.randn(2).
    const zero = new NumpyRandomState(0);
    const expected = [1.764052345967664, 0.4001572083672233, 0.9787379841057392, 2.240893199201458, 1.8675579901499675, -0.977277879876411];
    for (const v of expected) expect(zero.standardNormal()).toBeCloseTo(v, 12);
    const uniform = new NumpyRandomState(0);
    expect(uniform.nextDouble()).toBeCloseTo(0.5488135039273248, 15);
    expect(uniform.nextDouble()).toBeCloseTo(0.7151893663724195, 15);
    const fortyTwo = new NumpyRandomState(42);
    expect(fortyTwo.standardNormal()).toBeCloseTo(0.4967141530112327, 12);
    expect(fortyTwo.standardNormal()).toBeCloseTo(-0.13826430117118466, 12);
  });
});

/** Negative squared distances of points on a line. */
const negSqDist = (xs: readonly number[]) => xs.map((a) => xs.map((b) => -((a - b) ** 2)));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isMtlError(error) ? error.code : `not an MtlError: ${String(error)}`;
  }
  return undefined;
}

describe('affinityPropagation: hand-made cases', () => {
  it('finds two well-separated clusters with the median preference, exemplars at the medoids', () => {
    // Points 0, 1, 3 | 10, 11, 13. Of the 36 entries, 18 cross-cluster ones are ≤ −49, 12 within ones
    // are −1, −4, −9, 6 diagonal ones are 0: the median (mean of the 18th and 19th) is (−49 − 9)/2 = −29.
    // Joining a cluster costs ≤ 9 < 29, crossing costs ≥ 49 > 29: two clusters. Within {0, 1, 3} point
    // 1 has the smallest summed squared distance (1 + 4 = 5 vs 10 and 13): exemplars 1 and 4.
    const result = affinityPropagation(negSqDist([0, 1, 3, 10, 11, 13]));
    expect(result.labels).toEqual([0, 0, 0, 1, 1, 1]);
    expect(result.exemplars).toEqual([1, 4]);
    expect(result.converged).toBe(true);
  });

  it('labels are numbered by exemplar index, whatever the order of the points', () => {
    // Same points, interleaved: 10, 0, 11, 1, 13, 3 → the medoids 1 and 11 sit at indices 3 and 2.
    const result = affinityPropagation(negSqDist([10, 0, 11, 1, 13, 3]));
    expect(result.exemplars).toEqual([2, 3]);
    expect(result.labels).toEqual([0, 1, 0, 1, 0, 1]);
  });

  it('a preference above every similarity makes each point its own exemplar', () => {
    // Being an exemplar gains 100; joining another point gains at most 0.
    const result = affinityPropagation(negSqDist([0, 1, 3, 10]), { preference: 100 });
    expect(result.labels).toEqual([0, 1, 2, 3]);
    expect(result.exemplars).toEqual([0, 1, 2, 3]);
  });

  it('a very low preference gives one cluster around the medoid', () => {
    // Preference −1000: one exemplar is cheapest. Summed squared distances to the others: point 0: 110,
    // point 1: 86, point 3: 62, point 10: 230, so the medoid is point 3 (index 2).
    const result = affinityPropagation(negSqDist([0, 1, 3, 10]), { preference: -1000 });
    expect(result.labels).toEqual([0, 0, 0, 0]);
    expect(result.exemplars).toEqual([2]);
  });

  it('all-equal similarities and preferences: one cluster unless the preference exceeds the similarity', () => {
    const S = [
      [1, 0.5, 0.5],
      [0.5, 1, 0.5],
      [0.5, 0.5, 1],
    ];
    // Median of six 0.5 and three 1 is 0.5, not > S[0][2] = 0.5: one cluster, exemplar 0.
    expect(affinityPropagation(S)).toEqual({ labels: [0, 0, 0], exemplars: [0], converged: true, iterations: 0 });
    expect(affinityPropagation(S, { preference: 0.7 })).toEqual({ labels: [0, 1, 2], exemplars: [0, 1, 2], converged: true, iterations: 0 });
    // Equal to the similarity is not above it.
    expect(affinityPropagation(S, { preference: 0.5 }).exemplars).toEqual([0]);
    // Unequal preferences: not the special case, the iterations run.
    expect(affinityPropagation(S, { preference: [1, 1, 2] }).iterations).toBeGreaterThan(0);
  });

  it('one point is its own cluster', () => {
    expect(affinityPropagation([[5]])).toEqual({ labels: [0], exemplars: [0], converged: true, iterations: 0 });
  });

  it('not converged but exemplars found: labels returned, converged false', () => {
    // One iteration (A = 0, damping 0.5): r(k,k) = ½(100 − max_{k'≠k} s(k,k')) > 0 and a(k,k) ≥ 0, so
    // every point is an exemplar; convergence is only checked from iteration convergenceIter on.
    const result = affinityPropagation(negSqDist([0, 1, 3]), { preference: 100, maxIter: 1 });
    expect(result).toEqual({ labels: [0, 1, 2], exemplars: [0, 1, 2], converged: false, iterations: 1 });
  });

  it('not converged and no exemplar: labels all −1, no exemplars', () => {
    // One iteration with preference −100: r(k,k) = ½(−100 − max off-diagonal) ≤ −50 while
    // a(k,k) = ½ Σ max(0, r(i,k)) ≤ ½ · 2 · ½ · 8 (the largest gap of off-diagonal entries in a row): no exemplar.
    const result = affinityPropagation(negSqDist([0, 1, 3]), { preference: -100, maxIter: 1 });
    expect(result).toEqual({ labels: [-1, -1, -1], exemplars: [], converged: false, iterations: 1 });
  });

  it('rejects bad input with typed errors', () => {
    expect(codeOf(() => affinityPropagation([[0, 1]]))).toBe('SHAPE_MISMATCH');
    expect(codeOf(() => affinityPropagation([]))).toBe('SHAPE_MISMATCH');
    expect(codeOf(() => affinityPropagation([[0, NaN], [1, 0]]))).toBe('INVALID_DATA');
    expect(codeOf(() => affinityPropagation([[0]], { damping: 1 }))).toBe('INVALID_OPTION');
    expect(codeOf(() => affinityPropagation([[0]], { damping: 0.4 }))).toBe('INVALID_OPTION');
    expect(codeOf(() => affinityPropagation([[0]], { maxIter: 0 }))).toBe('INVALID_OPTION');
    expect(codeOf(() => affinityPropagation([[0]], { preference: [1, 2] }))).toBe('INVALID_OPTION');
    expect(codeOf(() => affinityPropagation([[0]], { convergence_iter: 3 } as never))).toBe('INVALID_OPTION');
  });
});

/**
 * A line-by-line transcription of scikit-learn's `_affinity_propagation` (NumPy operations written
 * out on arrays of arrays), with the degeneracy noise of `random_state=0`: NumPy's
 * `RandomState(0).standard_normal((n, n))`, row-major (symmetric inputs oscillate without it, so
 * the outcome depends on it).
 */
function sklearnReference(Sin: number[][], preference: number | undefined, damping: number, convergenceIter: number, maxIter: number) {
  const n = Sin.length;
  const S = Sin.map((r) => [...r]);
  const flat = S.flat().sort((a, b) => a - b);
  const pref = preference ?? (flat.length % 2 ? flat[(flat.length - 1) / 2]! : (flat[flat.length / 2 - 1]! + flat[flat.length / 2]!) / 2);
  for (let i = 0; i < n; i++) S[i]![i] = pref;
  const noise = new NumpyRandomState(0);
  const eps = Number.EPSILON;
  const tiny = 2.2250738585072014e-308;
  for (const row of S) row.forEach((v, k) => (row[k] = v + (eps * v + tiny * 100) * noise.standardNormal()));
  const zeros = () => Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const A = zeros();
  const R = zeros();
  const e = Array.from({ length: n }, () => new Array<number>(convergenceIter).fill(0));
  const argmax = (row: readonly number[]) => row.reduce((best, v, i) => (v > row[best]! ? i : best), 0);
  let E: boolean[] = new Array<boolean>(n).fill(false);
  let neverConverged = true;
  for (let it = 0; it < maxIter; it++) {
    const tmp = A.map((row, i) => row.map((a, k) => a + S[i]![k]!));
    const I = tmp.map(argmax);
    const Y = tmp.map((row, i) => row[I[i]!]!);
    tmp.forEach((row, i) => (row[I[i]!] = -Infinity));
    const Y2 = tmp.map((row) => Math.max(...row));
    const Rnew = S.map((row, i) => row.map((s) => s - Y[i]!));
    I.forEach((k, i) => (Rnew[i]![k] = S[i]![k]! - Y2[i]!));
    for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) R[i]![k] = R[i]![k]! * damping + Rnew[i]![k]! * (1 - damping);
    const Rp = R.map((row, i) => row.map((r, k) => (i === k ? r : Math.max(r, 0))));
    const colSum = Array.from({ length: n }, (_, k) => Rp.reduce((s, row) => s + row[k]!, 0));
    const negA = Rp.map((row) => row.map((v, k) => v - colSum[k]!));
    const dA = negA.map((row, i) => row[i]!);
    const clipped = negA.map((row, i) => row.map((v, k) => (i === k ? dA[i]! : Math.max(v, 0))));
    for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) A[i]![k] = A[i]![k]! * damping - clipped[i]![k]! * (1 - damping);
    E = A.map((row, i) => row[i]! + R[i]![i]! > 0);
    E.forEach((v, i) => (e[i]![it % convergenceIter] = v ? 1 : 0));
    const K = E.filter(Boolean).length;
    if (it >= convergenceIter) {
      const se = e.map((row) => row.reduce((a, b) => a + b, 0));
      const unconverged = se.filter((v) => v === convergenceIter || v === 0).length !== n;
      if (!unconverged && K > 0) {
        neverConverged = false;
        break;
      }
    }
  }
  const I = E.flatMap((v, i) => (v ? [i] : []));
  const K = I.length;
  if (K === 0) return { labels: new Array<number>(n).fill(-1), exemplars: [] as number[], converged: false };
  let c = S.map((row) => argmax(I.map((k) => row[k]!)));
  I.forEach((ex, k) => (c[ex] = k));
  for (let k = 0; k < K; k++) {
    const ii = c.flatMap((v, i) => (v === k ? [i] : []));
    const sums = ii.map((j) => ii.reduce((s, i) => s + S[i]![j]!, 0));
    I[k] = ii[argmax(sums)]!;
  }
  c = S.map((row) => argmax(I.map((k) => row[k]!)));
  I.forEach((ex, k) => (c[ex] = k));
  const labelsAsIndices = c.map((k) => I[k]!);
  const centers = [...new Set(labelsAsIndices)].sort((a, b) => a - b);
  return { labels: labelsAsIndices.map((v) => centers.indexOf(v)), exemplars: centers, converged: !neverConverged };
}

describe('affinityPropagation: against a transcription of scikit-learn on random matrices', () => {
  const rng = new SeededRandom(2024);
  const cases: { S: number[][]; preference?: number; damping: number; convergenceIter: number; maxIter: number; label: string }[] = [];
  for (let c = 0; c < 40; c++) {
    const n = 3 + (c % 10);
    const points = Array.from({ length: n }, () => [rng.normal() * 3, rng.normal() * 3]);
    const distances = points.map((p) => points.map((q) => -((p[0]! - q[0]!) ** 2 + (p[1]! - q[1]!) ** 2)));
    const asymmetric = Array.from({ length: n }, () => Array.from({ length: n }, () => rng.normal()));
    const S = c % 3 === 2 ? asymmetric : distances;
    const preference = c % 4 === 1 ? -5 * rng.next() : undefined;
    const damping = c % 5 === 3 ? 0.9 : 0.5;
    const convergenceIter = c % 2 ? 50 : 15;
    cases.push({ S, ...(preference === undefined ? {} : { preference }), damping, convergenceIter, maxIter: c % 7 === 6 ? 20 : 200, label: `case ${c}: n=${n}` });
  }
  it.each(cases)('$label', ({ S, preference, damping, convergenceIter, maxIter }) => {
    const expected = sklearnReference(S, preference, damping, convergenceIter, maxIter);
    const actual = affinityPropagation(S, { ...(preference === undefined ? {} : { preference }), damping, convergenceIter, maxIter });
    expect({ labels: actual.labels, exemplars: actual.exemplars, converged: actual.converged }).toEqual(expected);
  });
});
