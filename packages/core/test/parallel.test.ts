import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { backend } from './setup.js';
import {
  MtlError,
  ParamSnapshot,
  SeededRandom,
  Trainer,
  TrainingStepContext,
  computeTaskGradients,
  createGradientWorkers,
  disposeTaskGradients,
  inMemoryDataset,
  sgd,
  tf,
  useBestBackend,
  type Batch,
  type GradientWorkers,
  type Task,
  type TaskGradients,
  type UpdateRule,
} from '../src/index.js';
import { problemModel, problemTasks, type ProblemArgs } from './fixtures/parallel-problem.js';

const setupModule = new URL('./fixtures/gradient-worker-setup.ts', import.meta.url);
const base: ProblemArgs = { inputSize: 6, trunk: [8, 5], tasks: 3 };

function randomBatch(tasks: readonly Task[], seed: number, n = 9, inputSize = base.inputSize): Batch {
  const rng = new SeededRandom(seed);
  const targets: Record<string, tf.Tensor> = {};
  for (const t of tasks) {
    targets[t.name] = t.target.kind === 'class' ? tf.tensor1d(Int32Array.from({ length: n }, () => rng.int(3)), 'int32') : tf.tensor2d(Float32Array.from({ length: 2 * n }, () => rng.normal()), [n, 2]);
  }
  return { size: n, x: tf.tensor2d(Float32Array.from({ length: n * inputSize }, () => rng.normal()), [n, inputSize]), targets };
}

function disposeBatch(batch: Batch): void {
  tf.dispose([batch.x, ...Object.values(batch.targets)]);
}

/** Everything in a TaskGradients as plain numbers, for exact comparisons. */
function plain(g: TaskGradients) {
  return {
    taskNames: g.taskNames,
    keys: g.sharedLayout.keys,
    losses: Array.from(g.losses.dataSync()),
    jacobianShape: g.jacobian.shape,
    jacobian: g.jacobian.dataSync().slice(),
    taskSpecific: [...g.taskSpecific].map(([task, m]) => [task, [...m].map(([key, t]) => [key, t.shape, Array.from(t.dataSync())])]),
  };
}

async function start(args: ProblemArgs, tasks = problemTasks(args.tasks), workers = 1) {
  const model = problemModel(args, tasks);
  const pool = await createGradientWorkers({ setupModule, setupArgs: args, model, tasks, workers });
  return { model, tasks, pool };
}

describe.each(['wasm', 'cpu'] as const)('gradient workers on %s', (name) => {
  let pool: GradientWorkers;
  let model: ReturnType<typeof problemModel>;
  let tasks: Task[];
  beforeAll(async () => {
    await useBestBackend({ backend: name });
    ({ pool, model, tasks } = await start(base));
  });
  afterAll(async () => {
    await pool.close();
    model.dispose();
    await useBestBackend({ backend: backend.candidate });
  });

  it('compute the serial Jacobian, losses and head gradients bit for bit, leaving no tensors', () => {
    for (const seed of [1, 2]) {
      const batch = randomBatch(tasks, seed);
      const before = tf.memory().numTensors;
      const serial = computeTaskGradients(model, tasks, batch, 'parameters');
      const parallel = pool.compute(model, tasks, batch);
      expect(plain(parallel)).toEqual(plain(serial));
      // Not trivially equal: every task has a non-zero row.
      expect(tf.tidy(() => tf.min(tf.sum(tf.abs(serial.jacobian), 1)).dataSync()[0])).toBeGreaterThan(0);
      disposeTaskGradients(serial);
      disposeTaskGradients(parallel);
      expect(tf.memory().numTensors).toBe(before);
      disposeBatch(batch);
    }
  });

  it('split any number of tasks (1, 2 and 3 of them) the same way', () => {
    const batch = randomBatch(tasks, 3);
    for (const subset of [tasks.slice(0, 1), tasks.slice(1), [tasks[2]!, tasks[0]!]]) {
      const serial = computeTaskGradients(model, subset, batch, 'parameters');
      const parallel = pool.compute(model, subset, batch);
      expect(plain(parallel)).toEqual(plain(serial));
      disposeTaskGradients(serial);
      disposeTaskGradients(parallel);
    }
    disposeBatch(batch);
  });
});

