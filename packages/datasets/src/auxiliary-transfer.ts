import { SeededRandom, regressionTask, type MultiTaskDataset, type Task } from '@mtl/core';
import { invalidOption, requireFiniteNumber, requirePositiveInteger } from '@mtl/core/internal';
import { orthonormalPair, projectionDataset } from './synthetic-relatedness.js';

/** `'hurts'`: strong negative transfer (no λ > 0 helps); `'helps'`: a noisy, data-poor target rescued by a clean related auxiliary task. */
export type AuxiliaryTransferKind = 'hurts' | 'helps';

export interface AuxiliaryTransferOptions {
  /** Input dimension. Default 20. */
  readonly inputSize?: number;
  /** Angle between target and auxiliary weight vectors, in degrees, strictly between 0 and 90. Default 60 ('hurts'), 15 ('helps'). */
  readonly angle?: number;
  /** Label noise of the target task. Default 0.05 ('hurts'), 2 ('helps'). */
  readonly targetNoise?: number;
  /** Label noise of the auxiliary task. Default 0.05. */
  readonly auxiliaryNoise?: number;
  /** Examples per split. Default train 2000 ('hurts') or 40 ('helps'); validation and test 1000. */
  readonly sizes?: Partial<Record<'train' | 'validation' | 'test', number>>;
  readonly seed?: number;
}

export interface AuxiliaryTransferCase {
  readonly kind: AuxiliaryTransferKind;
  readonly train: MultiTaskDataset;
  readonly validation: MultiTaskDataset;
  readonly test: MultiTaskDataset;
  /** `[target, auxiliary]` regression tasks. */
  readonly tasks: readonly Task[];
  /** Unit weight vectors of the target and auxiliary labels. */
  readonly weights: { readonly target: Float64Array; readonly auxiliary: Float64Array };
  readonly noise: { readonly target: number; readonly auxiliary: number };
  /** The model the guarantee is about: a shared linear trunk of width 1 and linear heads. */
  readonly model: { readonly trunk: readonly number[]; readonly activation: 'linear' };
}

/**
 * Linear auxiliary-task learning cases with a known sign of transfer (ForkMerge's weak vs strong
 * negative transfer), for a model whose shared representation is one linear unit z = vᵀx and heads
 * ŷ_t = a_t z. Labels: y = wᵀx + ε with x ~ N(0, I), unit ‖w‖, tasks `target` and `auxiliary`.
 *
 * - `'hurts'`: clean target, auxiliary direction at `angle` (0° < θ < 90°). Population loss of the
 *   target is `σ² + 1 − (vᵀw_t)²`. Single-task training reaches v ∥ w_t. Training on
 *   L_t + λL_a puts v on the top singular vector of [w_t, √λ w_a], which lies strictly between w_t
 *   and w_a for every λ > 0 when 0° < θ < 90°. So the target loss is strictly worse for every λ > 0:
 *   strong negative transfer.
 * - `'helps'`: few, noisy target labels (σ_t = 2, n = 40, d = 20) and a clean auxiliary task at a
 *   small angle (15°). Alone, least squares pays about σ_t² d/(n − d − 1) ≈ 4.2 excess error. With the
 *   direction taken from the auxiliary task (large λ), only one head weight is fitted from the noisy
 *   labels: excess ≈ sin²θ + σ_t²/n ≈ 0.17. So the auxiliary task helps by a wide margin.
 */
export function auxiliaryTransferCase(kind: AuxiliaryTransferKind, options: AuxiliaryTransferOptions = {}): AuxiliaryTransferCase {
  if (kind !== 'hurts' && kind !== 'helps') invalidOption('kind', kind, '"hurts" or "helps"');
  const hurts = kind === 'hurts';
  const d = requirePositiveInteger('inputSize', options.inputSize ?? 20);
  if (d < 2) invalidOption('inputSize', d, 'at least 2');
  const angle = requireFiniteNumber('angle', options.angle ?? (hurts ? 60 : 15));
  if (!(angle > 0 && angle < 90)) invalidOption('angle', angle, 'an angle in degrees strictly between 0 and 90');
  const targetNoise = requireFiniteNumber('targetNoise', options.targetNoise ?? (hurts ? 0.05 : 2), { min: 0 });
  const auxiliaryNoise = requireFiniteNumber('auxiliaryNoise', options.auxiliaryNoise ?? 0.05, { min: 0 });
  const rng = new SeededRandom(options.seed ?? 0);
  const [u1, u2] = orthonormalPair(rng.fork('directions'), d);
  const theta = (angle * Math.PI) / 180;
  const target = u1;
  const auxiliary = u1.map((v, i) => Math.cos(theta) * v + Math.sin(theta) * u2[i]!);
  const make = (which: 'train' | 'validation' | 'test', fallback: number): MultiTaskDataset => {
    const n = requirePositiveInteger(`sizes.${which}`, options.sizes?.[which] ?? fallback);
    return projectionDataset(rng.fork(which), n, [target, auxiliary], ['target', 'auxiliary'], ([zt, za], r) => [
      zt + targetNoise * r.normal(),
      za + auxiliaryNoise * r.normal(),
    ]);
  };
  return {
    kind,
    train: make('train', hurts ? 2000 : 40),
    validation: make('validation', 1000),
    test: make('test', 1000),
    tasks: [regressionTask('target'), regressionTask('auxiliary')],
    weights: { target, auxiliary },
    noise: { target: targetNoise, auxiliary: auxiliaryNoise },
    model: { trunk: [1], activation: 'linear' },
  };
}
