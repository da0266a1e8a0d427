import type { MultiTaskModel, Optimizer, OptimizerConfig, Task, TrainerCallback, UpdateRule } from '@mtl/core';
import type { BenchmarkData } from '../data.js';
import type { HistoryEntry, JobOutput, JobProgress, JobSpec } from '../job.js';

/** What a method adapter gets to run one job. */
export interface MethodContext {
  readonly job: JobSpec;
  /** The data as the architecture reads it. */
  readonly data: BenchmarkData;
  /** Per-method options from `--config` (`methodOptions.<method>`), passed to the method's package. */
  readonly options: Readonly<Record<string, unknown>>;
  readonly optimizerConfig: OptimizerConfig;
  /** A fresh model of the benchmark's architecture for these tasks (default: all), seeded by the job. */
  buildModel(tasks?: readonly Task[]): MultiTaskModel;
  optimizer(): Optimizer;
  /**
   * Trains a model with an update rule through core's Trainer: checkpoints every epoch in
   * `<checkpointDir>/<part>` and resumes from the last one, so a killed job continues where it was.
   * Returns the trained model (caller disposes) and its per-epoch history.
   */
  trainWithRule(rule: UpdateRule | undefined, options?: TrainOptions): Promise<TrainedModel>;
  /** Evaluates a model on the test split: `<task> → <metric> → value` (loss included). */
  evaluateTest(model: MultiTaskModel, tasks?: readonly Task[]): Record<string, Record<string, number>>;
  /** Reports progress; `fraction` of the whole job in [0, 1]. */
  progress(update: Omit<JobProgress, 'id'>): void;
  /** Loads an optional method package, or throws a clear "not installed" error. */
  importPackage<T>(name: string): Promise<T>;
}

export interface TrainOptions {
  readonly tasks?: readonly Task[];
  readonly model?: MultiTaskModel;
  /** Checkpoint sub-folder (several trainings in one job, e.g. STL's one per task). */
  readonly part?: string;
  readonly callbacks?: readonly TrainerCallback[];
  /** Share of the job this training covers, for progress: [start, end) of [0, 1]. */
  readonly span?: readonly [number, number];
  readonly optimizer?: Optimizer;
}

export interface TrainedModel {
  readonly model: MultiTaskModel;
  readonly history: readonly HistoryEntry[];
}

/**
 * One method of the benchmark as a small adapter: it maps the method's package onto the job model
 * (data in, test metrics and method records out). Adapters own no algorithm.
 */
export interface MethodAdapter {
  /** Display name (`PCGrad`); lookups are case-insensitive over the name and aliases. */
  readonly name: string;
  readonly aliases?: readonly string[];
  /** Family shown in the report: baseline, loss weighting, gradient aggregator, outer loop, ... */
  readonly family: string;
  /** The package the method comes from. */
  readonly package: string;
  readonly description: string;
  /** Rough cost of one job in EW jobs (for scheduling the longest first). Default 1. */
  readonly cost?: number;
  run(ctx: MethodContext): Promise<JobOutput>;
}
