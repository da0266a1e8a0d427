import type { ParamSnapshot } from '@mtl/core';
import type { ResolvedBranch } from '../branches.js';
import type { BranchOutcome, BranchRunner, OptimizerSync, RunContext } from './branch-runner.js';
import { BranchTrainer, type BranchTrainerInit } from './branch-trainer.js';

/** Runs a branch in this thread (branches then run one after another). */
export class SerialBranchRunner implements BranchRunner {
  readonly name: string;
  readonly branch: ResolvedBranch;
  private readonly trainer: BranchTrainer;

  constructor(init: BranchTrainerInit) {
    this.name = init.branch.name;
    this.branch = init.branch;
    this.trainer = new BranchTrainer(init);
  }

  run(start: ParamSnapshot, steps: number, sync: OptimizerSync, wantOptimizer: boolean, context: RunContext): Promise<BranchOutcome> {
    try {
      return Promise.resolve(this.trainer.run(start, steps, sync, wantOptimizer, context));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  save(dir: string): Promise<void> {
    return this.trainer.save(dir);
  }

  restore(dir: string, context: RunContext): Promise<void> {
    return this.trainer.restore(dir, context);
  }

  dispose(): Promise<void> {
    this.trainer.dispose();
    return Promise.resolve();
  }
}
