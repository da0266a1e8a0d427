import { MtlError, aggregatorRule, lossWeightingRule, tf, type GradientSpace, type Matrix, type Optimizer, type UpdateRule } from '@mtl/core';
import { invalidOption } from '@mtl/core/internal';
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
  /**
   * Methods defined on G Gᵀ only (those with `fromGramian`): compute the T x T Gramian and the
   * direction weightsᵀ G with the backend's matMul where the Jacobian lives, so only T² numbers
   * reach the method — no T x P algebra in JS (TorchJD's idea). Default false. The Gramian is then
   * accumulated in float32 (the Jacobian's precision) instead of float64: results agree with the
   * default path to float32 rounding.
   */
  readonly gramian?: boolean;
}

/**
 * A method as an {@link UpdateRule}: loss weightings use one weighted backward pass (core's
 * `lossWeightingRule`); aggregators run on the per-task Jacobian (core's `aggregatorRule`, which also
 * applies the method's `headWeights`). Each step the method also sees the trainer's optimizer
 * (`input.optimizer`: its rule and current learning rate), which UW, GradNorm and IMTL-L use for
 * their own parameters by default.
 */
export function toUpdateRule(method: Aggregator<unknown> | Weighting<unknown>, options: RuleOptions = {}): UpdateRule {
  if (options.gramian !== undefined && typeof options.gramian !== 'boolean') invalidOption('gramian', options.gramian, 'a boolean');
  if (options.gramian) {
    if ('weigh' in method || !method.fromGramian) {
      throw new MtlError('INVALID_OPTION', `"${method.name}" is not defined on the Gramian G Gᵀ alone, so it has no gramian path`, { option: 'gramian', method: method.name });
    }
    if (options.representationForm === 'batch-sum') invalidOption('representationForm', 'batch-sum', "'per-sample' with gramian: true");
    return gramianRule(method, options.space ?? method.space ?? 'parameters');
  }
  if (!('weigh' in method) && method.samples && method.aggregateSamples) {
    if (options.representationForm === 'batch-sum' || (options.space ?? 'parameters') !== 'parameters') {
      throw new MtlError('INVALID_OPTION', `"${method.name}" samples parameter-space gradients on several batches; it has no representation form`, { option: 'space', method: method.name });
    }
    return sampledRule(method);
  }
  if ('weigh' in method && method.afterStep) return afterStepRule(method);
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

/** A loss weighting that also learns from the losses after the update (FAMO): one extra forward pass per step. */
function afterStepRule(method: Weighting<unknown>): UpdateRule {
  let state: unknown;
  return {
    name: method.name,
    step(ctx) {
      state ??= method.initialState(ctx.tasks.length);
      const input = { losses: ctx.losses(), step: ctx.step, epoch: ctx.epoch, random: () => ctx.random.next(), optimizer: describeOptimizer(ctx.optimizer) };
      const result = method.weigh(input, state);
      checkWeights(method.name, result.weights, ctx.tasks.length);
      ctx.applyGradients(ctx.weightedLossGradients(result.weights));
      state = method.afterStep!({ losses: ctx.evaluateLosses() }, result.state);
      return { weights: [...result.weights] };
    },
    getState: () => state,
    setState: (s) => {
      state = s;
    },
  };
}

/**
 * A method that needs several gradient samples per step (MoDo, SDMGrad): the step's batch plus
 * `samples − 1` batches from `ctx.nextTrainingBatch()`, each with its own per-task Jacobian. The
 * shared parameters get the method's direction; each head the mean of its own gradient over the
 * sampled batches.
 */
function sampledRule(method: Aggregator<unknown>): UpdateRule {
  let state: unknown;
  const samples = method.samples!;
  return {
    name: method.name,
    step(ctx) {
      const T = ctx.tasks.length;
      state ??= method.initialState(T);
      const contexts = [ctx, ...Array.from({ length: samples - 1 }, () => ctx.withBatch(ctx.nextTrainingBatch()))];
      const gradients = contexts.map((c) => c.taskGradients('parameters'));
      const jacobians: Matrix[] = gradients.map((g) => ({ rows: g.jacobian.shape[0], cols: g.jacobian.shape[1], data: g.jacobian.dataSync() as Float32Array }));
      const input = { losses: ctx.losses(), step: ctx.step, epoch: ctx.epoch, random: () => ctx.random.next(), optimizer: describeOptimizer(ctx.optimizer) };
      const result = method.aggregateSamples!(jacobians, input, state);
      checkWeights(method.name, result.weights, T);
      state = result.state;
      const grads = new Map(ctx.gradientsFromDirection(result.direction, { headWeights: new Array<number>(T).fill(0) }));
      const created: tf.Tensor[] = [];
      for (const task of ctx.tasks) {
        const own = gradients.map((g) => g.taskSpecific.get(task.name));
        for (const key of own[0]?.keys() ?? []) {
          const parts = own.map((m) => m?.get(key)).filter((x): x is tf.Tensor => x !== undefined);
          const mean = tf.tidy(() => tf.div(tf.addN(parts), parts.length));
          created.push(mean);
          grads.set(key, mean);
        }
      }
      try {
        ctx.applyGradients(grads);
      } finally {
        for (const t of created) t.dispose();
      }
      return { weights: [...result.weights] };
    },
    getState: () => state,
    setState: (s) => {
      state = s;
    },
  };
}

function checkWeights(method: string, weights: readonly number[], numTasks: number): void {
  if (weights.length !== numTasks || !weights.every(Number.isFinite)) {
    throw new MtlError('NON_FINITE_GRADIENT', `"${method}" returned ${weights.length} weights for ${numTasks} tasks (finite: ${weights.every(Number.isFinite)})`, { method, expected: numTasks });
  }
}

/** A rule for a method with `fromGramian`: G Gᵀ and weightsᵀ G on the backend, the method on T² numbers. */
function gramianRule(method: Aggregator<unknown>, space: GradientSpace): UpdateRule {
  let state: unknown;
  const fromGramian = method.fromGramian!.bind(method);
  return {
    name: method.name,
    step(ctx) {
      const T = ctx.tasks.length;
      state ??= method.initialState(T);
      const { jacobian } = ctx.taskGradients(space);
      const gramian = tf.tidy(() => tf.matMul(jacobian, jacobian, false, true).dataSync());
      const input = { losses: ctx.losses(), step: ctx.step, epoch: ctx.epoch, random: () => ctx.random.next(), optimizer: describeOptimizer(ctx.optimizer) };
      const result = fromGramian({ rows: T, cols: T, data: Float64Array.from(gramian) }, input, state);
      const weights = result.weights;
      checkWeights(method.name, weights, T);
      state = result.state;
      const direction = tf.tidy(() => tf.reshape<tf.Rank.R1>(tf.matMul(tf.tensor2d([...weights], [1, T]), jacobian), [jacobian.shape[1]]));
      try {
        ctx.applyGradients(ctx.gradientsFromDirection(direction, result.headWeights ? { space, headWeights: result.headWeights } : { space }));
      } finally {
        direction.dispose();
      }
      return { weights: [...weights] };
    },
    getState: () => state,
    setState: (s) => {
      state = s;
    },
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
  return { ...config, learningRate: optimizer.learningRate };
}
