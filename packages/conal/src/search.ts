import { BatchSchedule, MtlError, Optimizer, SeededRandom, TrainingStepContext, disposeBatch, tf, toBatch, validateDataset } from '@mtl/core';
import type { Batch, MultiTaskDataset, OptimizerConfig, Task } from '@mtl/core';
import { invalidOption, requireFiniteNumber, requireNonNegativeInteger, requirePositiveInteger } from '@mtl/core/internal';
import { checkKeys } from './blocks.js';
import { clipByGlobalNorm } from './clip.js';
import { noticeConflicts, type ModuleColumns } from './noticing.js';
import { ConalSearchSpace, type SearchSpaceOptions } from './search-space.js';

/** The authors' weight optimiser (search.py): Adam, lr 1e-4, weight decay 1e-5. */
export const DEFAULT_WEIGHT_OPTIMIZER: OptimizerConfig = { kind: 'adam', learningRate: 1e-4, weightDecay: 1e-5 };
/** The authors' architecture optimiser (search.py): Adam, lr 5e-5, weight decay 1e-5. */
export const DEFAULT_ARCHITECTURE_OPTIMIZER: OptimizerConfig = { kind: 'adam', learningRate: 5e-5, weightDecay: 1e-5 };

export interface SearchOptions {
  readonly train: MultiTaskDataset;
  /** Batches for the α (upper-level) steps; cycled when shorter than the training data. */
  readonly validation: MultiTaskDataset;
  /** Passes over the training data. Default 10 (search.py's NUM_EPOCHS). Ignored when `steps` is set. */
  readonly epochs?: number;
  /** Exact number of alternating (α step, weight step) pairs, instead of `epochs`. */
  readonly steps?: number;
  /** Default 8 (conal.yml). */
  readonly batchSize?: number;
  readonly weightOptimizer?: OptimizerConfig;
  readonly architectureOptimizer?: OptimizerConfig;
  /** Global-norm clip of each weight step (the authors' `clip_grad_norm_(…, 5.)`). `Infinity` turns it off. Default 5. */
  readonly clipNorm?: number;
  /**
   * Conflict noticing (Eq. 5) on the weight step: default true (the paper). `false` is the released
   * code, whose search steps on the plain sum of the task losses.
   */
  readonly noticing?: boolean;
  /** Record softmax(α) every this many steps (and at the start and end). Default: once per epoch. */
  readonly historyEvery?: number;
  /**
   * Steps of hard-sharing training (every task on the all-shared path, plain sum, same weight
   * optimiser settings and clipping) before the search, whose shared-module weights then initialise
   * every task's copies: a stand-in for Algorithm 1's "pre-trained initialized θ_0" (the authors
   * load the same ImageNet ResNet into every copy) when no pretrained backbone exists. Default 0.
   */
  readonly pretrainSteps?: number;
  /** Keep the search space (trained weights and α) in the result; the caller then disposes it. Default false. */
  readonly keepSearchSpace?: boolean;
}

export type ConalSearchOptions = SearchSpaceOptions & SearchOptions;

export interface AlphaRecord {
  readonly step: number;
  readonly epoch: number;
  /** softmax(α_t) over the candidate branch points, per task. */
  readonly alpha: Readonly<Record<string, readonly number[]>>;
}

export interface NoticingStats {
  /** Weight steps taken. */
  readonly steps: number;
  /** Steps on which some pair of tasks conflicted on some checked module. */
  readonly conflictSteps: number;
  /** Per all-shared module: the fraction of steps its summed gradient was kept. */
  readonly keptFraction: readonly number[];
}

export interface SearchRun {
  readonly alphaHistory: readonly AlphaRecord[];
  readonly noticing: NoticingStats;
  readonly steps: number;
  readonly milliseconds: number;
}

const SEARCH_KEYS = ['train', 'validation', 'epochs', 'steps', 'batchSize', 'weightOptimizer', 'architectureOptimizer', 'clipNorm', 'noticing', 'historyEvery', 'pretrainSteps', 'keepSearchSpace'];

