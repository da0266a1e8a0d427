import { ParamSnapshot, Optimizer, Trainer, weightedSum, type MultiTaskDataset, type MultiTaskModel, type OptimizerConfig, type Task } from '@mtl/core';
import { branchTasks, type ResolvedBranch } from '../branches.js';
import type { BranchInfo, RuleFactory } from '../options.js';
import type { BranchOutcome, OptimizerSync } from './branch-runner.js';

export interface BranchTrainerInit {
  readonly index: number;
  readonly branch: ResolvedBranch;
  /** The branch's own model (a clone, or a worker's rebuild); disposed with the trainer. */
  readonly model: MultiTaskModel;
  /** All tasks; the branch trains those with ν_b > 0. */
  readonly tasks: readonly Task[];
  readonly train: MultiTaskDataset;
  readonly rule: RuleFactory | undefined;
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

  constructor(init: BranchTrainerInit) {
    this.model = init.model;
    this.train = init.train;
    const tasks = branchTasks(init.tasks, init.branch.weights);
    this.taskNames = tasks.map((t) => t.name);
    const info: BranchInfo = { index: init.index, name: init.branch.name, weights: init.branch.weights, tasks };
    this.optimizer = new Optimizer(init.optimizer);
    this.trainer = new Trainer({
      model: init.model,
      tasks,
      optimizer: this.optimizer,
      rule: init.rule ? init.rule(info) : weightedSum(),
      batchSize: init.batchSize,
      seed: init.seed,
    });
  }

  run(start: ParamSnapshot, steps: number, sync: OptimizerSync, wantOptimizer: boolean): BranchOutcome {
    start.restore(this.model);
    if (sync.kind === 'reset') this.optimizer.reset();
    else if (sync.kind === 'set') {
      this.optimizer.restore(sync.state);
    }
    const stats = this.trainer.runSteps(this.train, steps);
    const trainLoss = Object.fromEntries(
      this.taskNames.map((name) => [name, stats.reduce((sum, s) => sum + (s.losses[name] ?? 0), 0) / Math.max(1, stats.length)]),
    );
    return {
      params: ParamSnapshot.capture(this.model),
      optimizer: wantOptimizer ? this.optimizer.snapshot() : undefined,
      trainLoss,
    };
  }

  dispose(): void {
    this.trainer.dispose();
    this.optimizer.dispose();
    this.model.dispose();
  }
}
