import { MtlError, type GradientAggregator, type LossWeighting } from '@mtl/core';
import { describeValue, invalidOption, isArray, requireFiniteNumber, requireNonNegativeInteger, requirePositiveInteger } from '@mtl/core/internal';

/**
 * How tasks are grouped:
 * - `'adaptive'` (the method): every task alone during the warm-up, then re-formed every batch by
 *   Affinity Propagation on the tracked affinity;
 * - `'joint'`: one group of all tasks (the GD baseline of the ablation);
 * - `'separate'`: every task alone, always (the other baseline);
 * - fixed groups of task names, e.g. `[['depth', 'normals'], ['semseg']]`.
 */
export type GroupingOption = 'adaptive' | 'joint' | 'separate' | readonly (readonly string[])[];

/** The order groups are updated in within a batch: as formed, reversed, or shuffled each batch (the authors' default). */
export type GroupOrder = 'forward' | 'backward' | 'random';

/** Affinity Propagation settings of the re-grouping and the authors' retry rule. */
export interface ClusteringOptions {
  /** Default: the median of the similarity matrix (the authors' `preference: None`). */
  readonly preference?: number;
  /** Default 0.5. */
  readonly damping?: number;
  /** Default 50 (the authors' value; scikit-learn's default is 15). */
  readonly convergenceIter?: number;
  /** Default 200. */
  readonly maxIter?: number;
  /** Clustering attempts per batch while no exemplar is found (default 10); then the previous groups are kept. */
  readonly attempts?: number;
  /** Added to `convergenceIter` after each attempt that found no exemplar (default 100). */
  readonly retryIncrement?: number;
}

/** What {@link SelectiveGroupUpdateOptions.onAffinity} receives after every batch. */
export interface AffinityRecord {
  /** The trainer's global step. */
  readonly step: number;
  /** Batches this rule has processed, this one included. */
  readonly iteration: number;
  readonly tasks: readonly string[];
  /** Tracked proximal inter-task affinity, `affinity[s][j]` from source task s to target task j (a copy). */
  readonly affinity: readonly (readonly number[])[];
  /** The groups of this batch, in the order they were updated. */
  readonly groups: readonly (readonly string[])[];
  /** Whether Affinity Propagation formed this batch's groups (false during the warm-up, with fixed groups, or when it found no cluster). */
  readonly regrouped: boolean;
}

/** A rule that combines the tasks of one group: a loss weighting or a gradient aggregator (e.g. PCGrad from @mtl/weighting). */
export type InnerRule = LossWeighting | GradientAggregator;

export interface SelectiveGroupUpdateOptions {
  /** Decay β of the tracked affinity, in (0, 1]. Default 0.001 (the authors use 0.0001 on Taskonomy). */
  readonly beta?: number;
  /** Batches with every task alone before the first re-grouping. Default 100. */
  readonly warmup?: number;
  /** Default `'adaptive'`. */
  readonly groups?: GroupingOption;
  /** Default `'random'`. */
  readonly order?: GroupOrder;
  /** Divide a group's loss by its size (the authors' `group_norm`). Default false: summed. */
  readonly groupNorm?: boolean;
  /** Learning-rate multiplier of the task-specific parameters. Default 1; the authors' code uses T (number of tasks). */
  readonly headLrScale?: number;
  /** Update a lone group twice per batch, as the authors' code does. Default false (see README). */
  readonly repeatSingleGroup?: boolean;
  /** Combines the tasks within a group; default: their summed loss. */
  readonly inner?: InnerRule;
  readonly clustering?: ClusteringOptions;
  /** Called after every batch with the affinity and the groups (e.g. for a heatmap over time). */
  readonly onAffinity?: (record: AffinityRecord) => void;
}

/** Options with defaults filled in and checked. */
export interface ResolvedOptions {
  readonly beta: number;
  readonly warmup: number;
  readonly groups: GroupingOption;
  readonly order: GroupOrder;
  readonly groupNorm: boolean;
  readonly headLrScale: number;
  readonly repeatSingleGroup: boolean;
  readonly inner: InnerRule | undefined;
  readonly clustering: Required<Omit<ClusteringOptions, 'preference'>> & { readonly preference: number | undefined };
  readonly onAffinity: ((record: AffinityRecord) => void) | undefined;
}

const KEYS = ['beta', 'warmup', 'groups', 'order', 'groupNorm', 'headLrScale', 'repeatSingleGroup', 'inner', 'clustering', 'onAffinity'];
const CLUSTERING_KEYS = ['preference', 'damping', 'convergenceIter', 'maxIter', 'attempts', 'retryIncrement'];

