/**
 * @mtl/forkmerge — ForkMerge: fork the model into branches, train each, merge by the interpolation
 * weight best on validation (Jiang et al., "ForkMerge: Mitigating Negative Transfer in Auxiliary-Task
 * Learning", NeurIPS 2023).
 */
export { forkMerge } from './forkmerge.js';
export { forkMergeEachTarget, type EachTargetOptions, type EachTargetResult } from './each-target.js';
export { interpolate, mergeBranches, mergeOptimizerStates } from './merge.js';
export { DEFAULT_GRID } from './validate.js';
export { presetBranches, branchTasks, type ResolvedBranch } from './branches.js';
export { searchPair, searchSimplexGrid } from './search/grid.js';
export { searchGreedy, type GreedyResult } from './search/greedy.js';
export { gridLine, binaryLine, type LineSearch } from './search/line-search.js';
export type { Objective, SearchResult } from './search/objective.js';
export type {
  BranchInfo,
  BranchPreset,
  BranchSetup,
  BranchSetupFactory,
  BranchSpec,
  BranchCheckpoint,
  ForkMergeOptions,
  ForkMergeProgress,
  ForkMergeResult,
  LambdaSearch,
  MergeScope,
  OptimizerStatePolicy,
  RoundRecord,
  RuleFactory,
  ScoreOption,
  WorkerOptions,
} from './options.js';
