/**
 * @mtl/group-update — Selective task group updates with proximal inter-task affinity (Jeong et al.,
 * ICLR 2025): task groups updated one after another per batch, re-formed by Affinity Propagation.
 */
export { selectiveGroupUpdate, type SelectiveGroupUpdateRule, type SelectiveGroupUpdateState } from './selective-group-update.js';
export type { SelectiveGroupUpdateOptions, GroupingOption, GroupOrder, ClusteringOptions, AffinityRecord, InnerRule } from './options.js';
export { affinityPropagation, type AffinityPropagationOptions, type AffinityPropagationResult } from './affinity-propagation.js';
