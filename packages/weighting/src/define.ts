import { MtlError, type AggregationInput, type GradientSpace, type Matrix } from '@mtl/core';
import { combineRows, gram } from './linalg/vector.js';
import { randomSource } from './random-source.js';
import { checkGramian, checkJacobian, checkLosses, checkNormalize, scaleFactor } from './validate.js';
import type { Aggregator, CommonOptions, GramianAggregation, JacobianInput, MethodAggregation, MethodInput, TrainerOptimizer, Weighting } from './types.js';

/** What a method sees each step, with defaults filled in: core's full aggregation input (+ the trainer's optimizer when known). */
export type StepInput = AggregationInput & { readonly optimizer?: TrainerOptimizer };

/** The raw result of a method before rescaling. */
export interface RawAggregation<S> {
  readonly direction: Float64Array;
  readonly weights: readonly number[];
  readonly state: S;
  readonly headWeights?: readonly number[];
}

/** The raw result of a method defined on the Gramian: weights, direction = weightsᵀ G. */
export type RawGramianAggregation<S> = Omit<RawAggregation<S>, 'direction'>;

interface SpecBase<S> {
  readonly name: string;
  readonly space?: GradientSpace;
  readonly nativeScale: 'sum' | 'mean';
  readonly minTasks?: number;
  initialState(numTasks: number): S;
  /** Checks a state against the task count (throw SHAPE_MISMATCH). */
  checkState?(state: S, numTasks: number): void;
}

/** A method that needs the Jacobian itself. */
export interface JacobianSpec<S> extends SpecBase<S> {
  compute(g: Matrix, input: StepInput, state: S): RawAggregation<S>;
}

/** A method defined on the T x T Gramian G Gᵀ alone (direction = weightsᵀ G): it also offers `fromGramian`. */
export interface GramianSpec<S> extends SpecBase<S> {
  readonly gramian: true;
  fromGramian(a: Float64Array, numTasks: number, input: StepInput, state: S): RawGramianAggregation<S>;
}

export type AggregatorSpec<S> = JacobianSpec<S> | GramianSpec<S>;

/** Builds an {@link Aggregator}: input checks, defaults, the random source and the output scale. */
export function defineAggregator<S>(spec: AggregatorSpec<S>, options: CommonOptions = {}): Aggregator<S> {
  const normalize = checkNormalize(options.normalize);
  const random = randomSource(options);
  const compute =
    'gramian' in spec
      ? (g: Matrix, input: StepInput, state: S): RawAggregation<S> => {
          const raw = spec.fromGramian(gram(g), g.rows, input, state);
          return { ...raw, direction: combineRows(raw.weights, g) };
        }
      : spec.compute.bind(spec);
  const aggregator: Aggregator<S> = {
    name: spec.name,
    nativeScale: spec.nativeScale,
    initialState: (numTasks) => spec.initialState(numTasks),
    aggregate(jacobian: JacobianInput, input: MethodInput, state?: S): MethodAggregation<S> {
      const g = checkJacobian(spec.name, jacobian, spec.minTasks ?? 1);
      const losses = checkLosses(spec.name, input, g.rows);
      const current = state ?? spec.initialState(g.rows);
      spec.checkState?.(current, g.rows);
      const raw = compute(g, stepInput(input, losses, random), current);
      const f = scaleFactor(spec.nativeScale, normalize, g.rows);
      const direction = raw.direction;
      if (f !== 1) for (let i = 0; i < direction.length; i++) direction[i] = direction[i]! * f;
      const result: MethodAggregation<S> = { direction, weights: raw.weights.map((w) => w * f), state: raw.state };
      return raw.headWeights ? { ...result, headWeights: raw.headWeights } : result;
    },
  };
  const withGramian: Aggregator<S> =
    'gramian' in spec
      ? {
          ...aggregator,
          fromGramian(gramian: JacobianInput, input: MethodInput, state?: S): GramianAggregation<S> {
            const a = checkGramian(spec.name, gramian, spec.minTasks ?? 1);
            const T = Math.round(Math.sqrt(a.length));
            const losses = checkLosses(spec.name, input, T);
            const current = state ?? spec.initialState(T);
            spec.checkState?.(current, T);
            const raw = spec.fromGramian(a, T, stepInput(input, losses, random), current);
            const f = scaleFactor(spec.nativeScale, normalize, T);
            const result: GramianAggregation<S> = { weights: raw.weights.map((w) => w * f), state: raw.state };
            return raw.headWeights ? { ...result, headWeights: raw.headWeights } : result;
          },
        }
      : aggregator;
  return spec.space ? { ...withGramian, space: spec.space } : withGramian;
}

function stepInput(input: MethodInput, losses: readonly number[], random: (input: MethodInput) => () => number): StepInput {
  const base = { losses, step: input.step ?? 0, epoch: input.epoch ?? 0, random: random(input) };
  return input.optimizer ? { ...base, optimizer: input.optimizer } : base;
}

