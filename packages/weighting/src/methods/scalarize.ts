import { MtlError } from '@mtl/core';
import { anyValue, checkOptions, invalidOption, requireFiniteNumber } from '@mtl/core/internal';
import { defineWeighting } from '../define.js';
import type { CommonOptions, Weighting } from '../types.js';

export interface ScalarizeOptions extends Omit<CommonOptions, 'normalize'> {
  /** One fixed weight per task, in task order (finite numbers). */
  readonly weights: readonly number[];
}

/** Linear scalarisation: the loss Σ_t w_t L_t with a fixed weight vector (not rescaled). */
export function scalarize(options: ScalarizeOptions): Weighting<null> {
  if (!options || !Array.isArray(options.weights) || options.weights.length === 0) {
    throw new MtlError('INVALID_OPTION', 'option "weights" must be a non-empty array of numbers', { option: 'weights' });
  }
  checkOptions(options, { weights: anyValue, seed: anyValue, random: anyValue }, 'scalarize()');
  // Σ w_t L_t with a negative weight would maximise that task's loss; all zeros trains nothing.
  const weights = options.weights.map((w, i) => requireFiniteNumber(`weights[${i}]`, w, { min: 0 }));
  if (!weights.some((w) => w > 0)) invalidOption('weights', options.weights, 'non-negative numbers, at least one of them positive');
  return defineWeighting<null>({
    name: 'scalarize',
    nativeScale: 'sum',
    initialState: () => null,
    compute: ({ losses }) => {
      if (losses.length !== weights.length) {
        throw new MtlError('SHAPE_MISMATCH', `"scalarize" has ${weights.length} weights for ${losses.length} tasks`, { expected: weights.length, actual: losses.length });
      }
      return { weights: [...weights], state: null };
    },
  });
}
