import type { OptimizerSnapshot, ParamSnapshot } from '@mtl/core';

/** What a branch does with its optimizer state when it is forked again. */
export type OptimizerSync =
  | { readonly kind: 'keep' }
  | { readonly kind: 'reset' }
  /** Replace the state with a copy of `state` (merged state; the caller keeps ownership). */
  | { readonly kind: 'set'; readonly state: OptimizerSnapshot };

/** One branch's parameters (and optimizer state, when asked) after Δt steps. The caller owns them. */
export interface BranchOutcome {
  readonly params: ParamSnapshot;
  readonly optimizer?: OptimizerSnapshot | undefined;
  /** Mean training loss of each of the branch's tasks over the steps. */
  readonly trainLoss: Readonly<Record<string, number>>;
}

/** Trains one branch, in this thread or in a worker. */
export interface BranchRunner {
  readonly name: string;
  /** Starts from `start` (not consumed), syncs the optimizer, takes `steps` steps. */
  run(start: ParamSnapshot, steps: number, sync: OptimizerSync, wantOptimizer: boolean): Promise<BranchOutcome>;
  dispose(): Promise<void>;
}
