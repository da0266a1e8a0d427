import type { UpdateRule } from '@mtl/core';
import { createAggregator, createWeighting, listMethods } from '@mtl/weighting';
import type { GroupsRecord } from '../job.js';
import { MatrixMean, withRecorder, type Recorder } from './recorder.js';
import { badOption } from '../errors.js';
import type { MethodAdapter } from './types.js';

/** What this adapter uses of @mtl/group-update (typed here, so the app type-checks whatever state that package is in). */
interface GroupUpdatePackage {
  readonly selectiveGroupUpdate: (options: Record<string, unknown>) => UpdateRule;
}

interface AffinityRecord {
  readonly step: number;
  readonly tasks: readonly string[];
  readonly affinity: readonly (readonly number[])[];
  readonly groups: readonly (readonly string[])[];
}

/** Records the groups whenever they change (and at the first step), at most `limit` records, plus the groups at the end. */
class GroupTimeline implements Recorder {
  private records: GroupsRecord[] = [];
  private last: GroupsRecord | undefined;
  constructor(private readonly limit = 500) {}
  add(step: number, groups: readonly (readonly string[])[]): void {
    const key = (g: readonly (readonly string[])[]) => JSON.stringify(g.map((x) => [...x].sort()).sort());
    const previous = this.records.at(-1);
    if (this.records.length < this.limit && (!previous || key(previous.groups) !== key(groups))) this.records.push({ step, groups: groups.map((g) => [...g]) });
    this.last = { step: step + 1, groups: groups.map((g) => [...g]) };
  }
  /** The changes, then the groups at the end of training (so the last groups' span is known). */
  timeline(): GroupsRecord[] {
    return this.last ? [...this.records, this.last] : [...this.records];
  }
  getState(): unknown {
    return { records: this.records, last: this.last ?? null };
  }
  setState(state: unknown): void {
    const s = state as { records: GroupsRecord[]; last: GroupsRecord | null };
    this.records = s.records.map((r) => ({ step: r.step, groups: r.groups.map((g) => [...g]) }));
    this.last = s.last ?? undefined;
  }
}

/**
 * Selective task group updates (@mtl/group-update) with its defaults; `methodOptions['group-update']`
 * passes JSON options through (`inner` may name an @mtl/weighting method, e.g. "pcgrad"). Records
 * the tracked proximal affinity averaged over every batch of training and the groups whenever they
 * change; both go into checkpoints with the rule's state.
 */
export const groupUpdate: MethodAdapter = {
  name: 'group-update',
  aliases: ['selective-group-update', 'sel-update'],
  family: 'task grouping',
  package: '@mtl/group-update',
  description: 'selective task group updates with proximal affinity and Affinity Propagation (Jeong & Yoon, ICLR 2025)',
  cost: 3,
  async run(ctx) {
    const { selectiveGroupUpdate } = await ctx.importPackage<GroupUpdatePackage>('@mtl/group-update');
    const { inner, ...rest } = ctx.options as { inner?: unknown };
    const affinity = new MatrixMean();
    const timeline = new GroupTimeline();
    let tasks: readonly string[] = [];
    const rule = selectiveGroupUpdate({
      ...rest,
      ...(inner !== undefined ? { inner: innerRule(inner, ctx.job.seed) } : {}),
      onAffinity: (record: AffinityRecord) => {
        tasks = record.tasks;
        affinity.add(record.affinity);
        timeline.add(record.step, record.groups);
      },
    });
    const both: Recorder = {
      getState: () => ({ affinity: affinity.getState(), groups: timeline.getState(), tasks }),
      setState: (s) => {
        const state = s as { affinity: unknown; groups: unknown; tasks: string[] };
        affinity.setState(state.affinity);
        timeline.setState(state.groups);
        tasks = state.tasks;
      },
    };
    const { model, history } = await ctx.trainWithRule(withRecorder(rule, both));
    try {
      return {
        test: ctx.evaluateTest(model),
        params: model.parameters.reduce((s, p) => s + p.variable.size, 0),
        history,
        ...(affinity.measurements > 0 ? { affinity: { tasks: [...tasks], matrix: affinity.mean(), kind: 'proximal' } } : {}),
        groups: timeline.timeline(),
      };
    } finally {
      model.dispose();
    }
  },
};

/** An inner rule named by its @mtl/weighting registry name. */
function innerRule(name: unknown, seed: number): unknown {
  const entry = listMethods().find((m) => m.name === name);
  if (typeof name !== 'string' || !entry) throw badOption('methodOptions.group-update.inner', `group-update option "inner" must name an @mtl/weighting method (${listMethods().map((m) => m.name).join(', ')}); got ${JSON.stringify(name)}`);
  return entry.kind === 'weighting' ? createWeighting(name, { seed }) : createAggregator(name, { seed });
}
