import { MtlError } from '@mtl/core';
import { describeValue, invalidOption, isArray, requireFiniteNumber, requireNonNegativeInteger, requirePositiveInteger } from '@mtl/core/internal';
import { NumpyRandomState } from './numpy-random.js';

export interface AffinityPropagationOptions {
  /**
   * Each point's preference to be an exemplar (the diagonal of the similarity matrix during the
   * iterations): one number for all points or one per point. Default: the median of the whole
   * matrix, diagonal included (scikit-learn).
   */
  readonly preference?: number | readonly number[];
  /** Weight of the previous message in each update, in [0.5, 1). Default 0.5. */
  readonly damping?: number;
  /** Iterations the set of exemplars must stay the same to stop. Default 15 (scikit-learn). */
  readonly convergenceIter?: number;
  /** Iteration budget. Default 200. */
  readonly maxIter?: number;
  /**
   * scikit-learn's `random_state`: seed (0 … 2³² − 1) of the tiny noise `(ε·S + 100·tiny)·N(0, 1)`
   * that removes degeneracies (ties of a symmetric matrix), drawn from the same stream as NumPy's
   * `RandomState(seed).standard_normal`. Default 0.
   */
  readonly seed?: number;
}

export interface AffinityPropagationResult {
  /** Cluster of each point, 0..K−1 numbered in the order of the exemplars; all −1 when no exemplar was found. */
  readonly labels: number[];
  /** Index of each cluster's exemplar, increasing. Empty when no exemplar was found. */
  readonly exemplars: number[];
  /**
   * Whether the exemplars stayed fixed for `convergenceIter` iterations within `maxIter`. When false
   * the labels may still be given (scikit-learn warns "may return degenerate cluster centers") or be
   * all −1 (no exemplar at all). True for the degenerate inputs answered without iterating (one point,
   * or all similarities and preferences equal).
   */
  readonly converged: boolean;
  /** Iterations run (0 for the degenerate inputs). */
  readonly iterations: number;
}

const OPTION_KEYS = new Set(['preference', 'damping', 'convergenceIter', 'maxIter', 'seed']);
const EPS = 2 ** -52;
const TINY = 2 ** -1022;

/**
 * Affinity Propagation (Frey & Dueck, 2007) on a precomputed similarity matrix, in float64, with the
 * semantics, defaults and outputs of scikit-learn's `affinity_propagation`
 * (`sklearn/cluster/_affinity_propagation.py`): responsibilities and availabilities with damping,
 * convergence when every point's exemplar status is unchanged for `convergenceIter` iterations and
 * at least one exemplar exists, then each cluster's exemplar refined to the member with the largest
 * summed similarity to the others, labels numbered by increasing exemplar index.
 *
 * Special cases as in scikit-learn: a single point, or a matrix whose off-diagonal similarities are
 * all equal with all preferences equal, is answered without iterating: one cluster per point when
 * the preference exceeds the similarity, else one cluster (exemplar 0). When the iterations do not
 * converge the labels found at the last iteration are returned with `converged: false`; with no
 * exemplar at all the labels are all −1 and `exemplars` is empty.
 *
 * The degeneracy noise is NumPy's `RandomState(seed)` stream, so the result equals scikit-learn's
 * `affinity_propagation(S, random_state=seed)` (up to the last bits of `log`; scikit-learn's own
 * default `random_state=None` draws from NumPy's global generator instead).
 */
