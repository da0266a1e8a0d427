import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import './setup.js';
import { ParamSnapshot, Trainer, adam, hardSharingMlp, inMemoryDataset, regressionTask, sgd, tf, type Batch, type StepContext, type UpdateRule } from '../src/index.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'mtl-streams-test-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const tasks = [regressionTask('A'), regressionTask('B')];
/** x = the example's id (plus an offset), so a batch says which examples it holds. */
const indexed = (size: number, offset: number) =>
  inMemoryDataset({
    x: Float32Array.from({ length: size }, (_, i) => (offset + i) / 100),
    inputShape: [1],
    targets: { A: Float32Array.from({ length: size }, (_, i) => Math.sin(i)), B: Float32Array.from({ length: size }, (_, i) => Math.cos(i)) },
  });
const train = indexed(40, 0);
const validation = indexed(24, 1000);
const ids = (batch: { x: tf.Tensor }) => Array.from(batch.x.dataSync(), (v) => Math.round(v * 100));
const makeModel = (seed = 1) => hardSharingMlp({ inputSize: 1, tasks, trunk: [4], seed });
const flat = (model: ReturnType<typeof makeModel>) => {
  const s = ParamSnapshot.capture(model.parameters);
  const v = Array.from(s.flatten());
  s.dispose();
  return v;
};

/** Steps on the training batch, then on an extra training batch, then on the validation batch's loss of task B only. */
function drawingRule(log: { main: number[][]; extra: number[][]; validation: number[][] }): UpdateRule {
  return {
    name: 'drawing',
    step(ctx: StepContext) {
      log.main.push(ids(ctx.batch));
      ctx.applyGradients(ctx.weightedLossGradients([1, 1]));
      const extra = ctx.nextTrainingBatch();
      log.extra.push(ids(extra));
      const onExtra = ctx.withBatch(extra);
      onExtra.applyGradients(onExtra.weightedLossGradients([1, 1]), { lrScale: 0.5 });
      const val = ctx.validationBatch();
      log.validation.push(ids(val));
      const onValidation = ctx.withBatch(val);
      onValidation.applyGradients(onValidation.weightedLossGradients([0, 1]), { lrScale: 0.25 });
    },
  };
}
const emptyLog = () => ({ main: [] as number[][], extra: [] as number[][], validation: [] as number[][] });