/** The search options split from the search-space options, validated. */
export function validateSearchOptions(options: SearchOptions, tasks: readonly Task[], inputShape: readonly number[]) {
  const batchSize = requirePositiveInteger('batchSize', options.batchSize ?? 8);
  validateDataset(options.train, tasks, inputShape, 'training data');
  if (!options.validation) invalidOption('validation', options.validation, 'a validation dataset (α is learned on it)');
  validateDataset(options.validation, tasks, inputShape, 'validation data');
  const perEpoch = Math.ceil(options.train.size / batchSize);
  const steps = options.steps !== undefined ? requirePositiveInteger('steps', options.steps) : requirePositiveInteger('epochs', options.epochs ?? 10) * perEpoch;
  const clipNorm = options.clipNorm === Infinity ? Infinity : requireFiniteNumber('clipNorm', options.clipNorm ?? 5, { min: Number.MIN_VALUE });
  if (options.noticing !== undefined && typeof options.noticing !== 'boolean') invalidOption('noticing', options.noticing, 'true or false');
  const historyEvery = requirePositiveInteger('historyEvery', options.historyEvery ?? perEpoch);
  const pretrainSteps = requireNonNegativeInteger('pretrainSteps', options.pretrainSteps ?? 0);
  return {
    pretrainSteps,
    batchSize,
    steps,
    perEpoch,
    clipNorm,
    noticing: options.noticing ?? true,
    historyEvery,
    weightOptimizer: new Optimizer(options.weightOptimizer ?? DEFAULT_WEIGHT_OPTIMIZER),
    architectureOptimizer: new Optimizer(options.architectureOptimizer ?? DEFAULT_ARCHITECTURE_OPTIMIZER),
  };
}

/** Splits conalSearch's options into the search space's and the search's, rejecting unknown keys. */
export function splitOptions(options: ConalSearchOptions): { space: SearchSpaceOptions; search: SearchOptions } {
  if (typeof options !== 'object' || options === null) invalidOption('options', options, 'an options object');
  const spaceKeys = ['inputShape', 'tasks', 'blocks', 'head', 'candidates', 'seed'];
  checkKeys('options', options, [...spaceKeys, ...SEARCH_KEYS]);
  const space: Record<string, unknown> = {};
  const search: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) (spaceKeys.includes(key) ? space : search)[key] = value;
  return { space: space as unknown as SearchSpaceOptions, search: search as unknown as SearchOptions };
}

/**
 * Bi-level first-order search (Algorithm 1, DARTS' first-order approximation) on a search space,
 * in place: each step takes a validation batch and steps α on Σ_t L_t^val (the authors sum the
 * losses; the paper's Eq. 1 has a 1/m that only rescales Adam's input), then a training batch and
 * steps the weights on the conflict-noticed gradient of Σ_t L_t^tr — shared modules by Eq. 5 over
 * `noticeFrom..` (earlier ones keep their summed gradient), task modules by their own task's
 * gradient — clipped to global norm `clipNorm`. α is never moved by the weight step, nor the
 * weights by the α step.
 */
