import type { tf } from './tf.js';
import { MtlError, invalidOption } from './errors.js';
import { aggregateByGroups, type GroupedAggregatorState } from './grouped-aggregation.js';
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
 *
 * The contracts method packages rely on (see the "Step contracts" section of the README):
 * - **Fresh after every update.** {@link losses} and {@link taskGradients} always describe the
 *   parameters as they are *now*: every {@link applyGradients} (and every {@link lookahead})
 *   invalidates the caches of this context and of every context derived from it.
 * - **Untouched means untouched.** An update steps only the parameters it names (default: all weight
 *   parameters, i.e. not `role: 'architecture'`) that also have a gradient in `grads` and are not
 *   frozen. Every other parameter keeps its value *and* its optimizer state (moments, step count).
 *   {@link weightedLossGradients} returns no entry for a parameter used only by tasks of weight 0,
 *   and {@link gradientsFromDirection} none for a head whose `headWeights` entry is 0.
 * - **Architecture parameters** are never in `model.sharedParameters`, a task's parameters, the
 *   Jacobian or the default update; a rule steps them with its own `Optimizer`.
 */
export interface StepContext {
  /** Global step index, 0-based. */
  readonly step: number;
  /** Data passes over the training set completed before this step (advanced by `fit` and `runSteps`). */
  readonly epoch: number;
  readonly model: MultiTaskModel;
  /** The tasks this context is about (a subset inside `stepTasks`'s rule), in Jacobian row order. */
  readonly tasks: readonly Task[];
  /** The batch this context computes on (the step's batch, or the one given to {@link withBatch}). */
  readonly batch: Batch;
  readonly optimizer: Optimizer;
  /** The rule's own seeded stream (restored on resume). */
  readonly random: SeededRandom;
  /** Per-task losses at the current parameters, in task order; cached until the next update. Throws NON_FINITE_LOSS. */
  losses(): readonly number[];
  /** Per-task losses from a fresh forward pass at the parameters as they are now (not read from the cache). */
  evaluateLosses(): readonly number[];
  /**
   * Whether the trainer keeps this parameter fixed (`Trainer({ frozen })`): `applyGradients` never
   * moves it, so a simulated step (a lookahead) must not move it either.
   */
  isFrozen(key: string): boolean;
  /**
   * Runs `fn` with some parameters temporarily set to `values` (by key; e.g. from
   * `optimizer.preview`), then puts the exact previous values back. Lookahead affinity and IT-MTL
   * candidate scoring are built on it. Inside `fn`, `losses()` and `taskGradients()` describe the
   * lookahead values; after it, the values from before. Do not apply updates inside `fn`.
   */
  lookahead<T>(values: ReadonlyMap<string, tf.Tensor>, fn: () => T): T;
  /**
   * Per-task gradients at the current parameters (cached until the next update). `options.tasks`
   * keeps the rows of those tasks only (in the step's task order); `options.parameters` (parameter
   * space only) keeps the columns of those shared parameters only, e.g. GradNorm's last shared layer:
   * `ctx.taskGradients('parameters', { parameters: ctx.model.sharedParameters.filter((p) => p.key.startsWith('trunk/dense1/')) })`.
   * Throws NON_FINITE_LOSS; UNKNOWN_TASK / INVALID_OPTION for names outside the step.
   */
  taskGradients(space?: GradientSpace, options?: TaskGradientsOptions): TaskGradients;
  /**
   * Gradients of Σ_t w_t L_t in one backward pass, for `options.parameters` (default: all weight
   * parameters, or this context's scope inside `stepTasks`). Parameters used only by tasks of weight
   * 0 get no entry. Name `model.architectureParameters` to get architecture gradients (e.g. on a
   * validation batch through {@link withBatch}).
   */
  weightedLossGradients(weights: readonly number[], options?: { parameters?: readonly Parameter[] }): Map<string, tf.Tensor>;
  /**
   * Full gradients from a direction for the shared parameters (in the space of
   * `taskGradients(space, { tasks, parameters })`) plus each of those tasks' own-parameter gradient
   * scaled by `headWeights[t]` (default 1: task-specific parameters get their own task's plain
   * gradient, as in LibMTL; 0: the head gets no entry and does not move).
   */
  gradientsFromDirection(
    direction: tf.Tensor1D | Float32Array | Float64Array,
    options?: { space?: GradientSpace; headWeights?: readonly number[]; tasks?: readonly string[]; parameters?: readonly Parameter[] },
  ): Map<string, tf.Tensor>;
  /**
   * Checks the gradients are finite, then steps the optimizer on the parameters in `parameters`
   * (default: all weight parameters) that have a gradient in `grads`; frozen parameters never move,
   * nor do their optimizer states. Invalidates every cached loss and gradient.
   */
  applyGradients(grads: ReadonlyMap<string, tf.Tensor>, options?: { parameters?: readonly Parameter[]; lrScale?: number }): void;
  /**
   * Selective group update: one forward + backward on Σ_{i∈taskNames} w_i L_i (`weights` default 1
   * each, in the order of `taskNames`), one optimizer step on the shared parameters plus those
   * tasks' own parameters only (heads at `lrScale × headLrScale`), then a fresh forward. With `rule`,
   * the rule's `step` runs instead of the weighted sum, on a context restricted to those tasks and
   * parameters. `before` / `after`: ALL tasks' losses before / after the step, in the step's task order.
   */
  stepTasks(taskNames: readonly string[], options?: StepTasksOptions): StepTasksResult;
  /**
   * The next batch of the trainer's validation stream: seeded, shuffled each pass, independent of
   * the training stream and restored exactly by checkpoints. INVALID_OPTION when the trainer was given
   * no `validation` dataset. Use it with {@link withBatch}.
   */
  validationBatch(): Batch;
  /**
   * The next batch of an extra training stream (its own seeded shuffle of the training data, so the
   * main batch order does not depend on how many a rule draws; restored exactly by checkpoints).
   * MoDo and SDMGrad draw several per step.
   */
  nextTrainingBatch(): Batch;
  /**
   * A context on another batch with the same model, tasks, optimizer, frozen set and streams: its
   * losses and gradients are of `batch`; an update through either context invalidates both caches.
   */
  withBatch(batch: Batch): StepContext;
}

