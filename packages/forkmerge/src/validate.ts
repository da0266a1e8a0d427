import { MtlError, Optimizer, validateDataset, type OptimizerConfig, type Task } from '@mtl/core';
import { anyValue, checkOptions, invalidOption, isArray, requireFiniteNumber, requirePositiveInteger, type OptionValidator } from '@mtl/core/internal';
import { explicitBranches, presetBranches, type ResolvedBranch } from './branches.js';
import type { BranchCheckpoint, ForkMergeOptions, LambdaSearch, MergeScope, OptimizerStatePolicy, RuleFactory, WorkerOptions } from './options.js';

/** The default λ grid {0, 0.2, …, 1}. */
export const DEFAULT_GRID: readonly number[] = [0, 0.2, 0.4, 0.6, 0.8, 1];

/** Options after validation, with defaults filled in. */
export interface ResolvedOptions {
  readonly targets: readonly string[];
  readonly branches: readonly ResolvedBranch[];
  readonly optimizer: OptimizerConfig;
  readonly rule: RuleFactory | undefined;
  readonly intervalSteps: number;
  readonly rounds: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly search: LambdaSearch;
  readonly grid: readonly number[];
  readonly binarySteps: number;
  readonly score: (evaluation: Readonly<Record<string, number>>) => number;
  readonly validationSubsample: number | undefined;
  readonly prune: number;
  readonly optimizerState: OptimizerStatePolicy;
  readonly mergeScope: MergeScope;
  readonly taskWeights: 'loss' | 'sampling';
  /** Set for `branches: 'top-k'`: the branches are built after the ranking runs. */
  readonly topK: { readonly ks: readonly number[]; readonly pruningSteps: number } | undefined;
  readonly branchCheckpoint: BranchCheckpoint;
  readonly finalModel: 'last' | 'best';
  readonly forkFrom: 'merge' | 'best-merge';
  readonly checkpoint: { readonly dir: string; readonly keep: number } | undefined;
  readonly resume: boolean;
  readonly progress: { readonly stream: NodeJS.WritableStream } | undefined;
  /** True when `score` is the caller's own function (a NaN from it is the caller's error, not a diverged merge). */
  readonly customScore: boolean;
  readonly workers: (WorkerOptions & { readonly timeoutMs: number }) | undefined;
  readonly evaluationBatchSize: number;
}

/** Checks every option (throwing `MtlError` INVALID_OPTION naming the option and value) and fills defaults. */
/**
 * Every option key; anything else is a typo, reported with the list. Typed over all of
 * {@link ForkMergeOptions}, so an option added there and not here fails to compile. Each option's
 * value is checked below, where its default is filled in.
 */
const OPTION_SPEC: { readonly [K in keyof Required<ForkMergeOptions>]: OptionValidator } = {
  model: anyValue, tasks: anyValue, train: anyValue, validation: anyValue, target: anyValue, optimizer: anyValue, rule: anyValue,
  branches: anyValue, topK: anyValue, taskWeights: anyValue, interval: anyValue, rounds: anyValue, batchSize: anyValue, seed: anyValue,
  search: anyValue, grid: anyValue, binarySteps: anyValue, score: anyValue, validationSubsample: anyValue, prune: anyValue,
  optimizerState: anyValue, mergeScope: anyValue, branchCheckpoint: anyValue, finalModel: anyValue, forkFrom: anyValue,
  checkpoint: anyValue, resume: anyValue, progress: anyValue, onProgress: anyValue, workers: anyValue, onRound: anyValue,
  evaluationBatchSize: anyValue,
};