export function runSearch(space: ConalSearchSpace, tasks: readonly Task[], options: SearchOptions, seed: number, noticeFrom = 0): SearchRun {
  const started = performance.now();
  const o = validateSearchOptions(options, tasks, space.inputShape);
  const master = new SeededRandom(seed).fork('conal-search');
  const trainSchedule = new BatchSchedule(options.train.size, o.batchSize, master.fork('train'));
  const validationSchedule = new BatchSchedule(options.validation.size, o.batchSize, master.fork('validation'));
  const ruleRandom = master.fork('rule');
  const weights = space.weightParameters;
  const alphas = space.alphaParameters;
  const checked = space.sharedModules.slice(noticeFrom);
  const kept = new Float64Array(space.sharedModules.length);
  let conflictSteps = 0;
  const nextBatch = (data: MultiTaskDataset, schedule: BatchSchedule): Batch => toBatch(data.gather(schedule.next().indices), space.inputShape, tasks);
  if (o.pretrainSteps > 0) pretrainAllShared(space, tasks, o.pretrainSteps, () => nextBatch(options.train, trainSchedule), options.weightOptimizer ?? DEFAULT_WEIGHT_OPTIMIZER, o.clipNorm);
  const history: AlphaRecord[] = [{ step: 0, epoch: 0, alpha: space.branchDistribution() }];

  try {
    for (let step = 0; step < o.steps; step++) {
      const epoch = Math.floor(step / o.perEpoch);
      // Upper level: α on a validation batch.
      const validation = nextBatch(options.validation, validationSchedule);
      try {
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => {
            const outputs = space.forward(validation.x);
            return tf.addN(tasks.map((t) => t.loss(outputs[t.name]!, validation.targets[t.name]!))) as tf.Scalar;
          }, alphas.map((p) => p.variable));
          const loss = value.dataSync()[0]!;
          if (!Number.isFinite(loss)) throw new MtlError('NON_FINITE_LOSS', `validation loss is ${loss} at search step ${step}; no update was applied`, { step, epoch });
          o.architectureOptimizer.apply(alphas, new Map(alphas.map((p) => [p.key, grads[p.variable.name]!])));
        });
      } finally {
        disposeBatch(validation);
      }
      // Lower level: weights on a training batch, conflict-noticed.
      const batch = nextBatch(options.train, trainSchedule);
      try {
        const ctx = new TrainingStepContext({ step, epoch, model: space, tasks, batch, optimizer: o.weightOptimizer, random: ruleRandom });
        tf.tidy(() => {
          let grads: Map<string, tf.Tensor>;
          if (o.noticing) {
            const gradients = ctx.taskGradients('parameters');
            const [rows, cols] = gradients.jacobian.shape;
            const modules: ModuleColumns[] = checked.map((params) => moduleColumns(gradients.sharedLayout, params.map((p) => p.key)));
            const result = noticeConflicts({ rows, cols, data: gradients.jacobian.dataSync() as Float32Array }, modules);
            result.kept.forEach((k, i) => (kept[noticeFrom + i]! += k ? 1 : 0));
            for (let i = 0; i < noticeFrom; i++) kept[i]! += 1;
            if (result.firstConflict >= 0) conflictSteps++;
            grads = ctx.gradientsFromDirection(result.direction);
          } else {
            grads = ctx.weightedLossGradients(tasks.map(() => 1));
            for (let i = 0; i < kept.length; i++) kept[i]! += 1;
          }
          for (const p of alphas) grads.delete(p.key);
          ctx.applyGradients(clipByGlobalNorm(grads, o.clipNorm).grads, { parameters: weights });
        });
      } finally {
        disposeBatch(batch);
      }
      if ((step + 1) % o.historyEvery === 0 || step + 1 === o.steps) {
        history.push({ step: step + 1, epoch: Math.floor((step + 1) / o.perEpoch), alpha: space.branchDistribution() });
      }
    }
  } finally {
    o.weightOptimizer.dispose();
    o.architectureOptimizer.dispose();
  }
  return {
    alphaHistory: history,
    noticing: { steps: o.steps, conflictSteps, keptFraction: Array.from(kept, (k) => k / o.steps) },
    steps: o.steps,
    milliseconds: performance.now() - started,
  };
}

/**
 * Trains the all-shared path (α pinned to branch point P, if it is a candidate, else to the last
 * candidate) on the plain sum of the task losses, then copies each shared module into every task's
 * copy of it and puts α back to uniform.
 */
function pretrainAllShared(space: ConalSearchSpace, tasks: readonly Task[], steps: number, next: () => Batch, config: OptimizerConfig, clipNorm: number): void {
  const optimizer = new Optimizer(config);
  const pinned = tf.tensor1d(space.candidates.map((_, i) => (i === space.candidates.length - 1 ? 0 : -1e4)));
  try {
    for (const p of space.alphaParameters) p.variable.assign(pinned);
    for (let step = 0; step < steps; step++) {
      const batch = next();
      try {
        const ctx = new TrainingStepContext({ step, epoch: 0, model: space, tasks, batch, optimizer, random: new SeededRandom(step) });
        tf.tidy(() => {
          const grads = ctx.weightedLossGradients(tasks.map(() => 1));
          for (const p of space.alphaParameters) grads.delete(p.key);
          ctx.applyGradients(clipByGlobalNorm(grads, clipNorm).grads, { parameters: space.weightParameters });
        });
      } finally {
        disposeBatch(batch);
      }
    }
    tf.tidy(() => {
      const byKey = new Map(space.parameters.map((p) => [p.key, p]));
      for (const module of space.sharedModules) {
        for (const p of module) {
          for (const task of space.taskNames) byKey.get(p.key.replace(/^shared\//, `tasks/${task}/`))?.variable.assign(p.variable);
        }
      }
      for (const p of space.alphaParameters) p.variable.assign(tf.zerosLike(p.variable));
    });
  } finally {
    pinned.dispose();
    optimizer.dispose();
  }
}

function moduleColumns(layout: { entry(key: string): { offset: number; size: number } }, keys: readonly string[]): ModuleColumns {
  const entries = keys.map((k) => layout.entry(k));
  const offset = Math.min(...entries.map((e) => e.offset));
  const size = entries.reduce((s, e) => s + e.size, 0);
  if (entries.some((e) => e.offset < offset || e.offset + e.size > offset + size)) {
    throw new MtlError('SHAPE_MISMATCH', `a shared module's parameters are not contiguous in the shared layout (${keys.join(', ')})`, { keys });
  }
  return { offset, size };
}
