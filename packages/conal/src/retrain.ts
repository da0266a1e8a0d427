import { Optimizer, Trainer, lossWeightingRule, randomUniformWeighting } from '@mtl/core';
import type { EpochLog, MultiTaskDataset, OptimizerConfig, Task, TrainerCallback, UpdateRule } from '@mtl/core';
import { invalidOption, requireNonNegativeInteger, requirePositiveInteger } from '@mtl/core/internal';
import type { ConalArchitecture } from './architecture.js';
import { checkKeys } from './blocks.js';
import { buildDerivedModel, type DerivedModel } from './derived-model.js';

/** The authors' retraining optimiser (train.py with conal.yml): Adam, lr 1e-4, weight decay 1e-5, gradients clipped to norm 5. */
export const DEFAULT_RETRAIN_OPTIMIZER: OptimizerConfig = { kind: 'adam', learningRate: 1e-4, weightDecay: 1e-5, clipNorm: 5 };

export interface RetrainOptions {
  /** The derived architecture (`conalSearch(...).architecture`, or its JSON text). */
  readonly architecture: ConalArchitecture | string;
  readonly tasks: readonly Task[];
  readonly train: MultiTaskDataset;
  /** Evaluated after every epoch (the history's `validation`). */
  readonly validation?: MultiTaskDataset;
  /** Default 100 (conal.yml's num_epochs). */
  readonly epochs?: number;
  /** Default 8 (conal.yml). */
  readonly batchSize?: number;
  readonly optimizer?: OptimizerConfig;
  /**
   * How each batch updates the network. Default: the paper's RLW (Eq. 3) —
   * `lossWeightingRule(randomUniformWeighting())`. Any core `UpdateRule` works: an aggregator from
   * `@mtl/weighting` for CoNAL-PCGrad / CoNAL-CAGrad (§3.5), `weightedSum()` for the released code's plain sum.
   */
  readonly rule?: UpdateRule;
  /** Seed of the fresh initial weights and of the batch order / rule draws. Default 0. */
  readonly seed?: number;
  readonly callbacks?: readonly TrainerCallback[];
}

export interface RetrainResult {
  /** The trained network; the caller disposes it. */
  readonly model: DerivedModel;
  readonly history: readonly EpochLog[];
  readonly milliseconds: number;
}

const RETRAIN_KEYS = ['architecture', 'tasks', 'train', 'validation', 'epochs', 'batchSize', 'optimizer', 'rule', 'seed', 'callbacks'];

/**
 * Retraining (§2.2): the derived network built afresh from its architecture (nothing is kept from
 * the search) and trained by core's `Trainer` with the given rule, by default random loss weights
 * w_t ~ U[0, 1] normalised to sum 1, redrawn every step.
 */
export async function retrain(options: RetrainOptions): Promise<RetrainResult> {
  if (typeof options !== 'object' || options === null) invalidOption('options', options, 'an options object');
  checkKeys('options', options, RETRAIN_KEYS);
  const epochs = requirePositiveInteger('epochs', options.epochs ?? 100);
  const batchSize = requirePositiveInteger('batchSize', options.batchSize ?? 8);
  const seed = requireNonNegativeInteger('seed', options.seed ?? 0);
  if (options.rule !== undefined && (typeof options.rule !== 'object' || typeof options.rule?.step !== 'function')) invalidOption('rule', options.rule, 'an UpdateRule');
  const optimizer = new Optimizer(options.optimizer ?? DEFAULT_RETRAIN_OPTIMIZER);
  const model = buildDerivedModel(options.architecture, { tasks: options.tasks, seed });
  const rule = options.rule ?? lossWeightingRule(randomUniformWeighting());
  const trainer = new Trainer({
    model,
    tasks: options.tasks,
    optimizer,
    rule,
    batchSize,
    seed,
    ...(options.callbacks ? { callbacks: options.callbacks } : {}),
  });
  const started = performance.now();
  try {
    const result = await trainer.fit(options.train, { epochs, ...(options.validation ? { validation: options.validation } : {}) });
    return { model, history: result.history, milliseconds: performance.now() - started };
  } catch (error) {
    model.dispose();
    throw error;
  } finally {
    trainer.dispose();
    optimizer.dispose();
  }
}