export function resolveOptions(options: ForkMergeOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') invalidOption('options', options, 'an options object');
  checkOptions(options, OPTION_SPEC, 'forkMerge');
  const { model, tasks, train, validation } = options;
  if (!model || !Array.isArray(model.parameters)) invalidOption('model', model, 'a MultiTaskModel');
  if (!Array.isArray(tasks) || tasks.length === 0) invalidOption('tasks', tasks, 'a non-empty array of tasks');
  const taskNames = tasks.map((t: Task) => t.name);
  for (const name of taskNames) {
    if (!model.taskNames.includes(name)) invalidOption('tasks', name, `tasks of the model (${model.taskNames.join(', ')})`);
  }
  if (!train || typeof train.gather !== 'function') invalidOption('train', train, 'a MultiTaskDataset');
  if (!validation || typeof validation.gather !== 'function') invalidOption('validation', validation, 'a MultiTaskDataset');
  // Checked up front, as the trainer checks its data: a wrong input width, a label out of range or a
  // missing target must fail before round 0 trains, not be scored silently or fail after it.
  validateDataset(train, tasks, model.inputShape, 'training data');
  validateDataset(validation, tasks, model.inputShape, 'validation data');

  const targets = resolveTargets(options.target, taskNames);
  const hasAuxiliary = taskNames.some((t) => !targets.includes(t));
  const branchOption = options.branches ?? (hasAuxiliary ? 'pair' : 'per-task');
  const branches =
    branchOption === 'top-k' ? [] : typeof branchOption === 'string' ? presetBranches(branchOption, taskNames, targets) : explicitBranches(branchOption, taskNames);
  if (branches.length < 2 && options.branches !== undefined && branchOption !== 'top-k') invalidOption('branches', options.branches, 'at least two distinct branches');

  const optimizer = resolveOptimizer(options.optimizer);
  if (options.rule !== undefined && typeof options.rule !== 'function') invalidOption('rule', options.rule, 'a function (branch) => UpdateRule');

  const batchSize = requirePositiveInteger('batchSize', options.batchSize ?? 32);
  const intervalSteps = resolveInterval(options.interval, train.size, batchSize);
  const rounds = requirePositiveInteger('rounds', options.rounds);
  const seed = requireFiniteNumber('seed', options.seed ?? 0);

  const search = options.search ?? (branchOption === 'top-k' ? 'greedy' : branches.length === 2 ? 'grid' : 'greedy');
  if (!['grid', 'greedy', 'binary'].includes(search)) invalidOption('search', search, '"grid", "greedy" or "binary"');
  const grid = resolveGrid(options.grid);
  const binarySteps = requirePositiveInteger('binarySteps', options.binarySteps ?? 6);
  const score = resolveScore(options.score ?? 'loss', targets, tasks);
  const validationSubsample = options.validationSubsample === undefined ? undefined : requirePositiveInteger('validationSubsample', options.validationSubsample);

  const topK = resolveTopK(options, branchOption === 'top-k', taskNames.length - targets.length, intervalSteps);
  const branchCount = topK ? topK.ks.length : branches.length;
  const prune = options.prune === undefined ? branchCount : requirePositiveInteger('prune', options.prune);
  if (prune > branchCount) invalidOption('prune', prune, `at most the number of branches (${branchCount})`);
  const taskWeights = options.taskWeights ?? 'loss';
  if (!['loss', 'sampling'].includes(taskWeights)) invalidOption('taskWeights', taskWeights, '"loss" or "sampling"');
  if (taskWeights === 'sampling' && options.rule !== undefined) invalidOption('rule', 'a rule factory', "unset with taskWeights: 'sampling' (each step trains the one sampled task)");

  const optimizerState = options.optimizerState ?? 'keep';
  if (!['keep', 'reset', 'merge'].includes(optimizerState)) invalidOption('optimizerState', optimizerState, '"keep", "reset" or "merge"');
  const mergeScope = options.mergeScope ?? 'shared+target';
  if (!['shared+target', 'all'].includes(mergeScope)) invalidOption('mergeScope', mergeScope, '"shared+target" or "all"');
  const branchCheckpoint = options.branchCheckpoint ?? 'last';
  if (!['last', 'best'].includes(branchCheckpoint)) invalidOption('branchCheckpoint', branchCheckpoint, '"last" or "best"');
  const finalModel = options.finalModel ?? 'last';
  if (!['last', 'best'].includes(finalModel)) invalidOption('finalModel', finalModel, '"last" or "best"');
  const forkFrom = options.forkFrom ?? 'merge';
  if (!['merge', 'best-merge'].includes(forkFrom)) invalidOption('forkFrom', forkFrom, '"merge" or "best-merge"');
  const checkpoint = resolveCheckpoint(options.checkpoint);
  const resume = options.resume ?? false;
  if (typeof resume !== 'boolean') invalidOption('resume', resume, 'a boolean');
  if (resume && !checkpoint) invalidOption('resume', resume, 'false unless checkpoint.dir is set (there is nothing to resume from)');
  const progress = resolveProgress(options.progress);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') invalidOption('onProgress', options.onProgress, 'a function');
  const names = branches.map((b) => b.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) invalidOption('branches', duplicate, `distinct branch names (two branches are called "${duplicate}")`);
  if (options.onRound !== undefined && typeof options.onRound !== 'function') invalidOption('onRound', options.onRound, 'a function');
  const evaluationBatchSize = requirePositiveInteger('evaluationBatchSize', options.evaluationBatchSize ?? 256);
  const workers = resolveWorkers(options.workers);

  return {
    targets,
    branches,
    optimizer,
    rule: options.rule,
    intervalSteps,
    rounds,
    batchSize,
    seed,
    search,
    grid,
    binarySteps,
    score,
    validationSubsample,
    prune,
    optimizerState,
    mergeScope,
    taskWeights,
    topK,
    branchCheckpoint,
    finalModel,
    forkFrom,
    checkpoint,
    resume,
    progress,
    customScore: typeof options.score === 'function',
    workers,
    evaluationBatchSize,
  };
}

