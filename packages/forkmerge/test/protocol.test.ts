import { describe, expect, it } from 'vitest';
import './setup.js';
import { Optimizer, ParamSnapshot, Trainer, cosineDecay, evaluateModel, hardSharingMlp, momentum, sgd, weightedSum, type MultiTaskModel, type OptimizerConfig } from '@mtl/core';
import { forkMerge, forkMergeEachTarget, type RoundRecord } from '../src/index.js';
import { auxProblem } from './fixtures/synthetic.js';

const p = auxProblem({ kind: 'helps', seed: 3, trainSize: 128, noise: 1.0, inputSize: 8 });
const build = (seed: number): MultiTaskModel => hardSharingMlp({ inputSize: p.inputSize, tasks: p.tasks, trunk: [4], head: [], seed });
const headOf = (m: MultiTaskModel, task: string) => Object.fromEntries(m.taskParameters(task).map((q) => [q.key, Array.from(q.variable.dataSync())]));
const sharedOf = (m: MultiTaskModel) => Object.fromEntries(m.sharedParameters.map((q) => [q.key, Array.from(q.variable.dataSync())]));

/** A branch trained on its own, as ForkMerge's branch trains for Δt steps from the same start. */
function trainAlone(seed: number, weights: Record<string, number>, steps: number, optimizer: OptimizerConfig): MultiTaskModel {
  const m = build(seed);
  const tasks = p.tasks.filter((t) => (weights[t.name] ?? 0) > 0);
  const trainer = new Trainer({ model: m, tasks, optimizer: new Optimizer(optimizer), rule: weightedSum(), batchSize: 16, seed: 0, progress: false });
  trainer.runSteps(p.train, steps);
  trainer.dispose();
  return m;
}

const base = { tasks: p.tasks, train: p.train, validation: p.validation, target: 'target', batchSize: 16, progress: false } as const;

describe('what is merged (mergeScope)', () => {
  it("shared+target (default): auxiliary heads stay in their branch; 'all' pulls them to the merge", async () => {
    const optimizer: OptimizerConfig = { kind: 'adam', learningRate: 0.01 };
    // λ is forced to 0: θ* is the target-only branch for the merged keys.
    const merged = build(1);
    await forkMerge({ ...base, model: merged, interval: 8, rounds: 1, optimizer, grid: [0] });
    const all = build(1);
    await forkMerge({ ...base, model: all, interval: 8, rounds: 1, optimizer, grid: [0], mergeScope: 'all' });
    const targetOnly = trainAlone(1, { target: 1 }, 8, optimizer);
    const joint = trainAlone(1, { target: 1, aux: 1 }, 8, optimizer);
    const initial = build(1);
    // Shared trunk and target head: the target-only branch, in both scopes.
    expect(sharedOf(merged)).toEqual(sharedOf(targetOnly));
    expect(headOf(merged, 'target')).toEqual(headOf(targetOnly, 'target'));
    expect(sharedOf(all)).toEqual(sharedOf(targetOnly));
    // The auxiliary head: the joint branch's trained head (the only branch training it) vs. the
    // target-only branch's untouched initial head.
    expect(headOf(merged, 'aux')).toEqual(headOf(joint, 'aux'));
    expect(headOf(all, 'aux')).toEqual(headOf(initial, 'aux'));
    expect(headOf(joint, 'aux')).not.toEqual(headOf(initial, 'aux'));
    for (const m of [merged, all, targetOnly, joint, initial]) m.dispose();
  });
});

describe('the model holds θ* whenever user code runs', () => {
  it('onRound sees the merged model: its validation score is the record score', async () => {
    const m = build(2);
    const seen: number[] = [];
    const result = await forkMerge({
      ...base,
      model: m,
      interval: 6,
      rounds: 3,
      optimizer: { kind: 'adam', learningRate: 0.01 },
      onRound: (record: RoundRecord) => seen.push(-evaluateModel(m, p.tasks, p.validation)['target/loss']! - record.score),
    });
    expect(seen).toHaveLength(3);
    for (const d of seen) expect(Math.abs(d)).toBeLessThan(1e-6);
    expect(result.finalRound).toBe(2);
    m.dispose();
  });

  it("finalModel: 'best' ends with the best merge seen; forkFrom: 'best-merge' never keeps a worse merge", async () => {
    const optimizer = { kind: 'sgd', learningRate: 0.4 } as const; // large steps: scores go up and down
    const best = build(3);
    const r = await forkMerge({ ...base, model: best, interval: 5, rounds: 6, optimizer, finalModel: 'best' });
    const scores = r.rounds.map((x) => x.score);
    const top = Math.max(...scores);
    expect(r.score).toBe(top);
    expect(r.finalRound).toBe(scores.indexOf(top));
    expect(-evaluateModel(best, p.tasks, p.validation)['target/loss']!).toBeCloseTo(top, 6);

    const guarded = build(3);
    const g = await forkMerge({ ...base, model: guarded, interval: 5, rounds: 6, optimizer, forkFrom: 'best-merge' });
    const running = g.rounds.map((x) => x.score).reduce<number[]>((acc, s) => [...acc, Math.max(acc.at(-1) ?? -Infinity, s)], []);
    expect(g.score).toBe(running.at(-1));
    expect(-evaluateModel(guarded, p.tasks, p.validation)['target/loss']!).toBeCloseTo(g.score, 6);
    best.dispose();
    guarded.dispose();
  });
});

