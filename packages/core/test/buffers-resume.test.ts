import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import './setup.js';
import { ParamSnapshot, Trainer, adam, treeModel, type MultiTaskModel } from '../src/index.js';
import { toyTwoTaskProblem } from '../src/testing/fixtures.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const problem = toyTwoTaskProblem({ seed: 2, size: 96 });
const makeModel = (seed = 1): MultiTaskModel =>
  treeModel({
    inputShape: [problem.inputSize],
    tasks: problem.tasks,
    seed,
    modules: [{ name: 'trunk', layers: [{ type: 'dense', units: 6, activation: 'linear' }, { type: 'batchNorm' }, { type: 'activation', activation: 'relu' }, { type: 'dropout', rate: 0.2 }] }],
  });
const state = (m: MultiTaskModel) => {
  const s = ParamSnapshot.capture(m);
  const v = s.flatten();
  s.dispose();
  return v;
};

describe('BatchNorm and dropout models in training', () => {
  it('resume from a checkpoint equals the uninterrupted run, BatchNorm statistics included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtl-buffers-'));
    dirs.push(dir);
    const straight = makeModel();
    await new Trainer({ model: straight, tasks: problem.tasks, optimizer: adam(0.01), batchSize: 32, seed: 3 }).fit(problem.train, { epochs: 3 });
    const first = makeModel();
    await new Trainer({ model: first, tasks: problem.tasks, optimizer: adam(0.01), batchSize: 32, seed: 3, checkpoint: { dir } }).fit(problem.train, { epochs: 1 });
    first.dispose();
    const resumed = makeModel(77);
    const t2 = new Trainer({ model: resumed, tasks: problem.tasks, optimizer: adam(0.01), batchSize: 32, seed: 3, checkpoint: { dir } });
    await t2.fit(problem.train, { epochs: 3, resume: true });
    t2.dispose();
    const a = state(straight);
    const b = state(resumed);
    expect(b.length).toBe(a.length);
    // The running statistics moved during training (they are not at their initial 0 / 1).
    expect(Array.from(resumed.buffers![0]!.variable.dataSync()).some((v) => v !== 0)).toBe(true);
    b.forEach((v, i) => expect(v).toBeCloseTo(a[i]!, 5));
    straight.dispose();
    resumed.dispose();
  });

  it('early stopping restores the best epoch’s BatchNorm statistics with its parameters', async () => {
    const model = makeModel(5);
    const states: Float32Array[] = [];
    const scores: number[] = [];
    const recorder = {
      onEpochEnd: (log: { validation?: Readonly<Record<string, number>> }) => {
        states.push(state(model));
        scores.push(log.validation!['value/mse']!);
      },
    };
    const trainer = new Trainer({ model, tasks: problem.tasks, optimizer: adam(0.05), batchSize: 16, seed: 2, callbacks: [recorder], earlyStopping: { monitor: 'value/mse', patience: 10 } });
    await trainer.fit(problem.train, { epochs: 4, validation: problem.validation });
    trainer.dispose();
    const best = scores.indexOf(Math.min(...scores));
    expect(Array.from(state(model))).toEqual(Array.from(states[best]!));
    // The buffers differ between epochs, so restoring only the parameters would not match.
    const buffersAt = (s: Float32Array) => Array.from(s.subarray(s.length - 12));
    expect(new Set(states.map((s) => JSON.stringify(buffersAt(s)))).size).toBe(states.length);
    model.dispose();
  });
});
