import { MtlError, type StepContext, type StepResult, type UpdateRule } from '@mtl/core';
import { describeValue, isArray } from '@mtl/core/internal';
import { fixedGroupIndices, resolveOptions, type AffinityRecord, type ResolvedOptions, type SelectiveGroupUpdateOptions } from './options.js';
import { recordGroupStep, zeroAffinity, type AffinityMatrix } from './proximal-affinity.js';
import { regroup } from './regroup.js';
import { innerUpdateRule, stepGroup } from './group-step.js';

/** The rule's checkpoint state (JSON). */
export interface SelectiveGroupUpdateState {
  readonly version: 1;
  readonly tasks: readonly string[];
  /** Batches processed. */
  readonly iteration: number;
  readonly affinity: AffinityMatrix;
  /** The current groups as task names (those of the last batch). */
  readonly groups: readonly (readonly string[])[];
  /** The inner rule's state per group composition (key: the group's task names joined by ","; null: no state yet). */
  readonly inner: Readonly<Record<string, unknown>>;
}

/** The {@link UpdateRule} with read access to what it tracks. */
export interface SelectiveGroupUpdateRule extends UpdateRule {
  /** Tracked affinity M[s][j] (a copy); empty before the first step. */
  readonly affinity: number[][];
  /** The groups of the last batch as task names; empty before the first step. */
  readonly groups: string[][];
  getState(): SelectiveGroupUpdateState | undefined;
  setState(state: unknown): void;
}

/**
 * Selective task group updates with proximal inter-task affinity (Jeong et al., ICLR 2025;
 * spec §3). Per batch, the task groups are updated one after another: loss of group k (summed,
 * `groupNorm`: averaged, or combined by `inner`), one optimizer step on the shared parameters plus
 * group k's own task parameters only, and the loss change of every task from the forward just
 * before to the forward just after that step becomes the proximal affinity from group k
 * (inter-group and intra-group rules of the paper), tracked with decay β. After the warm-up
 * (every task alone, shuffled), the groups are re-formed every batch by Affinity Propagation on
 * the tracked affinity with the authors' settings and retry rule.
 *
 * Differences from the authors' code (see README): each group is credited with its own step (their
 * code credits group k with group k−1's effect, records nothing for the first group and never
 * measures the last); a lone group is updated once unless `repeatSingleGroup`; heads use the base
 * learning rate unless `headLrScale`; the warm-up is exactly `warmup` batches (their `<=` runs one
 * more). `StepStats.losses` for this rule are the losses after the batch's last update (the closing
 * forward the affinity needs).
 */
