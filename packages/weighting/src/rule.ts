import { aggregatorRule, lossWeightingRule, type GradientSpace, type UpdateRule } from '@mtl/core';
import type { Aggregator, Weighting } from './types.js';

/**
 * A method as an {@link UpdateRule}: loss weightings use one weighted backward pass (core's
 * `lossWeightingRule`); aggregators run on the per-task Jacobian (core's `aggregatorRule`, which also
 * applies the method's `headWeights`).
 */
export function toUpdateRule(method: Aggregator<unknown> | Weighting<unknown>, options: { space?: GradientSpace } = {}): UpdateRule {
  return 'weigh' in method ? lossWeightingRule(method) : aggregatorRule(method, options);
}
