import type { ParamSnapshot } from '@mtl/core';
import type { BranchOutcome, BranchRunner, OptimizerSync } from './branch-runner.js';
import { BranchTrainer, type BranchTrainerInit } from './branch-trainer.js';

/** Runs a branch in this thread (branches then run one after another). */
export class SerialBranchRunner implements BranchRunner {
  readonly name: string;
  private readonly trainer: BranchTrainer;

  constructor(init: BranchTrainerInit) {
    this.name = init.branch.name;
    this.trainer = new BranchTrainer(init);
  }

  run(start: ParamSnapshot, steps: number, sync: OptimizerSync, wantOptimizer: boolean): Promise<BranchOutcome> {
    try {
      return Promise.resolve(this.trainer.run(start, steps, sync, wantOptimizer));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  dispose(): Promise<void> {
    this.trainer.dispose();
    return Promise.resolve();
  }
}
