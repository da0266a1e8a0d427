import { MtlError, aggregatorRule, lossWeightingRule, type GradientSpace, type Matrix, type Optimizer, type UpdateRule } from '@mtl/core';
import { combineRows } from './linalg/vector.js';
import { oneOf } from './validate.js';
import type { Aggregator, MethodAggregation, TrainerOptimizer, Weighting } from './types.js';

/**
 * How an aggregator sees the representation-space Jacobian (`space: 'representation'`):
 * 'per-sample' (default): every (sample, feature) is a column, the flattened batch x dim Jacobian
 * (Sener & Koltun's MGDA-UB bound); 'batch-sum': LibMTL's `rep_grad` — the weights come from the
 * T x dim Jacobian summed over the batch, and the direction is Σ_t w_t times each task's per-sample
 * representation gradient (`_backward_new_grads(weights, per_grads)`).
 */
export type RepresentationForm = 'per-sample' | 'batch-sum';

export interface RuleOptions {
  /** The Jacobian's space (default: the method's `space`, else 'parameters'). */
  readonly space?: GradientSpace;
  /** See {@link RepresentationForm}; only with `space: 'representation'`. Default 'per-sample'. */
  readonly representationForm?: RepresentationForm;
}

/**
 * A method as an {@link UpdateRule}: loss weightings use one weighted backward pass (core's
 * `lossWeightingRule`); aggregators run on the per-task Jacobian (core's `aggregatorRule`, which also
 * applies the method's `headWeights`). Each step the method also sees the trainer's optimizer
 * (`input.optimizer`: its rule and current learning rate), which UW, GradNorm and IMTL-L use for
 * their own parameters by default.
 */
export function toUpdateRule(method: Aggregator<unknown> | Weighting<unknown>, options: RuleOptions = {}): UpdateRule {
  const form = oneOf('representationForm', options.representationForm, ['per-sample', 'batch-sum'] as const, 'per-sample');
  const space = options.space ?? ('weigh' in method ? undefined : method.space) ?? 'parameters';
  if (form === 'batch-sum') {
    if (space !== 'representation') {
      throw new MtlError('INVALID_OPTION', `representationForm 'batch-sum' needs space 'representation' (got '${space}')`, { option: 'representationForm', value: form, space });
    }
    if (!('weigh' in method) && method.linear === false) {
      throw new MtlError('INVALID_OPTION', `"${method.name}" does not combine the rows with its weights, so it has no batch-summed (LibMTL rep_grad) form`, { option: 'representationForm', value: form, method: method.name });
    }
  }
  let current: TrainerOptimizer | undefined;
  let batch = 1;
  const withOptimizer = <I extends object>(input: I): I => (current ? { ...input, optimizer: current } : input);
  const aggregate = (agg: Aggregator<unknown>): Aggregator<unknown>['aggregate'] =>
    form === 'batch-sum'
      ? (g, input, state) => {
          const full = g as Matrix;
          const result: MethodAggregation<unknown> = agg.aggregate(sumOverBatch(full, batch), withOptimizer(input), state);
          return { ...result, direction: combineRows(result.weights, full) };
        }
      : (g, input, state) => agg.aggregate(g, withOptimizer(input), state);
  const inner =
    'weigh' in method
      ? lossWeightingRule({ ...method, weigh: (input, state) => method.weigh(withOptimizer(input), state) })
      : aggregatorRule({ ...method, aggregate: aggregate(method) }, options.space ? { space: options.space } : {});
  const rule: UpdateRule = {
    name: inner.name,
    step(ctx) {
      current = describeOptimizer(ctx.optimizer);
      // The per-task gradients are cached per step, so asking for the shape here costs nothing extra.
      if (form === 'batch-sum') batch = ctx.taskGradients('representation').representationShape?.[0] ?? 1;
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

/** The T x dim Jacobian Σ_b G[:, b, :] of a T x (batch · dim) representation Jacobian (LibMTL's `per_grads.sum(1)`). */
export function sumOverBatch(g: Matrix, batch: number): Matrix {
  if (!Number.isInteger(batch) || batch < 1 || g.cols % batch !== 0) {
    throw new MtlError('SHAPE_MISMATCH', `a representation Jacobian of ${g.cols} columns does not split into a batch of ${batch}`, { cols: g.cols, batch });
  }
  const dim = g.cols / batch;
  const out = new Float64Array(g.rows * dim);
  for (let t = 0; t < g.rows; t++) {
    for (let b = 0; b < batch; b++) {
      const offset = t * g.cols + b * dim;
      for (let d = 0; d < dim; d++) out[t * dim + d] = out[t * dim + d]! + g.data[offset + d]!;
    }
  }
  return { rows: g.rows, cols: dim, data: out };
}

/** The trainer's optimizer as plain numbers: its configuration with the learning rate in force now (schedules). */
export function describeOptimizer(optimizer: Optimizer): TrainerOptimizer {
  const { config } = optimizer;
  return { ...config, learningRate: optimizer.learningRate } as TrainerOptimizer;
}