function resolveTargets(target: string | readonly string[] | undefined, taskNames: readonly string[]): string[] {
  if (target === undefined) return [...taskNames];
  const list: readonly string[] = typeof target === 'string' ? [target] : target;
  if (!isArray(list) || list.length === 0) invalidOption('target', target, 'a task name or a non-empty array of task names');
  for (const t of list) {
    if (!taskNames.includes(t)) invalidOption('target', t, `one of the tasks (${taskNames.join(', ')})`);
  }
  return taskNames.filter((t) => list.includes(t));
}

function resolveOptimizer(optimizer: OptimizerConfig | Optimizer | undefined): OptimizerConfig {
  if (optimizer === undefined) return { kind: 'adam', learningRate: 1e-3 };
  const config = optimizer instanceof Optimizer ? optimizer.config : optimizer;
  // The Optimizer constructor validates the configuration with typed errors.
  new Optimizer(config).dispose();
  return config;
}

function resolveInterval(interval: ForkMergeOptions['interval'], trainSize: number, batchSize: number): number {
  if (typeof interval === 'number') return requirePositiveInteger('interval', interval);
  if (interval !== null && typeof interval === 'object') {
    const epochs = requirePositiveInteger('interval.epochs', interval.epochs);
    return epochs * Math.ceil(trainSize / batchSize);
  }
  return invalidOption('interval', interval, 'a positive integer number of steps or { epochs }');
}

function resolveGrid(grid: readonly number[] | undefined): number[] {
  if (grid === undefined) return [...DEFAULT_GRID];
  const list: readonly number[] = grid;
  if (!isArray(list) || list.length === 0) invalidOption('grid', grid, 'a non-empty array of numbers in [0, 1]');
  list.forEach((v, i) => requireFiniteNumber(`grid[${i}]`, v, { min: 0, max: 1 }));
  return [...new Set(list)].sort((a, b) => a - b);
}

function resolveScore(score: ForkMergeOptions['score'], targets: readonly string[], tasks: readonly Task[]): ResolvedOptions['score'] {
  if (typeof score === 'function') return score;
  if (score === 'loss') {
    return (evaluation) => -targets.reduce((sum, t) => sum + read(evaluation, `${t}/loss`), 0);
  }
  if (typeof score !== 'string' || score.length === 0) invalidOption('score', score, '"loss", a metric name or a function');
  const signs = targets.map((t) => {
    const metric = tasks.find((task) => task.name === t)?.metrics[score];
    if (!metric) invalidOption('score', score, `"loss" or a metric every target task has (task "${t}" has: ${Object.keys(tasks.find((task) => task.name === t)?.metrics ?? {}).join(', ') || 'none'})`);
    return metric.higherIsBetter ? 1 : -1;
  });
  return (evaluation) => targets.reduce((sum, t, i) => sum + signs[i]! * read(evaluation, `${t}/${score}`), 0) / targets.length;
}