export function affinityPropagation(similarity: readonly (readonly number[])[], options: AffinityPropagationOptions = {}): AffinityPropagationResult {
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) invalidOption(key, (options as Record<string, unknown>)[key], `a known option (${[...OPTION_KEYS].join(', ')})`);
  }
  const n = checkSquare(similarity);
  const damping = requireFiniteNumber('damping', options.damping ?? 0.5, { min: 0.5, max: 1 });
  if (damping >= 1) invalidOption('damping', damping, 'a number in [0.5, 1)');
  const convergenceIter = requirePositiveInteger('convergenceIter', options.convergenceIter ?? 15);
  const maxIter = requirePositiveInteger('maxIter', options.maxIter ?? 200);
  const seed = requireNonNegativeInteger('seed', options.seed ?? 0);
  if (seed > 0xffffffff) invalidOption('seed', seed, 'an integer in [0, 2^32 − 1]');

  const S = new Float64Array(n * n);
  similarity.forEach((row, i) => row.forEach((v, j) => (S[i * n + j] = v)));
  const preference = preferences(options.preference, S, n);

  if (n === 1 || allEqual(S, n, preference)) {
    // scikit-learn compares the first preference with S[0, n−1] (for n = 1 both branches agree).
    const separate = n > 1 && preference[0]! > S[n - 1]!;
    return separate
      ? { labels: range(n), exemplars: range(n), converged: true, iterations: 0 }
      : { labels: new Array<number>(n).fill(0), exemplars: [0], converged: true, iterations: 0 };
  }

  for (let i = 0; i < n; i++) S[i * n + i] = preference[i]!;
  const noise = new NumpyRandomState(seed);
  for (let k = 0; k < n * n; k++) S[k] = S[k]! + (EPS * S[k]! + TINY * 100) * noise.standardNormal();

  const { exemplarMask, converged, iterations } = iterate(S, n, damping, convergenceIter, maxIter);
  const found: number[] = [];
  exemplarMask.forEach((isExemplar, i) => isExemplar && found.push(i));
  if (found.length === 0) return { labels: new Array<number>(n).fill(-1), exemplars: [], converged: false, iterations };
  const { labels, exemplars } = assignClusters(S, n, found);
  return { labels, exemplars, converged, iterations };
}

/** The message passing; returns which points are exemplars at the last iteration. */
function iterate(S: Float64Array, n: number, damping: number, convergenceIter: number, maxIter: number) {
  const A = new Float64Array(n * n);
  const R = new Float64Array(n * n);
  const tmp = new Float64Array(n * n);
  const history = new Uint8Array(n * convergenceIter);
  const exemplarMask = new Array<boolean>(n).fill(false);
  let it = 0;
  for (; it < maxIter; it++) {
    // Responsibilities: r(i,k) = s(i,k) − max_{k'≠k} (a(i,k') + s(i,k')).
    for (let i = 0; i < n; i++) {
      let best = 0;
      let first = -Infinity;
      let second = -Infinity;
      for (let k = 0; k < n; k++) {
        const v = A[i * n + k]! + S[i * n + k]!;
        if (v > first) {
          second = first;
          first = v;
          best = k;
        } else if (v > second) second = v;
      }
      for (let k = 0; k < n; k++) {
        const fresh = S[i * n + k]! - (k === best ? second : first);
        R[i * n + k] = damping * R[i * n + k]! + (1 - damping) * fresh;
      }
    }
    // Availabilities: a(i,k) = min(0, r(k,k) + Σ_{i'∉{i,k}} max(0, r(i',k))), a(k,k) = Σ_{i'≠k} max(0, r(i',k)).
    for (let k = 0; k < n; k++) {
      let column = 0;
      for (let i = 0; i < n; i++) {
        const rp = i === k ? R[k * n + k]! : Math.max(R[i * n + k]!, 0);
        tmp[i * n + k] = rp;
        column += rp;
      }
      for (let i = 0; i < n; i++) {
        const negated = tmp[i * n + k]! - column; // −a_new(i,k) before clipping
        const value = i === k ? negated : Math.max(negated, 0);
        A[i * n + k] = damping * A[i * n + k]! - (1 - damping) * value;
      }
    }
    let count = 0;
    for (let i = 0; i < n; i++) {
      exemplarMask[i] = A[i * n + i]! + R[i * n + i]! > 0;
      history[i * convergenceIter + (it % convergenceIter)] = exemplarMask[i] ? 1 : 0;
      if (exemplarMask[i]) count++;
    }
    if (it >= convergenceIter) {
      let stable = 0;
      for (let i = 0; i < n; i++) {
        let seen = 0;
        for (let c = 0; c < convergenceIter; c++) seen += history[i * convergenceIter + c]!;
        if (seen === 0 || seen === convergenceIter) stable++;
      }
      if (stable === n && count > 0) return { exemplarMask, converged: true, iterations: it + 1 };
    }
  }
  return { exemplarMask, converged: false, iterations: it };
}

