import { describe, expect, it } from 'vitest';
import './setup.js';
import { Optimizer, SeededRandom, Trainer, evaluateModel, hardSharingMlp, inMemoryDataset, regressionTask, weightedSum, type MultiTaskDataset, type StepStats } from '@mtl/core';
import { forkMerge } from '../src/index.js';
import { sampledTaskRule } from '../src/task-sampling.js';

/** A target, an auxiliary that is a clean copy of it ('good') and one on orthogonal directions at a large scale ('bad'). */
function threeTasks(n: number, seed: number): MultiTaskDataset {
  const rng = new SeededRandom(seed);
  const d = 6;
  const x = new Float32Array(n * d).map(() => rng.normal());
  const dot = (i: number, w: (j: number) => number) => Array.from({ length: d }, (_, j) => x[i * d + j]! * w(j)).reduce((a, b) => a + b, 0);
  const target = Float32Array.from({ length: n }, (_, i) => dot(i, (j) => (j < 3 ? 1 : 0)) + 0.5 * rng.normal());
  const good = Float32Array.from({ length: n }, (_, i) => 2 * dot(i, (j) => (j < 3 ? 1 : 0)));
  const bad = Float32Array.from({ length: n }, (_, i) => 20 * dot(i, (j) => (j >= 3 ? 1 : 0)));
  return inMemoryDataset({ x, inputShape: [d], targets: { target, good, bad } });
}
const tasks = [regressionTask('target'), regressionTask('good'), regressionTask('bad')];
const train = threeTasks(96, 1);
const validation = threeTasks(64, 2);
const build = () => hardSharingMlp({ inputSize: 6, tasks, trunk: [3], head: [], seed: 2 });
const optimizer = { kind: 'adam', learningRate: 0.02 } as const;

describe("branches: 'top-k' (the authors' branch construction)", () => {
  it('ranks the auxiliaries by their own runs’ best validation score and nests the branches', async () => {
    const m = build();
    const result = await forkMerge({ model: m, tasks, train, validation, target: 'target', optimizer, batchSize: 16, interval: 6, rounds: 1, branches: 'top-k', topK: { ks: [0, 1, 2], pruningSteps: 18 }, progress: false });
    // The same ranking runs by hand: target + one auxiliary, scored every Δt = 6 steps, best kept.
    const byHand = ['good', 'bad'].map((aux) => {
      const model = build();
      const trainer = new Trainer({ model, tasks: tasks.filter((t) => t.name === 'target' || t.name === aux), optimizer: new Optimizer(optimizer), rule: weightedSum(), batchSize: 16, seed: 0, progress: false });
      let best = -Infinity;
      for (let k = 0; k < 3; k++) {
        trainer.runSteps(train, 6);
        best = Math.max(best, -evaluateModel(model, tasks, validation)['target/loss']!);
      }
      model.dispose();
      return { task: aux, score: best };
    });
    expect(result.auxiliaryRanking).toEqual([...byHand].sort((a, b) => b.score - a.score));
    expect(result.auxiliaryRanking![0]!.score).toBeGreaterThanOrEqual(result.auxiliaryRanking![1]!.score);
    expect(result.rounds[0]!.branches).toEqual(['target', 'top-1', 'top-2']);
    m.dispose();
  });
});

describe("taskWeights: 'sampling' (the authors' DomainNet code)", () => {
  it('trains one task a step, drawn with probability ν_t / Σ ν; a task with ν = 0 never moves', () => {
    const model = build();
    const rule = sampledTaskRule(tasks, { target: 1, good: 3, bad: 0 });
    const badHead = Array.from(model.taskParameters('bad')[0]!.variable.dataSync());
    const trainer = new Trainer({ model, tasks, optimizer: new Optimizer(optimizer), rule, batchSize: 16, seed: 3, progress: false });
    const seen = trainer.runSteps(train, 400).map((s: StepStats) => tasks.map((t) => s.weights?.[t.name] ?? NaN));
    const share = (i: number) => seen.filter((w) => w[i] === 1).length / seen.length;
    expect(seen.every((w) => w.reduce((a, b) => a + b, 0) === 1)).toBe(true);
    expect(share(1)).toBeGreaterThan(0.68);
    expect(share(1)).toBeLessThan(0.82);
    expect(share(2)).toBe(0);
    expect(Array.from(model.taskParameters('bad')[0]!.variable.dataSync())).toEqual(badHead);
    model.dispose();
  });

  it('rejects a rule factory next to sampling (each step trains the sampled task)', async () => {
    const m = build();
    await expect(forkMerge({ model: m, tasks, train, validation, target: 'target', interval: 4, rounds: 1, taskWeights: 'sampling', rule: () => weightedSum(), progress: false })).rejects.toThrow(/rule/);
    m.dispose();
  });
});