describe("branchCheckpoint: 'best' (the authors' code)", () => {
  it('enters each branch into the merge with its best parameters so far, ranked by those scores', async () => {
    const optimizer = { kind: 'sgd', learningRate: 0.4 } as const;
    const common = { ...base, interval: 5, rounds: 5, optimizer, search: 'greedy' } as const;
    const bestRun = await forkMerge({ ...common, model: build(4), branchCheckpoint: 'best' });
    const lastRun = await forkMerge({ ...common, model: build(4) });
    // Greedy search scores each branch alone: with 'best' those are the running maxima of the branch's own scores.
    for (const [r, record] of bestRun.rounds.entries()) {
      expect(record.branchScores).toEqual(record.branchBest);
      if (r > 0) record.branchBest!.forEach((s, b) => expect(s).toBeGreaterThanOrEqual(bestRun.rounds[r - 1]!.branchBest![b]!));
    }
    // Up to the first merge both runs are the same training: same branch scores.
    expect(bestRun.rounds[0]!.branchScores).toEqual(lastRun.rounds[0]!.branchScores);
    // In the plain run some branch gets worse at some round, so the two protocols really differ.
    const worsened = lastRun.rounds.some((rec, r) => r > 0 && rec.branchScores.some((s, b) => s < lastRun.rounds[r - 1]!.branchScores[b]!));
    expect(worsened).toBe(true);
  });
});

describe('optimizer state policies', () => {
  it('keep / reset / merge give the same result under SGD (no state) and different results under momentum', async () => {
    const run = async (optimizer: OptimizerConfig, optimizerState: 'keep' | 'reset' | 'merge') => {
      const m = build(5);
      // λ fixed at 0.5: with a vertex (λ ∈ {0, 1}) merging states gives the winner its own state back.
      await forkMerge({ ...base, model: m, interval: 6, rounds: 3, optimizer, optimizerState, grid: [0.5] });
      const v = ParamSnapshot.capture(m.parameters).flatten();
      m.dispose();
      return Array.from(v);
    };
    const plain = sgd(0.05).config;
    const heavy = momentum(0.05, { momentum: 0.9 }).config;
    const [sk, sr, sm] = [await run(plain, 'keep'), await run(plain, 'reset'), await run(plain, 'merge')];
    expect(sr).toEqual(sk);
    expect(sm).toEqual(sk);
    const [mk, mr, mm] = [await run(heavy, 'keep'), await run(heavy, 'reset'), await run(heavy, 'merge')];
    expect(mr).not.toEqual(mk);
    expect(mm).not.toEqual(mk);
    expect(mm).not.toEqual(mr);
  });

  it('each branch follows its own learning-rate schedule and clipping (through core)', async () => {
    const optimizer: OptimizerConfig = { kind: 'sgd', learningRate: 0.2, schedule: cosineDecay({ totalSteps: 12, warmupSteps: 2 }), clipNorm: 0.5 };
    const m = build(6);
    await forkMerge({ ...base, model: m, interval: 12, rounds: 1, optimizer, grid: [0] });
    const alone = trainAlone(6, { target: 1 }, 12, optimizer);
    expect(sharedOf(m)).toEqual(sharedOf(alone));
    expect(headOf(m, 'target')).toEqual(headOf(alone, 'target'));
    const unscheduled = trainAlone(6, { target: 1 }, 12, { kind: 'sgd', learningRate: 0.2 });
    expect(sharedOf(unscheduled)).not.toEqual(sharedOf(alone));
    for (const x of [m, alone, unscheduled]) x.dispose();
  });
});

describe('validation subsampling', () => {
  it('scores candidates on the subsample: all examples give the full score, a few give another', async () => {
    const run = async (validationSubsample?: number) => {
      const m = build(7);
      const r = await forkMerge({ ...base, model: m, interval: 6, rounds: 1, optimizer: { kind: 'adam', learningRate: 0.01 }, grid: [0, 1], ...(validationSubsample ? { validationSubsample } : {}) });
      const full = -evaluateModel(m, p.tasks, p.validation)['target/loss']!;
      m.dispose();
      return { score: r.score, full };
    };
    const whole = await run();
    const everything = await run(p.validation.size);
    const few = await run(4);
    expect(whole.score).toBeCloseTo(whole.full, 6);
    expect(everything.score).toBeCloseTo(whole.score, 5);
    expect(Math.abs(few.score - few.full)).toBeGreaterThan(1e-4);
  });
});

describe('per-target runs (the multi-task protocol)', () => {
  it('runs once per task as target from copies of the model, leaving the model as it was', async () => {
    const m = build(8);
    const before = ParamSnapshot.capture(m.parameters).flatten();
    const { target: _target, ...common } = base;
    const { runs } = await forkMergeEachTarget({ ...common, model: m, interval: 4, rounds: 2, optimizer: { kind: 'adam', learningRate: 0.01 } });
    expect(Object.keys(runs)).toEqual(['target', 'aux']);
    expect(runs['aux']!.result.rounds[0]!.branches).toEqual(['target', 'all']);
    expect(ParamSnapshot.capture(m.parameters).flatten()).toEqual(before);
    // Each run's model holds its own merge: its target score is the run's score.
    for (const [task, run] of Object.entries(runs)) {
      expect(-evaluateModel(run.model, p.tasks, p.validation)[`${task}/loss`]!).toBeCloseTo(run.result.score, 6);
      run.model.dispose();
    }
    m.dispose();
  });
});
