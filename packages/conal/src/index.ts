/**
 * @mtl/conal — CoNAL, conflict-noticed architecture learning (Yue, Zhang and Liang, AAAI 2023):
 * search branch points over all-shared and purely-specific modules, derive a tree-shaped network,
 * retrain it from scratch.
 */
export { noticeConflicts, noticeConflictsByModule, type ModuleColumns, type NoticingResult } from './noticing.js';
export type { BlockSpec } from './blocks.js';
export { ConalSearchSpace, type SearchSpaceOptions, type BackboneDescription } from './search-space.js';
export type { ConalParameter } from './built-model.js';