export function selectiveGroupUpdate(options: SelectiveGroupUpdateOptions = {}): SelectiveGroupUpdateRule {
  const opts = resolveOptions(options);
  let tasks: string[] | undefined;
  let fixed: number[][] | undefined;
  let affinity: AffinityMatrix = [];
  let groups: number[][] = [];
  let iteration = 0;
  /** One inner rule per group composition (key: its task names), so each keeps its own state. */
  let innerRules = new Map<string, UpdateRule>();
  const innerFor = (key: string): UpdateRule | undefined => {
    if (!opts.inner) return undefined;
    let rule = innerRules.get(key);
    if (!rule) innerRules.set(key, (rule = innerUpdateRule(opts.inner)));
    return rule;
  };

  const name = opts.groups === 'adaptive' ? 'selective-group-update' : `group-update(${typeof opts.groups === 'string' ? opts.groups : 'fixed'})`;

  const begin = (ctx: StepContext) => {
    const names = ctx.tasks.map((t) => t.name);
    if (tasks && (tasks.length !== names.length || tasks.some((t, i) => t !== names[i]))) {
      throw new MtlError('SHAPE_MISMATCH', `rule "${name}" tracks tasks ${tasks.join(', ')} but the step has ${names.join(', ')}`, { expected: tasks, actual: names });
    }
    fixed ??= fixedGroupIndices(opts.groups, names);
    if (!tasks) {
      tasks = names;
      affinity = zeroAffinity(names.length);
      groups = fixed ?? names.map((_, i) => [i]);
    }
  };

  return {
    name,
    step(ctx): StepResult {
      begin(ctx);
      let regrouped = false;
      if (fixed) groups = fixed.map((g) => [...g]);
      else if (iteration < opts.warmup) groups = tasks!.map((_, i) => [i]);
      else ({ groups, regrouped } = regroup(affinity, groups, opts.clustering, () => ctx.random.nextUint32()));
      const ordered = orderGroups(groups, opts.order, ctx);
      const sequence = ordered.length === 1 && opts.repeatSingleGroup ? [ordered[0]!, ordered[0]!] : ordered;

      // Each group is credited with the change from the forward just before its step to the forward
      // just after it; on the fast path the latter is the next group's gradient pass.
      let pending: { group: readonly number[]; before: number[] } | undefined;
      for (const group of sequence) {
        const inner = innerFor(group.map((i) => tasks![i]).join(','));
        const outcome = stepGroup(ctx, { group, groupNorm: opts.groupNorm, headLrScale: opts.headLrScale, inner });
        if (pending) recordGroupStep(affinity, pending.group, pending.before, outcome.before, opts.beta);
        pending = undefined;
        if (outcome.after) recordGroupStep(affinity, group, outcome.before, outcome.after, opts.beta);
        else pending = { group, before: outcome.before };
      }
      if (pending) recordGroupStep(affinity, pending.group, pending.before, [...ctx.losses()], opts.beta);
      iteration++;

      const record: AffinityRecord = {
        step: ctx.step,
        iteration,
        tasks: [...tasks!],
        affinity: affinity.map((row) => [...row]),
        groups: ordered.map((g) => g.map((i) => tasks![i]!)),
        regrouped,
      };
      opts.onAffinity?.(record);
      return { info: stepInfo(tasks!, affinity, groups, regrouped) };
    },
    get affinity() {
      return affinity.map((row) => [...row]);
    },
    get groups() {
      return tasks ? groups.map((g) => g.map((i) => tasks![i]!)) : [];
    },
    getState() {
      if (!tasks) return undefined;
      const inner = Object.fromEntries([...innerRules].map(([key, rule]) => [key, rule.getState?.() ?? null]));
      return { version: 1, tasks: [...tasks], iteration, affinity: affinity.map((row) => [...row]), groups: groups.map((g) => g.map((i) => tasks![i]!)), inner };
    },
    setState(state: unknown) {
      const s = checkState(state);
      tasks = [...s.tasks];
      iteration = s.iteration;
      affinity = s.affinity.map((row) => [...row]);
      groups = s.groups.map((g) => g.map((name) => tasks!.indexOf(name)));
      innerRules = new Map();
      for (const [key, state] of Object.entries(s.inner)) {
        const rule = innerFor(key);
        if (rule && state !== null) rule.setState?.(state);
      }
    },
  };
}

/** `StepResult.info` (numbers only): `groups`, `regrouped`, `group/<task>` (its group's index), `affinity/<source>-><target>`. */
function stepInfo(tasks: readonly string[], affinity: AffinityMatrix, groups: readonly (readonly number[])[], regrouped: boolean): Record<string, number> {
  const info: Record<string, number> = { groups: groups.length, regrouped: regrouped ? 1 : 0 };
  groups.forEach((g, k) => g.forEach((i) => (info[`group/${tasks[i]}`] = k)));
  tasks.forEach((s, i) => tasks.forEach((t, j) => (info[`affinity/${s}->${t}`] = affinity[i]![j]!)));
  return info;
}

function orderGroups(groups: readonly (readonly number[])[], order: ResolvedOptions['order'], ctx: StepContext): number[][] {
  const copy = groups.map((g) => [...g]);
  if (order === 'backward') return copy.reverse();
  if (order === 'random') return ctx.random.shuffle(copy) as number[][];
  return copy;
}

function checkState(state: unknown): SelectiveGroupUpdateState {
  const s = state as Partial<SelectiveGroupUpdateState> | null;
  const bad = (what: string): never => {
    throw new MtlError('CHECKPOINT', `selective group update state is invalid: ${what}`, { value: describeValue(state) });
  };
  if (typeof s !== 'object' || s === null || s.version !== 1) bad('expected an object with version 1');
  const tasks = s!.tasks;
  if (!isArray(tasks) || !tasks.every((t) => typeof t === 'string')) bad('tasks must be task names');
  const n = tasks!.length;
  if (typeof s!.iteration !== 'number' || !Number.isInteger(s!.iteration) || s!.iteration < 0) bad('iteration must be a non-negative integer');
  if (!isArray(s!.affinity) || s!.affinity.length !== n || !s!.affinity.every((row) => isArray(row) && row.length === n && row.every(Number.isFinite))) bad(`affinity must be a ${n} × ${n} matrix of finite numbers`);
  if (!isArray(s!.groups) || !s!.groups.every((g) => isArray(g) && g.length > 0 && g.every((t) => tasks!.includes(t)))) bad('groups must be non-empty lists of the tracked tasks');
  if (typeof s!.inner !== 'object' || s!.inner === null) bad('inner must be an object');
  return s as SelectiveGroupUpdateState;
}