function read(evaluation: Readonly<Record<string, number>>, key: string): number {
  const value = evaluation[key];
  if (value === undefined) throw new MtlError('INVALID_OPTION', `the validation evaluation has no "${key}"`, { option: 'score', value: key });
  return value;
}

function resolveTopK(options: ForkMergeOptions, wanted: boolean, auxiliaries: number, intervalSteps: number): ResolvedOptions['topK'] {
  if (!wanted) {
    if (options.topK !== undefined) invalidOption('topK', options.topK, "unset unless branches is 'top-k'");
    return undefined;
  }
  if (auxiliaries === 0) invalidOption('branches', 'top-k', 'a preset with auxiliary tasks to rank ("top-k" needs a target and auxiliaries)');
  const topK = options.topK ?? {};
  checkOptions(topK, { ks: anyValue, pruningSteps: anyValue }, 'forkMerge', 'topK.');
  const ks = topK.ks ?? [0, 1, 2].filter((k) => k <= auxiliaries);
  if (!isArray(ks) || ks.length < 2) invalidOption('topK.ks', ks, 'at least two branch sizes');
  ks.forEach((k, i) => {
    if (!Number.isInteger(k) || k < 0 || k > auxiliaries) invalidOption(`topK.ks[${i}]`, k, `an integer in [0, ${auxiliaries}] (the number of auxiliary tasks)`);
  });
  if (new Set(ks).size !== ks.length) invalidOption('topK.ks', ks, 'distinct sizes');
  return { ks: [...ks], pruningSteps: requirePositiveInteger('topK.pruningSteps', topK.pruningSteps ?? 10 * intervalSteps) };
}

function resolveCheckpoint(checkpoint: ForkMergeOptions['checkpoint']): ResolvedOptions['checkpoint'] {
  if (checkpoint === undefined) return undefined;
  if (checkpoint === null || typeof checkpoint !== 'object') invalidOption('checkpoint', checkpoint, 'an object { dir, keep? }');
  checkOptions(checkpoint, { dir: anyValue, keep: anyValue }, 'forkMerge', 'checkpoint.');
  if (typeof checkpoint.dir !== 'string' || checkpoint.dir.length === 0) invalidOption('checkpoint.dir', checkpoint.dir, 'a directory path');
  return { dir: checkpoint.dir, keep: requirePositiveInteger('checkpoint.keep', checkpoint.keep ?? 2) };
}

function resolveProgress(progress: ForkMergeOptions['progress']): ResolvedOptions['progress'] {
  if (progress === false || (progress === undefined && !process.stdout.isTTY)) return undefined;
  if (progress === true || progress === undefined) return { stream: process.stdout };
  if (progress === null || typeof progress !== 'object') invalidOption('progress', progress, 'true, false or { stream }');
  return { stream: progress.stream ?? process.stdout };
}

function resolveWorkers(workers: WorkerOptions | undefined): ResolvedOptions['workers'] {
  if (workers === undefined) return undefined;
  if (workers === null || typeof workers !== 'object') invalidOption('workers', workers, 'an object with setupModule');
  const module = workers.setupModule;
  if (!(module instanceof URL) && (typeof module !== 'string' || module.length === 0)) {
    invalidOption('workers.setupModule', module, 'a path or URL of the setup module');
  }
  if (workers.execArgv !== undefined && (!Array.isArray(workers.execArgv) || workers.execArgv.some((a) => typeof a !== 'string'))) {
    invalidOption('workers.execArgv', workers.execArgv, 'an array of strings');
  }
  checkOptions(workers, { setupModule: anyValue, setupArgs: anyValue, execArgv: anyValue, timeoutMs: anyValue }, 'forkMerge', 'workers.');
  const timeoutMs = requirePositiveInteger('workers.timeoutMs', workers.timeoutMs ?? 600_000);
  return { ...workers, timeoutMs };
}
