import type { Aggregation, GradientAggregator, GradientSpace, LossWeighting, Matrix } from '@mtl/core';

/** A Jacobian as aggregators accept it: a {@link Matrix} or plain rows (checked for raggedness). */
export type JacobianInput = Matrix | readonly (readonly number[] | Float32Array | Float64Array)[];

/**
 * Per-step input of a method. A superset of core's `AggregationInput` with everything but the
 * losses optional: `step`/`epoch` default to 0 and `random` to the method's own seeded stream.
 */
export interface MethodInput {
  /** Task losses of this batch in row order (length T). */
  readonly losses: readonly number[];
  readonly step?: number;
  readonly epoch?: number;
  /** Uniform [0, 1) draws. Inject fixed draws to replay a step exactly. */
  readonly random?: () => number;
  /**
   * The trainer's optimizer this step (`toUpdateRule` fills it in): methods with their own learnable
   * numbers (UW, GradNorm, IMTL-L) step them with it by default, as LibMTL does.
   */
  readonly optimizer?: TrainerOptimizer;
}

/** The trainer's optimizer as a method sees it: core's `OptimizerConfig` with the current learning rate. */
export interface TrainerOptimizer {
  readonly kind: 'sgd' | 'momentum' | 'adam';
  readonly learningRate: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
  readonly momentum?: number;
  readonly nesterov?: boolean;
  readonly weightDecay?: number;
}

/** What a method returns: core's {@link Aggregation} (direction, weights, optional head weights, state). */
export type MethodAggregation<S> = Aggregation<S>;

/** Output scale: LibMTL's per-method scale, or rescaled to a sum (weights ≈ T) or a mean (≈ 1). */
export type Normalize = 'libmtl' | 'sum' | 'mean';

/** A core {@link GradientAggregator} that also accepts plain rows, partial input and no state. */
export interface Aggregator<S = unknown> extends GradientAggregator<S> {
  readonly name: string;
  readonly space?: GradientSpace;
  /** Scale of the direction by default: of a sum of task gradients or of their mean. */
  readonly nativeScale: 'sum' | 'mean';
  /**
   * False for methods whose direction is not weightsᵀ G of this step's rows (GradDrop's sign masks,
   * MoCo's and DB-MTL's tracked gradients): they have no batch-summed representation form.
   */
  readonly linear?: boolean;
  initialState(numTasks: number): S;
  /** Pure unless no `random` is given and the method draws: then its own seeded stream is used. */
  aggregate(jacobian: JacobianInput, input: MethodInput, state?: S): MethodAggregation<S>;
  /**
   * Present on methods defined on the Gramian G Gᵀ alone (MGDA, UPGrad, DualProj, Nash-MTL,
   * Aligned-MTL, CAGrad, IMTL, FairGrad): the same weights as {@link aggregate} from the T x T
   * matrix G Gᵀ (symmetric, checked), so a large model computes G Gᵀ and weightsᵀ G where its
   * tensors live and only T² numbers reach the method (TorchJD's idea). `direction = weightsᵀ G`.
   */
  fromGramian?(gramian: JacobianInput, input: MethodInput, state?: S): GramianAggregation<S>;
  /**
   * Present on methods that need several independent gradient samples per step (MoDo, SDMGrad: 3):
   * the Jacobians of `samples` batches, in order. `aggregate(G)` uses G for every sample; as a trainer
   * rule (`toUpdateRule`) the extra batches come from `ctx.nextTrainingBatch()`.
   */
  readonly samples?: number;
  aggregateSamples?(jacobians: readonly JacobianInput[], input: MethodInput, state?: S): MethodAggregation<S>;
}

/** What {@link Aggregator.fromGramian} returns: {@link MethodAggregation} without the direction. */
export type GramianAggregation<S> = Omit<MethodAggregation<S>, 'direction'>;

/** A core {@link LossWeighting} that accepts partial input and no state. */
export interface Weighting<S = unknown> extends LossWeighting<S> {
  readonly name: string;
  readonly nativeScale: 'sum' | 'mean';
  initialState(numTasks: number): S;
  weigh(input: MethodInput, state?: S): { readonly weights: readonly number[]; readonly state: S };
  /**
   * Present on methods that learn from the losses after the update (FAMO): called with the losses
   * of the same batch at the updated parameters; returns the new state. `toUpdateRule` calls it
   * with `ctx.evaluateLosses()` after each step.
   */
  afterStep?(input: { readonly losses: readonly number[] }, state: S): S;
}

/** Options every method accepts. */
export interface CommonOptions {
  /** Output scale (default 'libmtl': the scale LibMTL's implementation produces). */
  readonly normalize?: Normalize;
  /** Seed of the method's own stream, used when the step input brings no `random` (default 0). */
  readonly seed?: number;
  /** A uniform [0, 1) source used when the step input brings none (overrides `seed`). */
  readonly random?: () => number;
}
