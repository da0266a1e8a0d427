import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import './setup.js';
import {
  MtlError,
  ParamSnapshot,
  Trainer,
  adam,
  aggregatorRule,
  hardSharingMlp,
  inMemoryDataset,
  loadLatestCheckpoint,
  disposeCheckpoint,
  progressReporter,
  regressionTask,
  sgd,
  tf,
  weightedSum,
  type GradientAggregator,
  type Task,
  type UpdateRule,
} from '../src/index.js';
import { toyTwoTaskProblem } from '../src/testing/fixtures.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'mtl-core-test-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const problem = toyTwoTaskProblem({ seed: 11, size: 256 });
const makeModel = (seed = 1) => hardSharingMlp({ inputSize: problem.inputSize, tasks: problem.tasks, trunk: [16], seed });
const flat = (model: ReturnType<typeof makeModel>) => {
  const s = ParamSnapshot.capture(model.parameters);
  const v = s.flatten();
  s.dispose();
  return Array.from(v);
};

describe('Trainer', () => {
  it('keeps tf.memory().numTensors flat across many steps', () => {
    const model = makeModel();
    const trainer = new Trainer({ model, tasks: problem.tasks, optimizer: adam(0.01), batchSize: 16, checkLeaks: true });
    trainer.runSteps(problem.train, 3); // optimizer slots are created on the first steps
    const before = tf.memory().numTensors;
    trainer.runSteps(problem.train, 60);
    const after = tf.memory().numTensors;
    expect(after).toBe(before);
    const leaky: UpdateRule = { name: 'leaky', step: (ctx) => void tf.keep(tf.scalar(ctx.step)) };
    const checked = new Trainer({ model, tasks: problem.tasks, rule: leaky, batchSize: 16, checkLeaks: true });
    expect(() => checked.runSteps(problem.train, 5)).toThrow(expect.objectContaining({ code: 'TENSOR_LEAK', details: { rule: 'leaky', leaked: 1 } }));
    model.dispose();
  });

  it('is deterministic: same seed, same parameters; another seed differs', async () => {
    const run = async (seed: number) => {
      const model = makeModel();
      const trainer = new Trainer({ model, tasks: problem.tasks, optimizer: adam(0.01), batchSize: 32, seed });
      await trainer.fit(problem.train, { epochs: 2 });
      const v = flat(model);
      model.dispose();
      return v;
    };
    const a = await run(5);
    const b = await run(5);
    const c = await run(6);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('resumes from a checkpoint exactly where an uninterrupted run would be', async () => {
    const dir = tempDir();
    const straight = makeModel();
    await new Trainer({ model: straight, tasks: problem.tasks, optimizer: adam(0.01), batchSize: 24, seed: 3 }).fit(problem.train, { epochs: 4 });

    const first = makeModel();
    const t1 = new Trainer({ model: first, tasks: problem.tasks, optimizer: adam(0.01), batchSize: 24, seed: 3, checkpoint: { dir } });
    await t1.fit(problem.train, { epochs: 2 });
    first.dispose();

    const resumed = makeModel(99); // different init: everything must come from the checkpoint
    const t2 = new Trainer({ model: resumed, tasks: problem.tasks, optimizer: adam(0.01), batchSize: 24, seed: 3, checkpoint: { dir } });
    const result = await t2.fit(problem.train, { epochs: 4, resume: true });
    expect(result.history.map((h) => h.epoch)).toEqual([0, 1, 2, 3]);
    expect(t2.step).toBe(4 * Math.ceil(256 / 24));
    const a = flat(straight);
    const b = flat(resumed);
    b.forEach((v, i) => expect(v).toBeCloseTo(a[i]!, 6));
    straight.dispose();
    resumed.dispose();
  });

  it('stops on a NaN loss naming the step and task, leaving the last checkpoint intact', async () => {
    const dir = tempDir();
    let calls = 0;
    const base = regressionTask('value');
    const poisoned: Task = { ...base, loss: (p, t) => (++calls > 40 ? tf.scalar(Number.NaN) : base.loss(p, t)) };
    const tasks = [problem.tasks[0]!, poisoned];
    const model = hardSharingMlp({ inputSize: problem.inputSize, tasks, trunk: [8], seed: 1 });
    let savedAfterEpoch: number[] = [];
    const trainer = new Trainer({
      model,
      tasks,
      optimizer: sgd(0.05),
      batchSize: 32, // 8 steps an epoch: the NaN arrives in epoch 5
      checkpoint: { dir },
      callbacks: [{ onEpochEnd: () => (savedAfterEpoch = flat(model)) }],
    });
    const error = await trainer.fit(problem.train, { epochs: 10 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MtlError);
    expect((error as MtlError).code).toBe('NON_FINITE_LOSS');
    expect((error as MtlError).details).toMatchObject({ task: 'value', step: 40, epoch: 5 });
    expect((error as MtlError).message).toMatch(/task "value".*step 40/);
    const checkpoint = (await loadLatestCheckpoint(dir))!;
    expect(checkpoint.epoch).toBe(5);
    expect(Array.from(checkpoint.parameters.flatten())).toEqual(savedAfterEpoch);
    disposeCheckpoint(checkpoint);
    model.dispose();
  });

  it('early stopping restores the best epoch', async () => {
    // Training targets of `value` are noise: fitting them makes the validation error grow.
    const raw = problem.train.gather(Array.from({ length: 64 }, (_, i) => i));
    const noisy = inMemoryDataset({ x: raw.x, inputShape: [problem.inputSize], targets: { sign: raw.targets['sign']!, value: raw.targets['value']!.map((_, i) => Math.sin(i * 12.9898) * 3) } });
    const model = makeModel();
    const trainer = new Trainer({ model, tasks: problem.tasks, optimizer: adam(0.03), batchSize: 16, earlyStopping: { monitor: 'value/mse', patience: 2 } });
    const result = await trainer.fit(noisy, { epochs: 60, validation: problem.validation });
    expect(result.stoppedEarly).toBe(true);
    expect(result.history.length).toBeLessThan(60);
    const scores = result.history.map((h) => h.validation!['value/mse']!);
    const best = Math.min(...scores);
    expect(result.bestEpoch).toBe(scores.indexOf(best));
    expect(result.bestScore).toBe(best);
    expect(scores.at(-1)!).toBeGreaterThan(best);
    expect(trainer.evaluate(problem.validation)['value/mse']).toBeCloseTo(best, 5);
    model.dispose();
  });

  it('an aggregator rule summing the rows equals the weighted-sum rule, in both gradient spaces', () => {
    const sum: GradientAggregator<null> = {
      name: 'sum',
      initialState: () => null,
      aggregate: (G, _input, state) => {
        const direction = new Float64Array(G.cols);
        for (let r = 0; r < G.rows; r++) for (let c = 0; c < G.cols; c++) direction[c]! += G.data[r * G.cols + c]!;
        return { direction, weights: Array(G.rows).fill(1) as number[], state };
      },
    };
    const results = [weightedSum(), aggregatorRule(sum), aggregatorRule(sum, { space: 'representation' })].map((rule) => {
      const model = makeModel();
      new Trainer({ model, tasks: problem.tasks, optimizer: sgd(0.05), rule, batchSize: 32, seed: 8 }).runSteps(problem.train, 5);
      const v = flat(model);
      model.dispose();
      return v;
    });
    results[1]!.forEach((v, i) => expect(v).toBeCloseTo(results[0]![i]!, 5));
    results[2]!.forEach((v, i) => expect(v).toBeCloseTo(results[0]![i]!, 5));
  });

  it('an aggregation\'s head weights scale each task\'s own gradient (0 freezes that head)', () => {
    const zeroDirection: GradientAggregator<null> = {
      name: 'heads-only',
      initialState: () => null,
      aggregate: (G, _input, state) => ({ direction: new Float64Array(G.cols), weights: [1, 1], headWeights: [1, 0], state }),
    };
    const model = makeModel();
    const before = flat(model);
    new Trainer({ model, tasks: problem.tasks, optimizer: sgd(0.1), rule: aggregatorRule(zeroDirection), batchSize: 32 }).runSteps(problem.train, 2);
    const after = flat(model);
    const snapshot = ParamSnapshot.capture(model.parameters);
    const moved = (task: string | undefined) =>
      model.parameters.filter((p) => p.task === task).some((p) => {
        const e = snapshot.layout.entry(p.key);
        return after.slice(e.offset, e.offset + e.size).some((v, i) => v !== before[e.offset + i]);
      });
    snapshot.dispose();
    expect(moved(undefined)).toBe(false);
    expect(moved('sign')).toBe(true);
    expect(moved('value')).toBe(false);
    model.dispose();
  });

  it('lookahead predicts the losses after a real optimizer step and restores the parameters exactly', () => {
    const model = makeModel();
    const observed: { predicted: readonly number[]; actual: readonly number[]; restored: boolean }[] = [];
    const rule: UpdateRule = {
      name: 'task-0-lookahead',
      step(ctx) {
        const jacobian = ctx.taskGradients('parameters');
        const row0 = tf.reshape<tf.Rank.R1>(tf.slice(jacobian.jacobian, [0, 0], [1, -1]), [-1]);
        const grads = jacobian.sharedLayout.unflatten(row0);
        const shared = ctx.model.sharedParameters;
        const before = flat(model);
        const predicted = ctx.lookahead(ctx.optimizer.preview(shared, grads), () => ctx.evaluateLosses());
        const restored = flat(model).every((v, i) => v === before[i]);
        ctx.applyGradients(grads, { parameters: shared });
        observed.push({ predicted, actual: ctx.evaluateLosses(), restored });
      },
    };
    new Trainer({ model, tasks: problem.tasks, optimizer: adam(0.05), rule, batchSize: 32 }).runSteps(problem.train, 4);
    expect(observed).toHaveLength(4);
    for (const o of observed) {
      expect(o.restored).toBe(true);
      o.predicted.forEach((l, t) => expect(l).toBeCloseTo(o.actual[t]!, 5));
    }
    model.dispose();
  });

  it('reports progress as plain lines when not on a TTY', async () => {
    const lines: string[] = [];
    const stream = { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream;
    const model = makeModel();
    await new Trainer({ model, tasks: problem.tasks, callbacks: [progressReporter({ stream, tty: false })] }).fit(problem.train, { epochs: 2, validation: problem.validation });
    expect(lines[0]).toMatch(/^training sign, value with weighted-sum/);
    expect(lines.filter((l) => /^epoch \d\/2 .* steps\/s, \d+:\d\d elapsed, ETA [\d:]+ \| train sign .* \| val loss/.test(l))).toHaveLength(2);
    model.dispose();
  });
});

describe('typed errors', () => {
  const model = makeModel();

  it('names unknown tasks, missing targets, bad shapes, empty data and bad options', async () => {
    expect(() => new Trainer({ model, tasks: [regressionTask('nope')] })).toThrow(/unknown task "nope"; known tasks: sign, value/);
    const trainer = new Trainer({ model, tasks: problem.tasks });
    const noValue = inMemoryDataset({ x: new Float32Array(8 * 4), inputShape: [8], targets: { sign: [0, 1, 0, 1] } });
    await expect(trainer.fit(noValue, { epochs: 1 })).rejects.toMatchObject({ code: 'MISSING_TARGET', details: { task: 'value' } });
    const wrongShape = inMemoryDataset({ x: new Float32Array(4 * 4), inputShape: [4], targets: { sign: [0, 1, 0, 1], value: [1, 2, 3, 4] } });
    await expect(trainer.fit(wrongShape, { epochs: 1 })).rejects.toMatchObject({ code: 'SHAPE_MISMATCH', details: { expected: [8], actual: [4] } });
    const badLabel = inMemoryDataset({ x: new Float32Array(8 * 2), inputShape: [8], targets: { sign: [0, 2], value: [1, 2] } });
    await expect(trainer.fit(badLabel, { epochs: 1 })).rejects.toMatchObject({ code: 'INVALID_DATA', details: { task: 'sign', example: 1, value: 2 } });
    expect(() => inMemoryDataset({ x: [], inputShape: [8], targets: {} })).toThrow(expect.objectContaining({ code: 'EMPTY_DATA' }));
    expect(() => inMemoryDataset({ x: [1, Number.NaN], inputShape: [2], targets: { a: [1] } })).toThrow(/non-finite value \(NaN\) in example 0/);
    expect(() => inMemoryDataset({ x: [1, 2, 3], inputShape: [2], targets: { a: [1] } })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    await expect(trainer.fit(problem.train, { epochs: 0 })).rejects.toMatchObject({ code: 'INVALID_OPTION', details: { option: 'epochs' } });
    expect(() => new Trainer({ model, tasks: problem.tasks, batchSize: 2.5 })).toThrow(/option "batchSize" must be a positive integer, got 2.5/);
    expect(() => new Trainer({ model, tasks: problem.tasks, earlyStopping: { monitor: 'sign/f1', patience: 1 } })).toThrow(/earlyStopping.monitor/);
    expect(() => new Trainer({ model, tasks: problem.tasks, rule: weightedSum({ other: 1 }) }).runSteps(problem.train, 1)).toThrow(/unknown task "other"/);
  });
});
