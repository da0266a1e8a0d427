import { Optimizer, Trainer, tf, validateDataset } from '@mtl/core';
import type { MultiTaskDataset, OptimizerConfig, Task } from '@mtl/core';
import { invalidOption, requireFiniteNumber, requireNonNegativeInteger, requirePositiveInteger } from '@mtl/core/internal';
import { checkKeys } from './blocks.js';
import { conalSearchRule } from './search-rule.js';
import type { ConalSearchSpace, SearchSpaceOptions } from './search-space.js';

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
  // Constructing an optimizer validates its configuration (names the bad field).
  new Optimizer(options.weightOptimizer ?? DEFAULT_WEIGHT_OPTIMIZER).dispose();
  new Optimizer(options.architectureOptimizer ?? DEFAULT_ARCHITECTURE_OPTIMIZER).dispose();
  return {
    pretrainSteps,
    batchSize,
    steps,
    perEpoch,
    clipNorm,
    noticing: options.noticing ?? true,
    historyEvery,
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
 * in place, through core's `Trainer` and {@link conalSearchRule}: each step takes a validation
 * batch and steps α on Σ_t L_t^val (the authors sum the losses; the paper's Eq. 1 has a 1/m that
 * only rescales Adam's input), then the step's training batch and steps the weights on the
 * conflict-noticed gradient of Σ_t L_t^tr — shared modules by Eq. 5 over `noticeFrom..` (earlier
 * ones keep their summed gradient), task modules by their own task's gradient — clipped to global
 * norm `clipNorm`. α is never moved by the weight step, nor the weights by the α step.
 */
export function runSearch(space: ConalSearchSpace, tasks: readonly Task[], options: SearchOptions, seed: number, noticeFrom = 0): SearchRun {
  const started = performance.now();
  const o = validateSearchOptions(options, tasks, space.inputShape);
  const weightConfig = options.weightOptimizer ?? DEFAULT_WEIGHT_OPTIMIZER;
  if (o.pretrainSteps > 0) pretrainAllShared(space, tasks, options.train, o.pretrainSteps, o.batchSize, weightConfig, o.clipNorm, seed);
  const rule = conalSearchRule(space, {
    architectureOptimizer: options.architectureOptimizer ?? DEFAULT_ARCHITECTURE_OPTIMIZER,
    clipNorm: o.clipNorm,
    noticing: o.noticing,
    noticeFrom,
  });
  const optimizer = new Optimizer(weightConfig);
  const trainer = new Trainer({ model: space, tasks, rule, optimizer, batchSize: o.batchSize, seed, validation: options.validation });
  const history: AlphaRecord[] = [{ step: 0, epoch: 0, alpha: space.branchDistribution() }];
  try {
    while (trainer.step < o.steps) {
      trainer.runSteps(options.train, Math.min(o.historyEvery - (trainer.step % o.historyEvery), o.steps - trainer.step));
      history.push({ step: trainer.step, epoch: Math.floor(trainer.step / o.perEpoch), alpha: space.branchDistribution() });
    }
  } finally {
    trainer.dispose();
    optimizer.dispose();
  }
  const counters = rule.counters;
  return {
    alphaHistory: history,
    noticing: { steps: counters.steps, conflictSteps: counters.conflictSteps, keptFraction: counters.kept.map((k) => k / counters.steps) },
    steps: o.steps,
    milliseconds: performance.now() - started,
  };
}

/**
 * Trains the all-shared path (α pinned to the last candidate, branch point P by default) on the
 * plain sum of the task losses, then copies each shared module into every task's copy of it and
 * puts α back to uniform.
 */
function pretrainAllShared(space: ConalSearchSpace, tasks: readonly Task[], train: MultiTaskDataset, steps: number, batchSize: number, config: OptimizerConfig, clipNorm: number, seed: number): void {
  const optimizer = new Optimizer(Number.isFinite(clipNorm) ? { ...config, clipNorm } : config);
  const trainer = new Trainer({ model: space, tasks, optimizer, batchSize, seed: seed + 1 });
  try {
    tf.tidy(() => {
      const last = space.candidates.length - 1;
      const pinned = tf.tensor1d(space.candidates.map((_, i) => (i === last ? 0 : -1e4)));
      for (const p of space.alphaParameters) p.variable.assign(pinned);
    });
    trainer.runSteps(train, steps);
    tf.tidy(() => {
      const byKey = new Map(space.parameters.map((p) => [p.key, p]));
      for (const p of space.sharedModules.flat()) {
        for (const task of space.taskNames) byKey.get(p.key.replace(/^shared\//, `tasks/${task}/`))?.variable.assign(p.variable);
      }
      for (const p of space.alphaParameters) p.variable.assign(tf.zerosLike(p.variable));
    });
  } finally {
    trainer.dispose();
    optimizer.dispose();
  }
}

