import { requirePositiveInteger } from '../errors.js';
import type { LayerBuildContext } from '../models/specs.js';
import type { LayerTasks } from '../models/layers.js';
import { buildStages, type ResolvedArchitecture, type StagedNet } from './common.js';

/** `count` copies of the staged backbone, used by `tasks`, keys `${prefix}/${i}/stage…`. */
export function expertNets(context: LayerBuildContext, prefix: string, count: number, a: ResolvedArchitecture, tasks: LayerTasks): StagedNet[] {
  return Array.from({ length: count }, (_, i) => buildStages(context, `${prefix}/${i}`, a.inputShape, a.stages, tasks));
}

/** Expert counts of CGC and PLE: shared by all tasks, and per task. */
export interface ExpertCounts {
  /** Experts every task uses. Default 2. */
  readonly shared?: number;
  /** Experts of each task alone. Default 1. */
  readonly specific?: number;
}

export function expertCounts(option: ExpertCounts | undefined): { shared: number; specific: number } {
  return {
    shared: requirePositiveInteger('experts.shared', option?.shared ?? 2),
    specific: requirePositiveInteger('experts.specific', option?.specific ?? 1),
  };
}
