import { MtlError, type StepContext, type StepResult, type UpdateRule } from '@mtl/core';
import { invalidOption, requirePositiveInteger } from '@mtl/core/internal';
import { requireBoolean } from '../options.js';
import { AffinityAverage, type AffinityAverageState } from './affinity-average.js';
import { affinityAt, resolveAffinityOptions, type AffinityMeasurement, type AffinityOptions } from './step-affinity.js';

export interface AffinityTrackingOptions extends AffinityOptions {
  /** Measure on every `every`-th global step (step % every === 0); default 10 (TAG on CelebA). */
  readonly every?: number;
  /** Called with each measured matrix: the stream of per-step affinities. */
  readonly onMeasure?: (measurement: AffinityMeasurement) => void;
  /** Keep every measurement in {@link AffinityTrackingRule.history} and in the rule's state (default false). */
  readonly keepHistory?: boolean;
}

/** An {@link UpdateRule} that measures inter-task affinity while another rule trains. */
export interface AffinityTrackingRule extends UpdateRule {
  /** The mean affinity over the measurements so far, `[source][target]` (empty before the first). */
  affinity(): number[][];
  /** Task names in matrix order. */
  readonly tasks: readonly string[];
  /** Number of measurements averaged. */
  readonly measurements: number;
  /** Every measurement, when `keepHistory` is set. */
  readonly history: readonly AffinityMeasurement[];
}

interface TrackingState {
  readonly inner: unknown;
  readonly average: AffinityAverageState;
  readonly history?: readonly AffinityMeasurement[];
}

/**
 * Wraps `rule` (the one that trains, e.g. core's `weightedSum()`): every `every` steps, before the
 * rule's own update, the affinity matrix of the step's batch is measured at the current parameters
 * and optimizer state (`measureStepAffinity`), streamed to `onMeasure` and added to a running mean
 * — TAG's "average over training". The training itself is exactly the wrapped rule's: the
 * measurement changes no parameter or optimizer state. The wrapped rule's state, the running mean
 * and (with `keepHistory`) the history go into checkpoints, so a resumed run measures and averages
 * as the uninterrupted one.
 */
export function withAffinity(rule: UpdateRule, options: AffinityTrackingOptions = {}): AffinityTrackingRule {
  if (!rule || typeof rule.step !== 'function') invalidOption('rule', rule, 'an UpdateRule');
  const measure = resolveAffinityOptions('withAffinity', options, ['every', 'onMeasure', 'keepHistory']);
  const every = requirePositiveInteger('every', options.every ?? 10);
  const keepHistory = requireBoolean('keepHistory', options.keepHistory, false);
  if (options.onMeasure !== undefined && typeof options.onMeasure !== 'function') invalidOption('onMeasure', options.onMeasure, 'a function');
  const average = new AffinityAverage();
  const history: AffinityMeasurement[] = [];
  return {
    name: `${rule.name}+affinity`,
    step(ctx: StepContext): StepResult | void {
      if (ctx.step % every === 0) {
        const measurement = affinityAt(ctx, measure);
        average.add(measurement.tasks, measurement.matrix);
        if (keepHistory) history.push(measurement);
        options.onMeasure?.(measurement);
      }
      return rule.step(ctx);
    },
    affinity: () => average.mean(),
    get tasks() {
      return average.tasks;
    },
    get measurements() {
      return average.measurements;
    },
    history,
    getState(): TrackingState {
      return { inner: rule.getState?.(), average: average.getState(), ...(keepHistory ? { history: history.map((m) => ({ ...m, matrix: m.matrix.map((r) => r.map(jsonNumber)) })) } : {}) };
    },
    setState(state: unknown) {
      const s = state as TrackingState | undefined;
      if (!s || typeof s !== 'object' || !('average' in s)) throw new MtlError('CHECKPOINT', 'withAffinity state has no running average', { state: typeof state });
      average.setState(s.average);
      if (s.inner !== undefined) rule.setState?.(s.inner);
      history.splice(0, history.length, ...(keepHistory ? (s.history ?? []).map((m) => ({ ...m, matrix: m.matrix.map((r) => r.map((v) => (v === null ? NaN : v))) })) : []));
    },
    dispose() {
      rule.dispose?.();
    },
  };
}

/** JSON has no NaN: an undefined entry is stored as null. */
function jsonNumber(v: number): number {
  return Number.isNaN(v) ? (null as unknown as number) : v;
}