describe('step context streams: validationBatch, nextTrainingBatch, withBatch', () => {
  it('draw seeded shuffles of the whole set each pass, independent of the main order', () => {
    const log = emptyLog();
    const model = makeModel();
    new Trainer({ model, tasks, optimizer: sgd(0.01), rule: drawingRule(log), batchSize: 8, seed: 4, validation, validationBatchSize: 6 }).runSteps(train, 10);
    // One pass over the validation set = 4 batches of 6: every example exactly once.
    for (const pass of [0, 1]) {
      const seen = log.validation.slice(pass * 4, pass * 4 + 4).flat().sort((a, b) => a - b);
      expect(seen).toEqual(Array.from({ length: 24 }, (_, i) => 1000 + i));
    }
    const extraPass = log.extra.slice(0, 5).flat().sort((a, b) => a - b);
    expect(extraPass).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(log.extra.slice(0, 5)).not.toEqual(log.main.slice(0, 5)); // its own shuffle
    // The main order is that of a rule that draws nothing.
    const plain: number[][] = [];
    new Trainer({ model: makeModel(), tasks, optimizer: sgd(0.01), batchSize: 8, seed: 4, rule: { name: 'plain', step: (ctx) => void plain.push(ids(ctx.batch)) } }).runSteps(train, 10);
    expect(log.main).toEqual(plain);
    model.dispose();
  });

  it('leave no tensors behind (batches drawn inside a rule\'s own tidy stay usable)', () => {
    const model = makeModel();
    const rule: UpdateRule = {
      name: 'tidy-drawer',
      step(ctx) {
        let val: Batch | undefined;
        tf.tidy(() => {
          val = ctx.validationBatch();
        });
        ctx.withBatch(val!).losses();
      },
    };
    const trainer = new Trainer({ model, tasks, optimizer: sgd(0.01), rule, batchSize: 8, validation, checkLeaks: true });
    trainer.runSteps(train, 2);
    const before = tf.memory().numTensors;
    trainer.runSteps(train, 6);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('validationBatch without a validation set is INVALID_OPTION naming the option', () => {
    const model = makeModel();
    const rule: UpdateRule = { name: 'needs-validation', step: (ctx) => void ctx.validationBatch() };
    let error: unknown;
    try {
      new Trainer({ model, tasks, rule, batchSize: 8 }).runSteps(train, 1);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'INVALID_OPTION', details: { option: 'validation' } });
    expect(() => new Trainer({ model, tasks, batchSize: 8, validationBatchSize: 4 })).toThrow(/validationBatchSize/);
    model.dispose();
  });

  it('a checkpoint restores both streams exactly: resumed = uninterrupted', async () => {
    const options = { tasks, batchSize: 8, seed: 9, validation, validationBatchSize: 5 };
    const straightLog = emptyLog();
    const straight = makeModel();
    await new Trainer({ ...options, model: straight, optimizer: adam(0.01), rule: drawingRule(straightLog) }).fit(train, { epochs: 4 });

    const dir = tempDir();
    const first = makeModel();
    await new Trainer({ ...options, model: first, optimizer: adam(0.01), rule: drawingRule(emptyLog()), checkpoint: { dir } }).fit(train, { epochs: 2 });
    first.dispose();
    const resumedLog = emptyLog();
    const resumed = makeModel(5);
    await new Trainer({ ...options, model: resumed, optimizer: adam(0.01), rule: drawingRule(resumedLog), checkpoint: { dir } }).fit(train, { epochs: 4, resume: true });

    expect(resumedLog.validation).toEqual(straightLog.validation.slice(10));
    expect(resumedLog.extra).toEqual(straightLog.extra.slice(10));
    expect(resumedLog.main).toEqual(straightLog.main.slice(10));
    const a = flat(straight);
    flat(resumed).forEach((v, i) => expect(v).toBeCloseTo(a[i]!, 6));
    straight.dispose();
    resumed.dispose();
  });
});

describe('Trainer.runSteps advances the epoch', () => {
  it('a checkpoint taken mid-epoch by an outer loop resumes the epoch count and the history exactly', async () => {
    const make = (model: ReturnType<typeof makeModel>) => new Trainer({ model, tasks, optimizer: sgd(0.05), batchSize: 10, seed: 3, validation });
    const straightModel = makeModel();
    const straight = make(straightModel);
    straight.runSteps(train, 14);
    const dir = tempDir();
    const firstModel = makeModel();
    const first = make(firstModel);
    first.runSteps(train, 6); // 1.5 epochs
    await first.saveCheckpoint(train, { dir });
    firstModel.dispose();
    const resumedModel = makeModel(8);
    const resumed = make(resumedModel);
    await resumed.restoreCheckpoint(train, { dir });
    expect(resumed.epoch).toBe(1);
    resumed.runSteps(train, 8);
    expect(resumed.epoch).toBe(straight.epoch);
    expect(resumed.history.map((h) => [h.epoch, h.steps])).toEqual([[0, 4], [1, 4], [2, 4]]);
    resumed.history.forEach((h, e) => expect(h.trainLoss['B']).toBeCloseTo(straight.history[e]!.trainLoss['B']!, 6));
    const a = flat(straightModel);
    flat(resumedModel).forEach((v, i) => expect(v).toBeCloseTo(a[i]!, 6));
    straightModel.dispose();
    resumedModel.dispose();
  });

  /**
   * DWA (Liu et al. 2019): w_i = T exp(r_i / τ) / Σ_j exp(r_j / τ), r_i = L̄_i(e−1) / L̄_i(e−2), with
   * L̄_i(e) the mean training loss of epoch e; weights 1 in the first two epochs. Written out here.
   */
  function dwaLike(seen: { epoch: number; weights: number[] }[]): UpdateRule {
    const sums = new Map<number, { total: number[]; n: number }>();
    return {
      name: 'dwa-like',
      step(ctx) {
        const losses = ctx.losses();
        let weights = [1, 1];
        if (ctx.epoch >= 2) {
          const mean = (e: number) => sums.get(e)!.total.map((s) => s / sums.get(e)!.n);
          const r = mean(ctx.epoch - 1).map((l, i) => l / mean(ctx.epoch - 2)[i]!);
          const e = r.map((x) => Math.exp(x / 2));
          weights = e.map((x) => (2 * x) / (e[0]! + e[1]!));
        }
        const entry = sums.get(ctx.epoch) ?? { total: [0, 0], n: 0 };
        entry.total = entry.total.map((s, i) => s + losses[i]!);
        entry.n++;
        sums.set(ctx.epoch, entry);
        seen.push({ epoch: ctx.epoch, weights });
        ctx.applyGradients(ctx.weightedLossGradients(weights));
        return { weights };
      },
    };
  }

  it('ctx.epoch counts data passes across runSteps calls; an epoch-dependent rule leaves its warm-up', () => {
    const seen: { epoch: number; weights: number[] }[] = [];
    const model = makeModel();
    const trainer = new Trainer({ model, tasks, optimizer: sgd(0.05), rule: dwaLike(seen), batchSize: 10, seed: 2 });
    const stats = [...trainer.runSteps(train, 5), ...trainer.runSteps(train, 5), ...trainer.runSteps(train, 2)];
    // 40 examples in batches of 10: 4 steps an epoch.
    expect(seen.map((s) => s.epoch)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    expect(stats.map((s) => s.epoch)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    expect(trainer.epoch).toBe(3);
    expect(trainer.history.map((h) => [h.epoch, h.steps])).toEqual([[0, 4], [1, 4], [2, 4]]);
    // History: the mean of the reported losses of each epoch's steps (equal batches here).
    const mean = (from: number, task: string) => stats.slice(from, from + 4).reduce((s, x) => s + x.losses[task]!, 0) / 4;
    expect(trainer.history[1]!.trainLoss['A']).toBeCloseTo(mean(4, 'A'), 6);
    // Warm-up over: weights of epoch 2 are DWA's, not 1.
    for (const s of seen.slice(8)) {
      expect(s.weights[0]! + s.weights[1]!).toBeCloseTo(2, 12);
      expect(Math.abs(s.weights[0]! - 1)).toBeGreaterThan(1e-4);
    }
    model.dispose();
  });
});