/** Nearest exemplar per point, each cluster's exemplar refined, labels renumbered by exemplar index. */
function assignClusters(S: Float64Array, n: number, initial: readonly number[]): { labels: number[]; exemplars: number[] } {
  const exemplars = [...initial];
  let cluster = nearest(S, n, exemplars);
  for (let k = 0; k < exemplars.length; k++) {
    const members = range(n).filter((i) => cluster[i] === k);
    let bestMember = members[0]!;
    let bestSum = -Infinity;
    for (const j of members) {
      let sum = 0;
      for (const i of members) sum += S[i * n + j]!;
      if (sum > bestSum) {
        bestSum = sum;
        bestMember = j;
      }
    }
    exemplars[k] = bestMember;
  }
  cluster = nearest(S, n, exemplars);
  const exemplarOf = cluster.map((k) => exemplars[k]!);
  const sorted = [...new Set(exemplarOf)].sort((a, b) => a - b);
  return { labels: exemplarOf.map((e) => sorted.indexOf(e)), exemplars: sorted };
}

/** argmax_k S[i, exemplars[k]] (first on ties), with each exemplar forced into its own cluster. */
function nearest(S: Float64Array, n: number, exemplars: readonly number[]): number[] {
  const cluster = range(n).map((i) => {
    let best = 0;
    for (let k = 1; k < exemplars.length; k++) if (S[i * n + exemplars[k]!]! > S[i * n + exemplars[best]!]!) best = k;
    return best;
  });
  exemplars.forEach((e, k) => (cluster[e] = k));
  return cluster;
}

function checkSquare(similarity: readonly (readonly number[])[]): number {
  if (!isArray(similarity) || similarity.length === 0) {
    throw new MtlError('SHAPE_MISMATCH', `the similarity matrix must be a non-empty square array, got ${describeValue(similarity)}`, { value: describeValue(similarity) });
  }
  const n = similarity.length;
  similarity.forEach((row, i) => {
    if (!isArray(row) || row.length !== n) {
      throw new MtlError('SHAPE_MISMATCH', `row ${i} of the similarity matrix has ${isArray(row) ? row.length : describeValue(row)} entries, expected ${n} (a square matrix)`, {
        row: i,
        expected: n,
        actual: isArray(row) ? row.length : describeValue(row),
      });
    }
    row.forEach((v, j) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new MtlError('INVALID_DATA', `similarity[${i}][${j}] is ${describeValue(v)}; similarities must be finite numbers`, { row: i, column: j, value: describeValue(v) });
      }
    });
  });
  return n;
}

function preferences(option: number | readonly number[] | undefined, S: Float64Array, n: number): Float64Array {
  if (option === undefined) return new Float64Array(n).fill(median(S));
  if (typeof option === 'number') return new Float64Array(n).fill(requireFiniteNumber('preference', option));
  if (!isArray(option) || option.length !== n) invalidOption('preference', option, `a finite number or an array of ${n} finite numbers`);
  return Float64Array.from(option, (v, i) => requireFiniteNumber(`preference[${i}]`, v));
}

/** NumPy's median: the mean of the two middle values for an even count. */
function median(values: Float64Array): number {
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** scikit-learn's `_equal_similarities_and_preferences`: all preferences equal and all off-diagonal similarities equal. */
function allEqual(S: Float64Array, n: number, preference: Float64Array): boolean {
  if (!preference.every((p) => p === preference[0])) return false;
  const first = S[1]!;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j && S[i * n + j] !== first) return false;
  return true;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
