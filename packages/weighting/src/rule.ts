import { aggregatorRule, lossWeightingRule, type GradientSpace, type Optimizer, type UpdateRule } from '@mtl/core';
import type { Aggregator, TrainerOptimizer, Weighting } from './types.js';

/**
 * A method as an {@link UpdateRule}: loss weightings use one weighted backward pass (core's
 * `lossWeightingRule`); aggregators run on the per-task Jacobian (core's `aggregatorRule`, which also
 * applies the method's `headWeights`). Each step the method also sees the trainer's optimizer
 * (`input.optimizer`: its rule and current learning rate), which UW, GradNorm and IMTL-L use for
 * their own parameters by default.
 */
export function toUpdateRule(method: Aggregator<unknown> | Weighting<unknown>, options: { space?: GradientSpace } = {}): UpdateRule {
  let current: TrainerOptimizer | undefined;
  const withOptimizer = <I extends object>(input: I): I => (current ? { ...input, optimizer: current } : input);
  const inner =
    'weigh' in method
      ? lossWeightingRule({ ...method, weigh: (input, state) => method.weigh(withOptimizer(input), state) })
      : aggregatorRule({ ...method, aggregate: (g, input, state) => method.aggregate(g, withOptimizer(input), state) }, options);
  const rule: UpdateRule = {
    name: inner.name,
    step(ctx) {
      current = describeOptimizer(ctx.optimizer);
      try {
        return inner.step(ctx);
      } finally {
        current = undefined;
      }
    },
  };
  return {
    ...rule,
    ...(inner.getState ? { getState: () => inner.getState!() } : {}),
    ...(inner.setState ? { setState: (s: unknown) => inner.setState!(s) } : {}),
    ...(inner.dispose ? { dispose: () => inner.dispose!() } : {}),
  };
}

/** The trainer's optimizer as plain numbers: its configuration with the learning rate in force now (schedules). */
export function describeOptimizer(optimizer: Optimizer): TrainerOptimizer {
  const { config } = optimizer;
  return { ...config, learningRate: optimizer.learningRate } as TrainerOptimizer;
}
