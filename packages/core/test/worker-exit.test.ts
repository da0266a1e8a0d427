import { describe, expect, it } from 'vitest';
import type { Worker } from 'node:worker_threads';
import './setup.js';
import { MtlError, SeededRandom, Trainer, createGradientWorkers, createGradientWorkersSync, inMemoryDataset, sgd, tf, type Batch, type Task, type UpdateRule } from '../src/index.js';
import { problemModel, problemTasks, type ProblemArgs } from './fixtures/parallel-problem.js';

const setupModule = new URL('./fixtures/gradient-worker-setup.ts', import.meta.url);
const args: ProblemArgs = { inputSize: 4, trunk: [5], tasks: 3 };
/** Far longer than the generous bound below: a wait that runs into it is the bug. */
const TIMEOUT_MS = 120_000;

function batchFor(tasks: readonly Task[]): Batch {
  const rng = new SeededRandom(2);
  const n = 6;
  const targets = Object.fromEntries(
    tasks.map((t) => [t.name, t.target.kind === 'class' ? tf.tensor1d(Int32Array.from({ length: n }, () => rng.int(3)), 'int32') : tf.tensor2d(Float32Array.from({ length: 2 * n }, () => rng.normal()), [n, 2])]),
  );
  return { size: n, x: tf.tensor2d(Float32Array.from({ length: n * args.inputSize }, () => rng.normal()), [n, args.inputSize]), targets };
}

/** The pool's threads (private: only a test reaches in to kill one). */
const threads = (pool: object) => (pool as unknown as { workers: readonly Worker[] }).workers;

describe('a terminated gradient worker', () => {
  it('is reported as WORKER_FAILED at once by the next compute, not after the job timeout', async () => {
    const tasks = problemTasks(args.tasks);
    const model = problemModel(args, tasks);
    const pool = await createGradientWorkers({ setupModule, setupArgs: args, model, tasks, workers: 2, timeoutMs: TIMEOUT_MS });
    const batch = batchFor(tasks);
    tf.dispose(pool.compute(model, tasks, batch).losses);
    // Not awaited: the main thread goes straight into compute with its event loop blocked, so the
    // worker's 'exit' event cannot arrive; the thread itself runs no exit handler when terminated.
    void threads(pool)[1]!.terminate();
    const started = performance.now();
    let error: unknown;
    try {
      pool.compute(model, tasks, batch);
    } catch (e) {
      error = e;
    }
    const seconds = (performance.now() - started) / 1000;
    expect(error).toBeInstanceOf(MtlError);
    expect((error as MtlError).code).toBe('WORKER_FAILED');
    expect((error as MtlError).message).not.toMatch(/did not finish within/);
    expect(seconds).toBeLessThan(30);
    tf.dispose([batch.x, ...Object.values(batch.targets)]);
    await pool.close();
    model.dispose();
  }, 60_000);

  it('is seen at once in a pool made synchronously (its event loop never turned)', () => {
    const tasks = problemTasks(args.tasks);
    const model = problemModel(args, tasks);
    const pool = createGradientWorkersSync({ setupModule, setupArgs: args, model, tasks, workers: 1, timeoutMs: TIMEOUT_MS });
    const batch = batchFor(tasks);
    tf.dispose(pool.compute(model, tasks, batch).losses);
    void threads(pool)[0]!.terminate();
    const started = performance.now();
    expect(() => pool.compute(model, tasks, batch)).toThrow(expect.objectContaining({ code: 'WORKER_FAILED' }));
    expect((performance.now() - started) / 1000).toBeLessThan(30);
    tf.dispose([batch.x, ...Object.values(batch.targets)]);
    model.dispose();
  }, 60_000);

  it('stops a training run promptly with WORKER_FAILED when a callback kills a worker between steps', async () => {
    const tasks = problemTasks(args.tasks);
    const model = problemModel(args, tasks);
    const pool = await createGradientWorkers({ setupModule, setupArgs: args, model, tasks, workers: 2, timeoutMs: TIMEOUT_MS });
    const rng = new SeededRandom(4);
    const n = 24;
    const data = inMemoryDataset({
      x: Float32Array.from({ length: n * args.inputSize }, () => rng.normal()),
      inputShape: [args.inputSize],
      targets: Object.fromEntries(tasks.map((t) => [t.name, t.target.kind === 'class' ? Int32Array.from({ length: n }, () => rng.int(3)) : Float32Array.from({ length: 2 * n }, () => rng.normal())])),
    });
    const jacobianRule: UpdateRule = { name: 'jacobian', step: (ctx) => void ctx.taskGradients('parameters') };
    const trainer = new Trainer({
      model,
      tasks,
      optimizer: sgd(0.01),
      rule: jacobianRule,
      batchSize: 4,
      gradientWorkers: pool,
      callbacks: [{ onStepEnd: (s) => void (s.step === 1 && threads(pool)[0]!.terminate()) }],
    });
    const started = performance.now();
    const error = await trainer.fit(data, { epochs: 3 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'WORKER_FAILED' });
    expect((performance.now() - started) / 1000).toBeLessThan(30);
    expect(trainer.step).toBe(2);
    await pool.close();
    model.dispose();
  }, 60_000);
});
