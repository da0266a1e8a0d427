import type { HistoryEntry } from '../job.js';
import type { MethodAdapter } from './types.js';

/**
 * Single-task learning: one model per (target) task, each trained alone with the plain loss. The
 * baseline of Δm. Its parameter count is the sum over the per-task models.
 */
export const stl: MethodAdapter = {
  name: 'STL',
  aliases: ['single-task', 'target-only'],
  family: 'baseline',
  package: '@mtl/core',
  cost: 2,
  description: 'one network per task (the Δm baseline); with auxiliary data: the target alone',
  async run(ctx) {
    const targets = ctx.data.tasks.filter((t) => ctx.data.targets.includes(t.name));
    const test: Record<string, Record<string, number>> = {};
    const histories: (readonly HistoryEntry[])[] = [];
    let params = 0;
    for (const [i, task] of targets.entries()) {
      const { model, history } = await ctx.trainWithRule(undefined, { tasks: [task], part: task.name, span: [i / targets.length, (i + 1) / targets.length] });
      try {
        Object.assign(test, ctx.evaluateTest(model, [task]));
        params += model.parameters.reduce((s, p) => s + p.variable.size, 0);
        histories.push(history);
      } finally {
        model.dispose();
      }
    }
    return { test, params, history: mergeHistories(histories) };
  },
};

/** Per-epoch history of several single-task trainings as one: each task's entries side by side. */
function mergeHistories(histories: readonly (readonly HistoryEntry[])[]): HistoryEntry[] {
  const epochs = Math.max(0, ...histories.map((h) => h.length));
  return Array.from({ length: epochs }, (_, e) => {
    const parts = histories.map((h) => h[e]).filter((x): x is HistoryEntry => x !== undefined);
    const validation = Object.assign({}, ...parts.map((p) => withoutTotal(p.validation ?? {}))) as Record<string, number>;
    return {
      epoch: e,
      trainLoss: Object.assign({}, ...parts.map((p) => p.trainLoss)) as Record<string, number>,
      validation,
      seconds: parts.reduce((s, p) => s + p.seconds, 0),
    };
  });
}

function withoutTotal(record: Readonly<Record<string, number>>): Record<string, number> {
  const { loss: _total, ...rest } = record;
  return rest;
}