export function resolveOptions(options: SelectiveGroupUpdateOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) invalidOption('options', options, 'an object');
  rejectUnknown('', options, KEYS);
  const beta = requireFiniteNumber('beta', options.beta ?? 0.001, { min: 0, max: 1 });
  if (beta === 0) invalidOption('beta', beta, 'a number in (0, 1]');
  const order = options.order ?? 'random';
  if (!['forward', 'backward', 'random'].includes(order)) invalidOption('order', order, '"forward", "backward" or "random"');
  const headLrScale = requireFiniteNumber('headLrScale', options.headLrScale ?? 1, { min: 0 });
  for (const flag of ['groupNorm', 'repeatSingleGroup'] as const) {
    if (options[flag] !== undefined && typeof options[flag] !== 'boolean') invalidOption(flag, options[flag], 'a boolean');
  }
  if (options.onAffinity !== undefined && typeof options.onAffinity !== 'function') invalidOption('onAffinity', options.onAffinity, 'a function');
  if (options.groupNorm && options.inner !== undefined) invalidOption('groupNorm', true, 'left out with an inner rule (the inner rule chooses the weights of a group\'s tasks)');
  return {
    beta,
    warmup: requireNonNegativeInteger('warmup', options.warmup ?? 100),
    groups: checkGrouping(options.groups ?? 'adaptive'),
    order,
    groupNorm: options.groupNorm ?? false,
    headLrScale,
    repeatSingleGroup: options.repeatSingleGroup ?? false,
    inner: checkInner(options.inner),
    clustering: checkClustering(options.clustering ?? {}),
    onAffinity: options.onAffinity,
  };
}

function checkGrouping(groups: GroupingOption): GroupingOption {
  if (typeof groups === 'string') {
    if (!['adaptive', 'joint', 'separate'].includes(groups)) invalidOption('groups', groups, '"adaptive", "joint", "separate" or an array of groups of task names');
    return groups;
  }
  if (!isArray(groups) || groups.length === 0) invalidOption('groups', groups, '"adaptive", "joint", "separate" or a non-empty array of groups of task names');
  const seen = new Map<string, number>();
  groups.forEach((group, g) => {
    if (!isArray(group)) invalidOption(`groups[${g}]`, group, 'an array of task names');
    if (group.length === 0) invalidOption(`groups[${g}]`, group, 'a non-empty array of task names (empty group)');
    for (const name of group) {
      if (typeof name !== 'string') invalidOption(`groups[${g}]`, group, 'an array of task names (strings)');
      const other = seen.get(name);
      if (other !== undefined) {
        throw new MtlError('INVALID_OPTION', `option "groups": task "${name}" is in group ${other} and group ${g}; groups must not overlap`, { option: 'groups', task: name, groups: [other, g] });
      }
      seen.set(name, g);
    }
  });
  return groups.map((group) => [...group]);
}

/** Fixed groups as task indices; every task must be in exactly one group. */
export function fixedGroupIndices(groups: GroupingOption, taskNames: readonly string[]): number[][] | undefined {
  if (groups === 'adaptive') return undefined;
  if (groups === 'joint') return [taskNames.map((_, i) => i)];
  if (groups === 'separate') return taskNames.map((_, i) => [i]);
  const indices = groups.map((group) =>
    group.map((name) => {
      const i = taskNames.indexOf(name);
      if (i < 0) throw new MtlError('UNKNOWN_TASK', `option "groups" names unknown task "${name}"; the tasks are ${taskNames.map((t) => `"${t}"`).join(', ')}`, { option: 'groups', task: name, known: [...taskNames] });
      return i;
    }),
  );
  const missing = taskNames.filter((_, i) => !indices.some((g) => g.includes(i)));
  if (missing.length) {
    throw new MtlError('INVALID_OPTION', `option "groups" leaves out task(s) ${missing.map((t) => `"${t}"`).join(', ')}; every task must be in one group`, { option: 'groups', missing });
  }
  return indices;
}

function checkInner(inner: InnerRule | undefined): InnerRule | undefined {
  if (inner === undefined) return undefined;
  const candidate = inner as Partial<LossWeighting & GradientAggregator>;
  const ok = typeof candidate === 'object' && candidate !== null && typeof candidate.initialState === 'function' && (typeof candidate.weigh === 'function' || typeof candidate.aggregate === 'function');
  if (!ok) invalidOption('inner', inner, 'a LossWeighting (weigh) or GradientAggregator (aggregate) with initialState');
  return inner;
}

function checkClustering(clustering: ClusteringOptions): ResolvedOptions['clustering'] {
  if (typeof clustering !== 'object' || clustering === null) invalidOption('clustering', clustering, 'an object');
  rejectUnknown('clustering.', clustering, CLUSTERING_KEYS);
  const damping = requireFiniteNumber('clustering.damping', clustering.damping ?? 0.5, { min: 0.5, max: 1 });
  if (damping >= 1) invalidOption('clustering.damping', damping, 'a number in [0.5, 1)');
  return {
    preference: clustering.preference === undefined ? undefined : requireFiniteNumber('clustering.preference', clustering.preference),
    damping,
    convergenceIter: requirePositiveInteger('clustering.convergenceIter', clustering.convergenceIter ?? 50),
    maxIter: requirePositiveInteger('clustering.maxIter', clustering.maxIter ?? 200),
    attempts: requirePositiveInteger('clustering.attempts', clustering.attempts ?? 10),
    retryIncrement: requireNonNegativeInteger('clustering.retryIncrement', clustering.retryIncrement ?? 100),
  };
}

function rejectUnknown(prefix: string, object: object, known: readonly string[]): void {
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) {
      throw new MtlError('INVALID_OPTION', `unknown option "${prefix}${key}" (${describeValue((object as Record<string, unknown>)[key])}); known options: ${known.join(', ')}`, { option: `${prefix}${key}`, known: [...known] });
    }
  }
}
