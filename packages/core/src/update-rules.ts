import type { tf } from './tf.js';
import { MtlError, invalidOption } from './errors.js';
import type { GradientSpace, TaskGradients } from './gradients.js';
import type { MultiTaskModel } from './models/model.js';
import type { Batch } from './data.js';
import type { Task } from './tasks.js';
import type { Optimizer } from './optimizers.js';
import type { Parameter } from './parameters.js';
import type { SeededRandom } from './random.js';

/**
 * What an {@link UpdateRule} can ask for during one batch. Everything is lazy and cached: a rule
 * that only reads losses never pays for per-task gradients. Tensors handed out live until the end
 * of the step; the trainer frees them.
 */
export interface StepContext {
  /** Global step index, 0-based. */
  readonly step: number;
  readonly epoch: number;
  readonly model: MultiTaskModel;
  readonly tasks: readonly Task[];
  readonly batch: Batch;
  readonly optimizer: Optimizer;
  /** The rule's own seeded stream (restored on resume). */
  readonly random: SeededRandom;
  /** Per-task losses at the current parameters, in task order. Throws NON_FINITE_LOSS. */
  losses(): readonly number[];
  /** Per-task losses from a fresh forward pass at the parameters as they are now (not cached). */
  evaluateLosses(): readonly number[];
  /**
   * Runs `fn` with some parameters temporarily set to `values` (by key; e.g. from
   * `optimizer.preview`), then puts the exact previous values back. Lookahead affinity and IT-MTL
   * candidate scoring are built on it.
   */
  lookahead<T>(values: ReadonlyMap<string, tf.Tensor>, fn: () => T): T;
  /** Per-task gradients (cached per space). Throws NON_FINITE_LOSS. */
  taskGradients(space?: GradientSpace): TaskGradients;
  /** Gradients of Σ_t w_t L_t for every parameter, in one backward pass. */
  weightedLossGradients(weights: readonly number[]): Map<string, tf.Tensor>;
  /**
   * Full gradients from a direction for the shared parameters (in the space of `taskGradients(space)`)
   * plus each task's own-parameter gradient scaled by `headWeights[t]` (default 1: task-specific
   * parameters get their own task's plain gradient, as in LibMTL).
   */
  gradientsFromDirection(direction: tf.Tensor1D | Float32Array | Float64Array, options?: { space?: GradientSpace; headWeights?: readonly number[] }): Map<string, tf.Tensor>;
  /** Checks the gradients are finite, then steps the optimizer on `parameters` (default: all); frozen parameters never move. */
  applyGradients(grads: ReadonlyMap<string, tf.Tensor>, options?: { parameters?: readonly Parameter[]; lrScale?: number }): void;
}

export interface StepResult {
  /** The task weights the rule used this step, in task order (reported to callbacks). */
  readonly weights?: readonly number[];
  readonly info?: Readonly<Record<string, number>>;
}

/**
 * The extension point for "how one batch changes the model". Loss weightings, gradient
 * aggregators and whole custom rules (group updates, IT-MTL) all implement it. State returned by
 * `getState` must be JSON-serialisable: it goes into checkpoints.
 */
export interface UpdateRule {
  readonly name: string;
  step(ctx: StepContext): StepResult | void;
  getState?(): unknown;
  setState?(state: unknown): void;
  dispose?(): void;
}

/** A row-major dense matrix of plain numbers: the Jacobian as aggregators see it. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array | Float64Array;
}

export interface AggregationInput {
  /** Task losses of this batch, in row order. */
  readonly losses: readonly number[];
  readonly step: number;
  readonly epoch: number;
  /** Uniform [0, 1) draws; inject fixed draws to replay a step. */
  readonly random: () => number;
}

export interface Aggregation<S> {
  /** The update direction (a descent direction is subtracted by the optimizer), length `cols`. */
  readonly direction: Float32Array | Float64Array;
  /** The task weights the direction implies (`direction = weightsᵀ G` where the method is linear). */
  readonly weights: readonly number[];
  /** How much each task's own (head) gradient is scaled; default 1 each (LibMTL's convention). UW-PCGrad and IMTL-L set it. */
  readonly headWeights?: readonly number[];
  readonly state: S;
}

/**
 * A gradient aggregator (PCGrad, MGDA, CAGrad, ...): pure, so it is tested on plain matrices.
 * State is explicit and JSON-serialisable.
 */
export interface GradientAggregator<S = unknown> {
  readonly name: string;
  /** The Jacobian the method is defined on; default 'parameters'. */
  readonly space?: GradientSpace;
  initialState(numTasks: number): S;
  aggregate(jacobian: Matrix, input: AggregationInput, state: S): Aggregation<S>;
}

/** A loss weighting (EW, DWA, RLW, ...): losses in, task weights out; pure with explicit state. */
export interface LossWeighting<S = unknown> {
  readonly name: string;
  initialState(numTasks: number): S;
  weigh(input: AggregationInput, state: S): { readonly weights: readonly number[]; readonly state: S };
}

