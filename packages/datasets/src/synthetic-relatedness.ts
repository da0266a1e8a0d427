import { MtlError, SeededRandom, inMemoryDataset, regressionTask, type MultiTaskDataset, type Task } from '@mtl/core';
import { invalidOption, requireFiniteNumber, requirePositiveInteger } from '@mtl/core/internal';

export interface SyntheticRelatednessOptions {
  /** Cosine between the two tasks' weight vectors, in [−1, 1] (MMoE's p). Default 0.5. */
  readonly correlation?: number;
  /** Input dimension d. Default 100 (MMoE). */
  readonly inputSize?: number;
  /** Number m of sine terms. Default 10 (MMoE). */
  readonly sineTerms?: number;
  /** Norm c of both weight vectors. Default 1. */
  readonly scale?: number;
  /** Standard deviation of the label noise. Default 0.1 (MMoE: variance 0.01). */
  readonly noise?: number;
  /** Examples per split. Default `{ train: 8000, validation: 1000, test: 1000 }`. */
  readonly sizes?: Partial<Record<'train' | 'validation' | 'test', number>>;
  readonly seed?: number;
}

/** Splits of a two-task regression set with known weights. */
export interface SyntheticRelatedness {
  readonly train: MultiTaskDataset;
  readonly validation: MultiTaskDataset;
  readonly test: MultiTaskDataset;
  readonly tasks: readonly Task[];
  /** The weight vectors w1, w2 (‖w‖ = c, cos(w1, w2) = correlation). */
  readonly weights: readonly [Float64Array, Float64Array];
}

/**
 * Two regression tasks with controllable relatedness (Ma et al., MMoE, KDD 2018):
 * orthonormal u1, u2; w1 = c·u1, w2 = c·(p·u1 + √(1−p²)·u2); x ~ N(0, I_d);
 * y_i = w_iᵀx + Σ_k sin(α_k w_iᵀx + β_k) + ε_i with α_k, β_k ~ N(0, 1) shared by both tasks and
 * ε ~ N(0, noise²). With p = 1 the labels differ only by noise; the labels' Pearson correlation
 * falls as p falls (the sines make it lower than p).
 */
export function syntheticRelatedness(options: SyntheticRelatednessOptions = {}): SyntheticRelatedness {
  const p = requireFiniteNumber('correlation', options.correlation ?? 0.5, { min: -1, max: 1 });
  const d = requirePositiveInteger('inputSize', options.inputSize ?? 100);
  if (d < 2) invalidOption('inputSize', d, 'at least 2 (two orthogonal directions are needed)');
  const m = requireNonNegative('sineTerms', options.sineTerms ?? 10);
  const c = requireFiniteNumber('scale', options.scale ?? 1, { min: 0 });
  const noise = requireFiniteNumber('noise', options.noise ?? 0.1, { min: 0 });
  const rng = new SeededRandom(options.seed ?? 0);
  const [u1, u2] = orthonormalPair(rng.fork('directions'), d);
  const w1 = u1.map((v) => c * v);
  const w2 = u1.map((v, i) => c * (p * v + Math.sqrt(1 - p * p) * u2[i]!));
  const shape = rng.fork('sines');
  const alpha = Array.from({ length: m }, () => shape.normal());
  const beta = Array.from({ length: m }, () => shape.normal());
  const label = (z: number, r: SeededRandom) => z + alpha.reduce((s, a, k) => s + Math.sin(a * z + beta[k]!), 0) + noise * r.normal();
  const make = (which: 'train' | 'validation' | 'test', fallback: number): MultiTaskDataset => {
    const n = requirePositiveInteger(`sizes.${which}`, options.sizes?.[which] ?? fallback);
    return projectionDataset(rng.fork(which), n, [w1, w2], ['task1', 'task2'], ([z1, z2], r) => [label(z1, r), label(z2, r)]);
  };
  return {
    train: make('train', 8000),
    validation: make('validation', 1000),
    test: make('test', 1000),
    tasks: [regressionTask('task1'), regressionTask('task2')],
    weights: [w1, w2],
  };
}

/**
 * A two-task regression split: `n` inputs x ~ N(0, I) and, for each, the two tasks' targets computed
 * by `targets` from the projections z_k = w_k · x. Draws go example by example (the inputs, then
 * whatever `targets` draws), so a seed fixes the data.
 */
export function projectionDataset(
  r: SeededRandom,
  n: number,
  directions: readonly [ArrayLike<number>, ArrayLike<number>],
  names: readonly [string, string],
  targets: (z: readonly [number, number], r: SeededRandom) => readonly [number, number],
): MultiTaskDataset {
  const [w1, w2] = directions;
  const d = w1.length;
  const x = new Float32Array(n * d);
  const y1 = new Float32Array(n);
  const y2 = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let z1 = 0;
    let z2 = 0;
    for (let j = 0; j < d; j++) {
      const v = r.normal();
      x[i * d + j] = v;
      z1 += w1[j]! * v;
      z2 += w2[j]! * v;
    }
    [y1[i], y2[i]] = targets([z1, z2], r);
  }
  return inMemoryDataset({ x, inputShape: [d], targets: { [names[0]]: y1, [names[1]]: y2 } });
}

/** Two orthonormal random vectors (Gram–Schmidt on Gaussian draws). */
export function orthonormalPair(rng: SeededRandom, d: number): [Float64Array, Float64Array] {
  const a = Float64Array.from({ length: d }, () => rng.normal());
  const b = Float64Array.from({ length: d }, () => rng.normal());
  const na = Math.hypot(...a);
  a.forEach((v, i) => (a[i] = v / na));
  const dot = a.reduce((s, v, i) => s + v * b[i]!, 0);
  b.forEach((v, i) => (b[i] = v - dot * a[i]!));
  const nb = Math.hypot(...b);
  if (nb === 0) throw new MtlError('INVALID_DATA', 'degenerate random directions; use another seed', {});
  b.forEach((v, i) => (b[i] = v / nb));
  return [a, b];
}

function requireNonNegative(option: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) invalidOption(option, value, 'a non-negative integer');
  return value;
}