describe('training with gradient workers', () => {
  /** Sums the Jacobian rows: the update depends on every row the workers computed. */
  const jacobianSum: UpdateRule = {
    name: 'jacobian-sum',
    step(ctx) {
      const g = ctx.taskGradients('parameters');
      ctx.applyGradients(ctx.gradientsFromDirection(tf.sum<tf.Tensor1D>(g.jacobian, 0)));
    },
  };

  function dataset(tasks: readonly Task[]) {
    const rng = new SeededRandom(9);
    const n = 40;
    return inMemoryDataset({
      x: Float32Array.from({ length: n * base.inputSize }, () => rng.normal()),
      inputShape: [base.inputSize],
      targets: Object.fromEntries(tasks.map((t) => [t.name, t.target.kind === 'class' ? Int32Array.from({ length: n }, () => rng.int(3)) : Float32Array.from({ length: 2 * n }, () => rng.normal())])),
    });
  }

  async function train(parallel: boolean) {
    const tasks = problemTasks(base.tasks);
    const model = problemModel(base, tasks);
    const pool = parallel ? await createGradientWorkers({ setupModule, setupArgs: base, model, tasks, workers: 2 }) : undefined;
    const trainer = new Trainer({ model, tasks, optimizer: sgd(0.05), rule: jacobianSum, batchSize: 16, seed: 4, checkLeaks: true, ...(pool ? { gradientWorkers: pool } : {}) });
    const stats = trainer.runSteps(dataset(tasks), 8);
    const snapshot = ParamSnapshot.capture(model.parameters);
    const values = snapshot.flatten();
    snapshot.dispose();
    trainer.dispose();
    model.dispose();
    await pool?.close();
    return { values, losses: stats.map((s) => s.losses) };
  }

  it('gives the same parameters and losses as training without them (two workers, leak-checked)', async () => {
    const serial = await train(false);
    const parallel = await train(true);
    expect(parallel.losses).toEqual(serial.losses);
    expect(parallel.values).toEqual(serial.values);
    expect(serial.losses[7]).not.toEqual(serial.losses[0]);
  });

  it('raise NON_FINITE_LOSS naming the task whose loss a worker found NaN', async () => {
    const { pool, model, tasks } = await start(base);
    const batch = randomBatch(tasks, 5);
    // r1 and c2 are the worker's share; make r1's targets NaN.
    const bad = { ...batch, targets: { ...batch.targets, r1: tf.fill([batch.size, 2], NaN) } };
    const ctx = new TrainingStepContext({ step: 3, epoch: 0, model, tasks, batch: bad, optimizer: sgd(0.1), random: new SeededRandom(1), gradientWorkers: pool });
    const error = (() => {
      try {
        tf.tidy(() => void ctx.taskGradients('parameters'));
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(MtlError);
    expect((error as MtlError).code).toBe('NON_FINITE_LOSS');
    expect((error as MtlError).details['task']).toBe('r1');
    disposeBatch(batch);
    bad.targets.r1.dispose();
    await pool.close();
    model.dispose();
  });
});

describe('gradient worker errors', () => {
  async function failure(promise: Promise<unknown>): Promise<MtlError> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MtlError);
    return error as MtlError;
  }

  it('reject a setup module whose model has other parameters (SHAPE_MISMATCH)', async () => {
    const tasks = problemTasks(base.tasks);
    const model = problemModel({ ...base, trunk: [8, 4] }, tasks);
    const error = await failure(createGradientWorkers({ setupModule, setupArgs: base, model, tasks, workers: 1 }));
    expect(error.code).toBe('SHAPE_MISMATCH');
    model.dispose();
  });

  it('reject a setup module that lacks a task (UNKNOWN_TASK)', async () => {
    const tasks = problemTasks(base.tasks);
    const model = problemModel(base, tasks);
    const error = await failure(createGradientWorkers({ setupModule, setupArgs: { ...base, dropTask: 'c2' }, model, tasks, workers: 1 }));
    expect(error.code).toBe('UNKNOWN_TASK');
    expect(error.details['task']).toBe('c2');
    model.dispose();
  });

  it('surface errors thrown in a worker as MtlErrors, keeping their code, and stay usable', async () => {
    for (const [sabotage, code] of [
      ['throw', 'WORKER_FAILED'],
      ['mtl-error', 'MISSING_TARGET'],
    ] as const) {
      const { pool, model, tasks } = await start({ ...base, sabotage });
      const batch = randomBatch(tasks, 6);
      const before = tf.memory().numTensors;
      const error = await failure(Promise.resolve().then(() => pool.compute(model, tasks, batch)));
      expect(error.code).toBe(code);
      expect(error.message).toContain('sabotaged task');
      expect(error.details['worker']).toBe(0);
      expect(tf.memory().numTensors).toBe(before);
      // The main thread's share alone still works: the pool survived the error.
      disposeTaskGradients(pool.compute(model, tasks.slice(0, 1), batch));
      disposeBatch(batch);
      await pool.close();
      model.dispose();
    }
  });

  it('turn a worker that dies mid-job into WORKER_FAILED, not a hang; the pool is then unusable', async () => {
    const { pool, model, tasks } = await start({ ...base, sabotage: 'exit' });
    const batch = randomBatch(tasks, 7);
    const error = await failure(Promise.resolve().then(() => pool.compute(model, tasks, batch)));
    expect(error.code).toBe('WORKER_FAILED');
    expect(() => pool.compute(model, tasks, batch)).toThrow(MtlError);
    disposeBatch(batch);
    await pool.close();
    expect(() => pool.compute(model, tasks, batch)).toThrow(/closed/);
    model.dispose();
  });

  it('check the model and tasks of each call', async () => {
    const { pool, model, tasks } = await start(base);
    const other = problemModel({ ...base, trunk: [3] }, tasks);
    const batch = randomBatch(tasks, 8);
    expect(() => pool.compute(other, tasks, batch)).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    const stranger = problemTasks(5)[4]!;
    expect(() => pool.compute(model, [stranger], batch)).toThrow(expect.objectContaining({ code: 'UNKNOWN_TASK' }));
    disposeBatch(batch);
    other.dispose();
    await pool.close();
    model.dispose();
  });
});

describe('closing gradient workers', () => {
  const script = fileURLToPath(new URL('./fixtures/close-script.ts', import.meta.url));
  const run = (...args: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', '--conditions=@mtl/source', script, ...args], { timeout: 60_000 });

  it('ends the threads: the process exits after close(), and also when close() was forgotten', async () => {
    const [closed, forgotten] = await Promise.all([run(), run('forget')]);
    expect(closed.stdout).toContain('losses 2');
    expect(closed.stdout).toContain('closed true');
    expect(forgotten.stdout).toContain('losses 2');
  });
});
