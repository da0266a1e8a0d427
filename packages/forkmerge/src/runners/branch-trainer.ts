import { MtlError, ParamSnapshot, Optimizer, Trainer, weightedSum, type MultiTaskDataset, type MultiTaskModel, type OptimizerConfig, type Task } from '@mtl/core';
import { restoreEntries } from '../scope.js';
import { sampledTaskRule } from '../task-sampling.js';
import { branchTasks, type ResolvedBranch } from '../branches.js';
import type { BranchInfo, RuleFactory } from '../options.js';
import type { BranchOutcome, OptimizerSync, RunContext } from './branch-runner.js';

export interface BranchTrainerInit {
  readonly index: number;
  readonly branch: ResolvedBranch;
  /** The branch's own model (a clone, or a worker's rebuild); disposed with the trainer. */
  readonly model: MultiTaskModel;
  /** All tasks; the branch trains those with ν_b > 0. */
  readonly tasks: readonly Task[];
  readonly train: MultiTaskDataset;
  readonly rule: RuleFactory | undefined;
  /** `'sampling'`: ν_b are per-step task sampling probabilities (the authors' DomainNet code). */
  readonly taskWeights: 'loss' | 'sampling';
  readonly optimizer: OptimizerConfig;
  readonly batchSize: number;
  readonly seed: number;
}

/**
 * One branch's model, optimizer and {@link Trainer}, kept across rounds so that the batch stream and
 * (with `optimizerState: 'keep'`) the optimizer state continue. Used in this thread and in workers alike,
 * which is what makes the serial and parallel runs identical.
 */
export class BranchTrainer {
  readonly model: MultiTaskModel;
  private readonly trainer: Trainer;
  private readonly optimizer: Optimizer;
  private readonly train: MultiTaskDataset;
  private readonly taskNames: readonly string[];
  private readonly name: string;

  constructor(init: BranchTrainerInit) {
    this.model = init.model;
    this.name = init.branch.name;
    this.train = init.train;
    const sampling = init.taskWeights === 'sampling';
    // Loss weights scale each task's loss; sampling probabilities leave the losses as they are.
    const tasks = sampling ? init.tasks.filter((t) => (init.branch.weights[t.name] ?? 0) > 0) : branchTasks(init.tasks, init.branch.weights);
    this.taskNames = tasks.map((t) => t.name);
    const info: BranchInfo = { index: init.index, name: init.branch.name, weights: init.branch.weights, tasks };
    this.optimizer = new Optimizer(init.optimizer);
    this.trainer = new Trainer({
      model: init.model,
      tasks,
      optimizer: this.optimizer,
      rule: sampling ? sampledTaskRule(tasks, init.branch.weights) : init.rule ? init.rule(info) : weightedSum(),
      batchSize: init.batchSize,
      seed: init.seed,
    });
  }

  run(start: ParamSnapshot, steps: number, sync: OptimizerSync, wantOptimizer: boolean, context: RunContext): BranchOutcome {
    restoreEntries(start, this.model);
    if (sync.kind === 'reset') this.optimizer.reset();
    else if (sync.kind === 'set') {
      this.optimizer.restore(sync.state);
    }
    let stats;
    try {
      stats = this.trainer.runSteps(this.train, steps);
    } catch (error) {
      throw this.named(error, context);
    }
    const trainLoss = Object.fromEntries(
      this.taskNames.map((name) => [name, stats.reduce((sum, s) => sum + (s.losses[name] ?? 0), 0) / Math.max(1, stats.length)]),
    );
    return {
      params: ParamSnapshot.capture(this.model),
      optimizer: wantOptimizer ? this.optimizer.snapshot() : undefined,
      trainLoss,
    };
  }

  async save(dir: string): Promise<void> {
    await this.trainer.saveCheckpoint(this.train, { dir });
  }

  async restore(dir: string, context: RunContext): Promise<void> {
    const restored = await this.trainer.restoreCheckpoint(this.train, { dir });
    if (!restored) {
      throw new MtlError('CHECKPOINT', `branch "${this.name}": no checkpoint of round ${context.round} in ${dir}`, { branch: this.name, round: context.round, path: dir });
    }
  }

  /** A training failure with the branch and round it happened in (a diverging branch says which). */
  private named(error: unknown, context: RunContext): Error {
    const where = `branch "${this.name}", round ${context.round}`;
    if (error instanceof MtlError) return new MtlError(error.code, `${where}: ${error.message.replace(/^\[[A-Z_]+\] /, '')}`, { ...error.details, branch: this.name, round: context.round }, { cause: error });
    return new Error(`${where}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }

  dispose(): void {
    this.trainer.dispose();
    this.optimizer.dispose();
    this.model.dispose();
  }
}