/** Plain arrays as a {@link Matrix}; checks every row has the same length. */
export function matrixFromRows(rows: readonly (readonly number[] | Float32Array | Float64Array)[]): Matrix {
  if (rows.length === 0) throw new MtlError('SHAPE_MISMATCH', 'a matrix needs at least one row', { rows: 0 });
  const cols = rows[0]!.length;
  const data = new Float64Array(rows.length * cols);
  rows.forEach((row, i) => {
    if (row.length !== cols) {
      throw new MtlError('SHAPE_MISMATCH', `row ${i} has ${row.length} entries, row 0 has ${cols}`, { row: i, expected: cols, actual: row.length });
    }
    data.set(row, i * cols);
  });
  return { rows: rows.length, cols, data };
}

/** The default rule: one backward pass of Σ_t w_t L_t (LibMTL's EW sums the losses: weights 1). */
export function weightedSum(weights?: Readonly<Record<string, number>>): UpdateRule {
  return {
    name: 'weighted-sum',
    step(ctx) {
      const w = ctx.tasks.map((t) => {
        const v = weights ? weights[t.name] : 1;
        if (v === undefined) return 0;
        if (!Number.isFinite(v) || v < 0) invalidOption(`weights.${t.name}`, v, 'a finite non-negative number');
        return v;
      });
      if (weights) {
        for (const name of Object.keys(weights)) {
          if (!ctx.tasks.some((t) => t.name === name)) {
            throw new MtlError('UNKNOWN_TASK', `weights name unknown task "${name}"`, { task: name, known: ctx.tasks.map((t) => t.name) });
          }
        }
      }
      ctx.applyGradients(ctx.weightedLossGradients(w));
      return { weights: w };
    },
  };
}

/** Runs a {@link LossWeighting} each step: weights from the losses, then one weighted backward. */
export function lossWeightingRule<S>(weighting: LossWeighting<S>): UpdateRule {
  let state: S | undefined;
  return {
    name: weighting.name,
    step(ctx) {
      state ??= weighting.initialState(ctx.tasks.length);
      const result = weighting.weigh(aggregationInput(ctx), state);
      checkWeights(weighting.name, result.weights, ctx.tasks.length);
      state = result.state;
      ctx.applyGradients(ctx.weightedLossGradients(result.weights));
      return { weights: result.weights };
    },
    getState: () => state,
    setState: (s) => {
      state = s as S;
    },
  };
}

/**
 * Runs a {@link GradientAggregator} each step: per-task Jacobian, aggregate on plain numbers, apply
 * the direction to the shared parameters; task-specific parameters get their own task's gradient,
 * scaled by the aggregation's `headWeights` when it has them.
 */
export function aggregatorRule<S>(aggregator: GradientAggregator<S>, options: { space?: GradientSpace } = {}): UpdateRule {
  const space = options.space ?? aggregator.space ?? 'parameters';
  let state: S | undefined;
  return {
    name: aggregator.name,
    step(ctx) {
      state ??= aggregator.initialState(ctx.tasks.length);
      const gradients = ctx.taskGradients(space);
      const [rows, cols] = gradients.jacobian.shape;
      const jacobian: Matrix = { rows, cols, data: gradients.jacobian.dataSync() as Float32Array };
      const result = aggregator.aggregate(jacobian, aggregationInput(ctx), state);
      checkWeights(aggregator.name, result.weights, ctx.tasks.length);
      if (result.direction.length !== cols) {
        throw new MtlError('SHAPE_MISMATCH', `aggregator "${aggregator.name}" returned a direction of ${result.direction.length} numbers for a Jacobian of ${cols} columns`, {
          aggregator: aggregator.name,
          expected: cols,
          actual: result.direction.length,
        });
      }
      if (result.headWeights) checkWeights(`${aggregator.name} head weights`, result.headWeights, ctx.tasks.length);
      state = result.state;
      ctx.applyGradients(ctx.gradientsFromDirection(result.direction, result.headWeights ? { space, headWeights: result.headWeights } : { space }));
      return { weights: result.weights };
    },
    getState: () => state,
    setState: (s) => {
      state = s as S;
    },
  };
}

function aggregationInput(ctx: StepContext): AggregationInput {
  return { losses: ctx.losses(), step: ctx.step, epoch: ctx.epoch, random: () => ctx.random.next() };
}

function checkWeights(method: string, weights: readonly number[], numTasks: number): void {
  if (weights.length !== numTasks) {
    throw new MtlError('SHAPE_MISMATCH', `"${method}" returned ${weights.length} weights for ${numTasks} tasks`, { method, expected: numTasks, actual: weights.length });
  }
  const bad = weights.findIndex((w) => !Number.isFinite(w));
  if (bad >= 0) throw new MtlError('NON_FINITE_GRADIENT', `"${method}" returned a non-finite weight for task ${bad}`, { method, taskIndex: bad, value: weights[bad] });
}
