/**
 * @mtl/transference — lookahead inter-task affinity, TAG task grouping and IT-MTL candidate
 * selection (Fifty et al., "Measuring and Harnessing Transference in Multi-Task Learning", 2020;
 * "Efficiently Identifying Task Groupings for Multi-Task Learning", NeurIPS 2021).
 */
export { selectTaskGroups, EXHAUSTIVE_LIMIT, type SelectTaskGroupsOptions, type TaskGroupSelection } from './grouping/select-task-groups.js';
export { SINGLETON_SCORE, MAX_GROUPING_TASKS } from './grouping/group-scores.js';
export { measureStepAffinity, type AffinityOptions, type AffinityMeasurement } from './affinity/step-affinity.js';
export { withAffinity, type AffinityTrackingOptions, type AffinityTrackingRule } from './affinity/with-affinity.js';
export { measureAffinity, type MeasureAffinityOptions, type AffinityResult } from './affinity/measure-affinity.js';
export { itMtl, type ItMtlOptions, type ItMtlRule, type ItMtlState } from './it-mtl/it-mtl.js';
export type { CandidateSpec } from './it-mtl/candidates.js';
