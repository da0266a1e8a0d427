/**
 * @mtl/conal — CoNAL, conflict-noticed architecture learning (Yue, Zhang and Liang, AAAI 2023):
 * search branch points over all-shared and purely-specific modules, derive a tree-shaped network,
 * retrain it from scratch.
 */
export { noticeConflicts, noticeConflictsByModule, type ModuleColumns, type NoticingResult } from './noticing.js';
export type { BlockSpec } from './blocks.js';
export { ConalSearchSpace, countWeights, type SearchSpaceOptions, type BackboneDescription } from './search-space.js';
export { parseArchitecture, type ConalArchitecture, type ArchitectureNode } from './architecture.js';
export { buildDerivedModel, derivedTreeOptions, type DerivedModel } from './derived-model.js';
export { deriveArchitecture, architectureFromBranchPoints } from './derive.js';
export { conalSearch, type ConalSearchResult } from './conal-search.js';
export {
  runSearch,
  DEFAULT_WEIGHT_OPTIMIZER,
  DEFAULT_ARCHITECTURE_OPTIMIZER,
  type SearchOptions,
  type ConalSearchOptions,
  type AlphaRecord,
  type NoticingStats,
  type SearchRun,
} from './search.js';
export { conalSearchRule, type ConalSearchRule, type SearchRuleOptions, type NoticingCounters } from './search-rule.js';
export { retrain, DEFAULT_RETRAIN_OPTIMIZER, type RetrainOptions, type RetrainResult } from './retrain.js';
export { conalProSearch, proArchitecture, type ConalProResult, type ConalProStage } from './conal-pro.js';
