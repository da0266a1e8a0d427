import { describe, expect, it } from 'vitest';
import './setup.js';
import { MtlError, Trainer, adam, hardSharingMlp, inMemoryDataset, regressionTask, tf, type MultiTaskDataset, type RawBatch, type Task } from '../src/index.js';
import { toyTwoTaskProblem } from '../src/testing/fixtures.js';

const problem = toyTwoTaskProblem({ seed: 7, size: 40 });
const makeModel = (tasks: readonly Task[] = problem.tasks) => hardSharingMlp({ inputSize: problem.inputSize, tasks, trunk: [5], seed: 2 });

/** `problem.train` behind a custom gather that `tamper` may change once `armed` (after validation). */
function custom(tamper: (raw: RawBatch, indices: ArrayLike<number>) => RawBatch): MultiTaskDataset & { armed: boolean } {
  const inner = problem.train;
  const dataset = {
    armed: false,
    size: inner.size,
    inputShape: inner.inputShape,
    targetSizes: inner.targetSizes,
    gather(indices: ArrayLike<number>) {
      const raw = inner.gather(indices);
      return dataset.armed ? tamper(raw, indices) : raw;
    },
  };
  return dataset;
}

async function failure(promise: Promise<unknown>): Promise<MtlError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MtlError);
  return error as MtlError;
}

describe('custom datasets', () => {
  it('a gather() returning the wrong number of values is SHAPE_MISMATCH naming the dataset and field, leaking nothing', async () => {
    const short = custom((raw) => (raw.size < 16 ? { ...raw, targets: { ...raw.targets, value: raw.targets['value']!.subarray(1) } } : raw));
    const model = makeModel();
    const trainer = new Trainer({ model, tasks: problem.tasks, optimizer: adam(0.01), batchSize: 16, shuffle: false });
    trainer.runSteps(short, 1); // creates the optimizer slots
    short.armed = true;
    const before = tf.memory().numTensors;
    // 40 examples in batches of 16: the third batch has 8, and its "value" targets come back short.
    const error = await failure(Promise.resolve().then(() => trainer.runSteps(short, 2)));
    expect(error.code).toBe('SHAPE_MISMATCH');
    expect(error.message).toMatch(/training data: gather\(\) of 8 examples returned targets of task "value" with 7 numbers, expected 8/);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('a step that fails inside the gradient tape frees every tensor it made', () => {
    let poisoned = false;
    const base = regressionTask('value');
    const throwing: Task = { ...base, loss: (p, t) => (poisoned ? (() => { throw new TypeError('a bug in a custom loss'); })() : base.loss(p, t)) };
    const tasks = [problem.tasks[0]!, throwing];
    const model = makeModel(tasks);
    const trainer = new Trainer({ model, tasks, optimizer: adam(0.01), batchSize: 16 });
    trainer.runSteps(problem.train, 2);
    const before = tf.memory().numTensors;
    poisoned = true;
    for (let i = 0; i < 3; i++) expect(() => trainer.runSteps(problem.train, 1)).toThrow(/a bug in a custom loss/);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('NaN in inputs is INVALID_DATA naming the example, not a task loss: before training, or when it appears mid-run', async () => {
    const model = makeModel();
    const staticNaN = { ...problem.train, gather: (idx: ArrayLike<number>) => {
      const r = problem.train.gather(idx);
      const out = Float32Array.from(r.x);
      Array.from(idx).forEach((j, i) => j === 23 && (out[i * problem.inputSize + 2] = Number.NaN));
      return { ...r, x: out };
    } };
    const early = await failure(new Trainer({ model, tasks: problem.tasks, batchSize: 16 }).fit(staticNaN, { epochs: 1 }));
    expect(early).toMatchObject({ code: 'INVALID_DATA', details: { what: 'training data', field: 'x', example: 23 } });

    // Appears only after validation passed (augmentation, a flaky source): blamed when the loss turns NaN.
    const flaky = custom((r, idx) => {
      const out = Float32Array.from(r.x);
      Array.from(idx).forEach((j, i) => j === 31 && (out[i * problem.inputSize] = Number.NaN));
      return { ...r, x: out };
    });
    const trainer = new Trainer({ model, tasks: problem.tasks, batchSize: 8, shuffle: false });
    trainer.runSteps(flaky, 1); // validated (and found clean) here
    flaky.armed = true;
    const late = await failure(Promise.resolve().then(() => trainer.runSteps(flaky, 5)));
    expect(late.code).toBe('INVALID_DATA');
    expect(late.details).toMatchObject({ field: 'x', example: 31, step: 3 });
    expect(late.message).toMatch(/input of example 31 holds NaN/);
    model.dispose();
  });

  it('a non-finite validation loss fails the run (NON_FINITE_LOSS naming the task) instead of becoming a score', async () => {
    const v = problem.validation.gather(Array.from({ length: problem.validation.size }, (_, i) => i));
    // Finite targets whose squared error overflows float32: the validation "value" loss is Infinity.
    const huge = inMemoryDataset({ x: v.x, inputShape: [problem.inputSize], targets: { sign: v.targets['sign']!, value: v.targets['value']!.map(() => 1e30) } });
    for (const earlyStopping of [undefined, { monitor: 'value/loss', patience: 1 }]) {
      const model = makeModel();
      const trainer = new Trainer({ model, tasks: problem.tasks, batchSize: 16, ...(earlyStopping ? { earlyStopping } : {}) });
      const error = await failure(trainer.fit(problem.train, { epochs: 3, validation: huge }));
      expect(error.code).toBe('NON_FINITE_LOSS');
      expect(error.details).toMatchObject({ task: 'value', epoch: 0, what: 'validation' });
      model.dispose();
    }
  });
});