/** A method that needs `samples` independent Jacobians per step (MoDo, SDMGrad). */
export interface SampledSpec<S> extends SpecBase<S> {
  readonly samples: number;
  computeSamples(jacobians: readonly Matrix[], input: StepInput, state: S): RawAggregation<S>;
}

/** Builds an {@link Aggregator} with `aggregateSamples`; `aggregate(G)` uses G for every sample. */
export function defineSampledAggregator<S>(spec: SampledSpec<S>, options: CommonOptions = {}): Aggregator<S> {
  const normalize = checkNormalize(options.normalize);
  const random = randomSource(options);
  const aggregateSamples = (jacobians: readonly JacobianInput[], input: MethodInput, state?: S): MethodAggregation<S> => {
    if (!Array.isArray(jacobians) || jacobians.length !== spec.samples) {
      throw new MtlError('SHAPE_MISMATCH', `"${spec.name}" needs ${spec.samples} Jacobians (one per sampled batch), got ${Array.isArray(jacobians) ? jacobians.length : typeof jacobians}`, {
        method: spec.name,
        expected: spec.samples,
      });
    }
    const gs = (jacobians as readonly JacobianInput[]).map((j) => checkJacobian(spec.name, j, spec.minTasks ?? 1));
    const first = gs[0]!;
    if (gs.some((g) => g.rows !== first.rows || g.cols !== first.cols)) {
      throw new MtlError('SHAPE_MISMATCH', `"${spec.name}": the sampled Jacobians differ in shape (${gs.map((g) => `${g.rows} x ${g.cols}`).join(', ')})`, { method: spec.name });
    }
    const losses = checkLosses(spec.name, input, first.rows);
    const current = state ?? spec.initialState(first.rows);
    spec.checkState?.(current, first.rows);
    const raw = spec.computeSamples(gs, stepInput(input, losses, random), current);
    const f = scaleFactor(spec.nativeScale, normalize, first.rows);
    const direction = raw.direction;
    if (f !== 1) for (let i = 0; i < direction.length; i++) direction[i] = direction[i]! * f;
    const result: MethodAggregation<S> = { direction, weights: raw.weights.map((w) => w * f), state: raw.state };
    return raw.headWeights ? { ...result, headWeights: raw.headWeights } : result;
  };
  return {
    name: spec.name,
    nativeScale: spec.nativeScale,
    samples: spec.samples,
    initialState: (numTasks) => spec.initialState(numTasks),
    aggregate: (jacobian, input, state) => aggregateSamples(new Array<JacobianInput>(spec.samples).fill(jacobian), input, state),
    aggregateSamples,
  };
}

export interface WeightingSpec<S> {
  readonly name: string;
  readonly nativeScale: 'sum' | 'mean';
  readonly minTasks?: number;
  initialState(numTasks: number): S;
  checkState?(state: S, numTasks: number): void;
  compute(input: StepInput, state: S): { weights: readonly number[]; state: S };
}

/** Builds a {@link Weighting} with the same conventions as {@link defineAggregator}. */
export function defineWeighting<S>(spec: WeightingSpec<S>, options: CommonOptions = {}): Weighting<S> {
  const normalize = checkNormalize(options.normalize);
  const random = randomSource(options);
  return {
    name: spec.name,
    nativeScale: spec.nativeScale,
    initialState: (numTasks) => spec.initialState(numTasks),
    weigh(input: MethodInput, state?: S) {
      const numTasks = Array.isArray(input?.losses) ? input.losses.length : 0;
      const losses = checkLosses(spec.name, input, numTasks);
      if (numTasks < (spec.minTasks ?? 1)) {
        checkJacobian(spec.name, { rows: numTasks, cols: 1, data: new Float64Array(numTasks) }, spec.minTasks ?? 1);
      }
      const current = state ?? spec.initialState(numTasks);
      spec.checkState?.(current, numTasks);
      const raw = spec.compute(stepInput(input, losses, random), current);
      const f = scaleFactor(spec.nativeScale, normalize, numTasks);
      return { weights: raw.weights.map((w) => w * f), state: raw.state };
    },
  };
}

/**
 * A loss weighting used as an aggregator on the Jacobian: direction = Σ_t w_t g_t. Its head
 * gradients are scaled by the same weights, as a weighted loss would scale them.
 */
export function weightingAsAggregator<S>(weighting: Weighting<S>): Aggregator<S> {
  return {
    name: weighting.name,
    nativeScale: weighting.nativeScale,
    initialState: (numTasks) => weighting.initialState(numTasks),
    aggregate(jacobian, input, state) {
      const g = checkJacobian(weighting.name, jacobian);
      checkLosses(weighting.name, input, g.rows);
      const { weights, state: next } = weighting.weigh(input, state);
      return { direction: combineRows(weights, g), weights, state: next, headWeights: weights };
    },
  };
}
