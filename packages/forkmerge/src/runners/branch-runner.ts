import type { OptimizerSnapshot, ParamSnapshot } from '@mtl/core';
import type { ResolvedBranch } from '../branches.js';

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

/** Where in the run a request happens (errors name it). */
export interface RunContext {
  readonly round: number;
}

/** Trains one branch, in this thread or in a worker. */
export interface BranchRunner {
  readonly name: string;
  readonly branch: ResolvedBranch;
  /**
   * Writes the entries `start` has into the branch's model (not consumed; entries it lacks, e.g.
   * auxiliary heads outside the merge, stay the branch's own), syncs the optimizer, takes `steps` steps.
   */
  run(start: ParamSnapshot, steps: number, sync: OptimizerSync, wantOptimizer: boolean, context: RunContext): Promise<BranchOutcome>;
  /** Saves the branch's whole trainer state (model, optimizer, batch order, RNGs, rule) into `dir`. */
  save(dir: string, context: RunContext): Promise<void>;
  /** Restores what {@link save} wrote into `dir`. */
  restore(dir: string, context: RunContext): Promise<void>;
  dispose(): Promise<void>;
}
