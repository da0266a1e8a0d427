import { describe, expect, it } from 'vitest';
import './setup.js';
import { hardSharingMlp, tf, weightedSum, type UpdateRule } from '@mtl/core';
import { forkMerge, type BranchInfo } from '../src/index.js';
import { mixedProblem } from './fixtures/synthetic.js';

describe('multi-branch ForkMerge (Algorithm 2)', () => {
  it('builds target / target+aux / all branches, prunes after the first merge, and steps each with the caller’s rule', async () => {
    const p = mixedProblem(11);
    const model = hardSharingMlp({ inputSize: p.inputSize, tasks: p.tasks, trunk: [4], seed: 3 });
    const seen: { info: BranchInfo; steps: number }[] = [];
    // A caller-supplied rule (as a PCGrad rule from another package would be): EW over the branch's tasks, counting steps.
    const rule = (info: BranchInfo): UpdateRule => {
      const entry = { info, steps: 0 };
      seen.push(entry);
      const inner = weightedSum();
      return {
        name: `counting-${info.name}`,
        step(ctx) {
          entry.steps++;
          expect(ctx.tasks.map((t) => t.name)).toEqual(info.tasks.map((t) => t.name));
          return inner.step(ctx);
        },
      };
    };
    const before = tf.memory().numTensors;
    const result = await forkMerge({
      model,
      tasks: p.tasks,
      train: p.train,
      validation: p.validation,
      target: 'target',
      branches: 'each-auxiliary',
      prune: 2,
      rule,
      optimizer: { kind: 'adam', learningRate: 0.01 },
      interval: 20,
      rounds: 4,
      batchSize: 16,
      seed: 1,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(seen.map((s) => s.info.name)).toEqual(['target', 'target+good', 'target+bad', 'all']);
    expect(seen.map((s) => Object.keys(s.info.weights))).toEqual([['target'], ['target', 'good'], ['target', 'bad'], ['target', 'good', 'bad']]);
    const first = result.rounds[0]!;
    expect(first.branches).toHaveLength(4);
    expect(first.branchScores).toHaveLength(4);
    // The harmful auxiliary gets (almost) no weight; the helpful one some.
    const weightOf = (name: string) => first.weights[first.branches.indexOf(name)]!;
    expect(weightOf('target+bad')).toBeLessThanOrEqual(0.1);
    expect(weightOf('all')).toBeLessThanOrEqual(0.1);
    expect(weightOf('target+good')).toBeGreaterThan(0.2);
    // Pruned to the two branches with the largest weights; only they train afterwards.
    expect(result.branches).toHaveLength(2);
    expect(result.branches).toContain('target+good');
    expect(result.rounds.slice(1).every((r) => r.branches.length === 2)).toBe(true);
    for (const s of seen) expect(s.steps).toBe(result.branches.includes(s.info.name) ? 80 : 20);
    model.dispose();
  });
});