export interface TaskGradientsOptions {
  /** Only these tasks' rows (in the step's task order). */
  readonly tasks?: readonly string[];
  /** Only these shared parameters' columns (parameter space only; in `model.sharedParameters` order). */
  readonly parameters?: readonly Parameter[];
}

export interface StepTasksOptions {
  /**
   * One weight per name in `taskNames` (an array in that order, or a record by task name; default 1
   * each; `1 / |G|` each is the group-normalised loss). Not with `rule`.
   */
  readonly weights?: readonly number[] | Readonly<Record<string, number>>;
  /** Scales the learning rate of this step (default 1). */
  readonly lrScale?: number;
  /** Extra scale on the learning rate of the tasks' own parameters (default 1; the sel-update code uses T). */
  readonly headLrScale?: number;
  /** Steps the group with this rule (e.g. an aggregator among the group's tasks) instead of the summed loss. */
  readonly rule?: UpdateRule;
}

export interface StepTasksResult {
  /** All tasks' losses before the step, in the step's task order. */
  readonly before: number[];
  /** All tasks' losses after the step (a fresh forward pass). */
  readonly after: number[];
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
  let state: S | GroupedAggregatorState<S> | undefined;
  return {
    name: aggregator.name,
    step(ctx) {
      state ??= aggregator.initialState(ctx.tasks.length);
      const gradients = ctx.taskGradients(space);
      const cols = gradients.jacobian.shape[1];
      // Each shared parameter is aggregated over the tasks that use it (one block under hard sharing).
      const result = aggregateByGroups(aggregator, gradients, ctx.model, aggregationInput(ctx), state);
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
      state = s as S | GroupedAggregatorState<S>;
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
