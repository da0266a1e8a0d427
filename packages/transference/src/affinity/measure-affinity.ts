import {
  BatchSchedule,
  Optimizer,
  ParamSnapshot,
  SeededRandom,
  TrainingStepContext,
  disposeBatch,
  tf,
  toBatch,
  validateDataset,
  validateTasks,
  type MultiTaskDataset,
  type MultiTaskModel,
  type Task,
} from '@mtl/core';
import { invalidOption, requirePositiveInteger, requireNonNegativeInteger } from '@mtl/core/internal';
import { AffinityAverage } from './affinity-average.js';
import { affinityAt, resolveAffinityOptions, type AffinityMeasurement, type AffinityOptions } from './step-affinity.js';
import { requireBoolean } from '../options.js';

export interface MeasureAffinityOptions extends AffinityOptions {
  readonly model: MultiTaskModel;
  readonly tasks: readonly Task[];
  readonly data: MultiTaskDataset;
  /** The optimizer whose step is simulated, with its current state (e.g. the trainer's). Not changed. */
  readonly optimizer: Optimizer;
  /** Examples per batch (default 32). */
  readonly batchSize?: number;
  /** Batches to measure on (default: one pass over `data`). */
  readonly batches?: number;
  /** Shuffle the examples (seeded; default true). */
  readonly shuffle?: boolean;
  readonly seed?: number;
}

export interface AffinityResult {
  readonly tasks: readonly string[];
  /** Mean over the batches, `affinity[i][j]` = Z(i→j) (source row, target column). */
  readonly affinity: number[][];
  /** One measurement per batch. */
  readonly measurements: readonly AffinityMeasurement[];
}

const KEYS = ['model', 'tasks', 'data', 'optimizer', 'batchSize', 'batches', 'shuffle', 'seed'];

/**
 * Inter-task affinity of a model as it is, without training: on each of `batches` batches, the
 * lookahead (or first-order) affinity of every task pair at the current parameters and the given
 * optimizer's current state, averaged. The model and the optimizer are left exactly as they were.
 */
export function measureAffinity(options: MeasureAffinityOptions): AffinityResult {
  if (!options || typeof options !== 'object') invalidOption('options', options, 'an options object');
  const measure = resolveAffinityOptions('measureAffinity', options, KEYS);
  const { model, data } = options;
  if (!model || typeof model.forward !== 'function') invalidOption('model', model, 'a MultiTaskModel');
  if (!(options.optimizer instanceof Optimizer)) invalidOption('optimizer', options.optimizer, "an Optimizer (e.g. sgd(0.1) from @mtl/core)");
  const tasks = validateTasks(options.tasks);
  validateDataset(data, tasks, model.inputShape, 'affinity data');
  const batchSize = requirePositiveInteger('batchSize', options.batchSize ?? 32);
  const seed = requireNonNegativeInteger('seed', options.seed ?? 0);
  const random = new SeededRandom(seed);
  const schedule = new BatchSchedule(data.size, batchSize, random.fork('data'), { shuffle: requireBoolean('shuffle', options.shuffle, true) });
  const batches = requirePositiveInteger('batches', options.batches ?? schedule.batchesPerEpoch);
  const average = new AffinityAverage();
  const measurements: AffinityMeasurement[] = [];
  // Training-mode passes update BatchNorm running statistics: put them back, the model is only read.
  const buffers = model.buffers ?? [];
  const savedBuffers = ParamSnapshot.capture(buffers);
  try {
    for (let b = 0; b < batches; b++) {
      const batch = toBatch(data.gather(schedule.next().indices), model.inputShape, tasks);
      try {
        const ctx = new TrainingStepContext({ step: b, epoch: 0, model, tasks, batch, optimizer: options.optimizer, random: random.fork(`rule-${b}`) });
        let measurement!: AffinityMeasurement;
        // The context's cached gradients are freed with the scope; the measurement is plain numbers.
        tf.tidy(() => {
          measurement = affinityAt(ctx, measure);
        });
        average.add(measurement.tasks, measurement.matrix);
        measurements.push(measurement);
      } finally {
        disposeBatch(batch);
      }
    }
  } finally {
    savedBuffers.restore(buffers);
    savedBuffers.dispose();
  }
  return { tasks: average.tasks, affinity: average.mean(), measurements };
}
