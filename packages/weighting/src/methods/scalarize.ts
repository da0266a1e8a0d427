import { MtlError, requireFiniteNumber } from '@mtl/core';
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
  const weights = options.weights.map((w, i) => requireFiniteNumber(`weights[${i}]`, w));
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
