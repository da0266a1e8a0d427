/**
 * The trainer's JSON state inside a checkpoint, and the checks a resume runs on it before it
 * changes anything: a checkpoint that does not fit this trainer, model or dataset is a CHECKPOINT
 * error naming what does not fit, never a crash half-way through the restore.
 */
import { MtlError } from '../errors.js';
import { BatchSchedule } from '../data.js';
import type { RandomState } from '../random.js';
import type { MultiTaskModel } from '../models/model.js';
import type { ParamSnapshot, Parameter } from '../parameters.js';
import type { EarlyStoppingState } from './early-stopping.js';
import type { EpochLog } from './callbacks.js';
import type { BatchStreamState } from './step-streams.js';

/** The trainer's JSON state in a checkpoint. */
export interface TrainerState {
  dataRandom: RandomState;
  ruleRandom: RandomState;
  schedule: { position: number; order: number[] } | undefined;
  rule: unknown;
  history: EpochLog[];
  early: EarlyStoppingState | undefined;
  /** The step context's extra batch streams (absent in checkpoints from before them). */
  streams?: { validation?: BatchStreamState | undefined; training?: BatchStreamState | undefined } | undefined;
  /** The optimizer's schedule step and base learning rate (absent in older checkpoints). */
  optimizer?: { scheduleStep: number; baseLearningRate: number } | undefined;
  /** Loss sums of the epoch `runSteps` was in the middle of (its history entry continues from them). */
  runStepsEpoch?: { sums: number[]; examples: number; steps: number } | undefined;
}

/** The name of early stopping's best parameters among a checkpoint's extra snapshots. */
export const BEST_PARAMETERS = 'earlyStopping.best';
/** Snapshot name of the model's buffers (BatchNorm running statistics) in a checkpoint. */
export const MODEL_BUFFERS = 'model.buffers';

/** Throws CHECKPOINT unless `state` is a {@link TrainerState} whose batch order fits `datasetSize` examples. */
export function checkTrainerState(state: unknown, datasetSize: number, path: string): asserts state is TrainerState {
  const fail = (problem: string): never => {
    throw new MtlError('CHECKPOINT', `checkpoint ${path}: the trainer state ${problem}`, { path, problem });
  };
  if (state === null || typeof state !== 'object') return fail('is missing');
  const s = state as Partial<Record<keyof TrainerState, unknown>>;
  for (const key of ['dataRandom', 'ruleRandom'] as const) {
    const r = s[key];
    if (!Array.isArray(r) || r.length !== 4 || !r.every((v) => typeof v === 'number' && Number.isInteger(v))) fail(`has no valid random state "${key}"`);
  }
  if (!Array.isArray(s.history)) fail('has no epoch history');
  (s.history as unknown[]).forEach((log, i) => {
    const epoch = (log as { epoch?: unknown } | null)?.epoch;
    if (epoch !== i) fail(`history entry ${i} is not epoch ${i}`);
  });
  if (s.schedule !== undefined) {
    try {
      BatchSchedule.checkState(s.schedule, datasetSize);
    } catch (error) {
      fail((error as Error).message.replace(/^\[CHECKPOINT\] the checkpoint's /, ''));
    }
  }
  if (s.early !== undefined) {
    try {
      checkEarlyStoppingState(s.early);
    } catch (error) {
      fail((error as Error).message.replace(/^\[CHECKPOINT\] /, ''));
    }
  }
}

/** Throws CHECKPOINT unless `snapshot` holds exactly the model's parameters, with their shapes. */
export function checkParameterLayout(snapshot: ParamSnapshot, model: MultiTaskModel, path: string, what = 'parameters', expected: readonly Parameter[] = model.parameters): void {
  const mismatch = (problem: string): never => {
    throw new MtlError('CHECKPOINT', `checkpoint ${path} does not fit this model: ${problem}`, { path, expected: expected.map((p) => p.key), actual: snapshot.keys });
  };
  const keys = new Set(snapshot.keys);
  for (const p of expected) {
    if (!keys.has(p.key)) mismatch(`its ${what} have no "${p.key}"`);
    const shape = snapshot.layout.entry(p.key).shape;
    if (shape.length !== p.variable.shape.length || shape.some((d, i) => d !== p.variable.shape[i])) {
      mismatch(`"${p.key}" has shape [${shape.join(', ')}] in its ${what}, [${p.variable.shape.join(', ')}] in the model`);
    }
  }
  if (keys.size !== expected.length) {
    const known = new Set(expected.map((p) => p.key));
    mismatch(`its ${what} have "${snapshot.keys.find((k) => !known.has(k))}", which the model does not`);
  }
}

/** Throws CHECKPOINT unless `state` is an {@link EarlyStoppingState} (a checkpoint's JSON). */
export function checkEarlyStoppingState(state: unknown): asserts state is EarlyStoppingState {
  const s = state as Partial<Record<keyof EarlyStoppingState, unknown>> | null;
  const count = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  const ok =
    s !== null &&
    typeof s === 'object' &&
    count(s.wait) &&
    (s.best === undefined || (typeof s.best === 'number' && Number.isFinite(s.best))) &&
    (s.bestEpoch === undefined || count(s.bestEpoch)) &&
    (s.best === undefined) === (s.bestEpoch === undefined);
  if (!ok) throw new MtlError('CHECKPOINT', `the early-stopping state of the checkpoint is malformed: ${JSON.stringify(state)}`, { state });
}
