import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../tf.js';
import { SeededRandom } from '../random.js';
import { inMemoryDataset, toBatch, disposeBatch, type Batch } from '../data.js';
import { regressionTask, type Task } from '../tasks.js';
import { computeTaskGradients, disposeTaskGradients, gradientsFromDirection } from '../gradients.js';
import { isWeightParameter } from '../parameters.js';
import { adam } from '../optimizers.js';
import { Trainer } from '../training/trainer.js';
import type { MultiTaskModel } from '../models/model.js';
import { predict } from '../models/predict.js';
import { loadModel, saveModel } from '../models/save.js';
import { ConformanceError, type ConformanceReport } from './conformance.js';

export interface ArchitectureConformanceOptions {
  /**
   * Whether training and evaluation passes must differ (BatchNorm, dropout, LTB's Gumbel noise).
   * Default: whether the model has buffers.
   */
  readonly trainingDiffers?: boolean;
  /** Parameters whose gradient is a surrogate (LTB's straight-through branch logits): not compared to finite differences. */
  readonly surrogate?: (key: string) => boolean;
  /** Finite-difference step. Default 1e-3 (float32 central differences). */
  readonly step?: number;
  /** Training steps of the "trains" check. Default 40. */
  readonly trainSteps?: number;
  /** Skip the save/load round trip (models without an architecture description). */
  readonly skipSave?: boolean;
}

/** The tasks the suite builds models for: three regression tasks of sizes 1, 2 and 1. */
export const CONFORMANCE_TASKS: readonly Task[] = [regressionTask('a'), regressionTask('b', { size: 2 }), regressionTask('c')];

/**
 * Checks an architecture the way @mtl checks its own: forward shapes in both modes, per-task
 * parameter-space gradients (Jacobian rows and own-parameter gradients) against central finite
 * differences of each task's training loss at a fixed seed, representation-space rows that pull back
 * to ∇ Σ L, train/evaluation passes differing only
 * where expected, a `saveModel`/`loadModel` round trip predicting the same numbers, training that
 * lowers the loss, and no tensor left behind. `build(tasks)` must return a fresh, small model for
 * the given tasks (use smooth activations such as tanh so finite differences are meaningful).
 * Async (the round trip writes files); needs an active backend. Throws {@link ConformanceError}.
 */
export async function checkArchitectureConformance(
  name: string,
  build: (tasks: readonly Task[]) => MultiTaskModel,
  options: ArchitectureConformanceOptions = {},
): Promise<ConformanceReport> {
  const subject = `architecture "${name}"`;
  const failures: string[] = [];
  const passed: string[] = [];
  const check = (label: string, ok: boolean, detail: string) => (ok ? passed.push(label) : failures.push(`${label}: ${detail}`));
  const attempt = async (label: string, body: () => void | Promise<void>) => {
    try {
      await body();
    } catch (error) {
      failures.push(`${label}: threw ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const tasks = CONFORMANCE_TASKS;
  const startTensors = tf.memory().numTensors;

  await attempt('forward shapes', () => {
    const model = build(tasks);
    const batch = randomBatch(model, tasks, 4, 1);
    try {
      for (const training of [false, true]) {
        const shapes = tf.tidy(() => Object.fromEntries(Object.entries(model.forward(batch.x, { training, seed: 1 })).map(([t, y]) => [t, y.shape])));
        const ok = tasks.every((t) => String(shapes[t.name]) === String([4, t.outputSize]));
        check(`forward shapes (${training ? 'training' : 'evaluation'})`, ok, `got ${JSON.stringify(shapes)}, expected [4, outputSize] per task`);
      }
      const z = tf.tidy(() => {
        const rep = model.represent(batch.x);
        return Object.fromEntries(tasks.map((t) => [t.name, model.head(t.name, rep, batch.x).shape]));
      });
      check('represent + head = forward', tasks.every((t) => String(z[t.name]) === String([4, t.outputSize])), JSON.stringify(z));
    } finally {
      disposeBatch(batch);
      model.dispose();
    }
  });

  await attempt('exact gradients', () => {
    const model = build(tasks);
    const batch = randomBatch(model, tasks, 4, 2);
    const h = options.step ?? 1e-3;
    const forward = { training: true, seed: 5 };
    const g = computeTaskGradients(model, tasks, batch, 'parameters', { forward });
    let worst = { error: 0, where: '' };
    try {
      const jac = g.jacobian.arraySync();
      for (const p of model.parameters.filter(isWeightParameter)) {
        if (options.surrogate?.(p.key)) continue;
        const original = p.variable.dataSync().slice();
        for (const index of new Set([0, Math.floor(original.length / 2), original.length - 1])) {
          const lossesAt = (delta: number) => {
            const values = original.slice();
            values[index] = values[index]! + delta;
            tf.tidy(() => p.variable.assign(tf.tensor(values, p.variable.shape)));
            return tf.tidy(() => {
              const out = model.forward(batch.x, forward);
              return tasks.map((t) => t.loss(out[t.name]!, batch.targets[t.name]!).dataSync()[0]!);
            });
          };
          const plus = lossesAt(h);
          const minus = lossesAt(-h);
          tf.tidy(() => p.variable.assign(tf.tensor(original, p.variable.shape)));
          tasks.forEach((task, t) => {
            const fd = (plus[t]! - minus[t]!) / (2 * h);
            const shared = g.sharedLayout.entries.find((e) => e.key === p.key);
            const own = g.taskSpecific.get(task.name)?.get(p.key);
            const analytic = shared ? jac[t]![shared.offset + index]! : own ? own.dataSync()[index]! : 0;
            const error = Math.abs(analytic - fd) / (1e-2 + Math.abs(fd));
            if (error > worst.error) worst = { error, where: `task "${task.name}", ${p.key}[${index}]: analytic ${analytic}, finite difference ${fd}` };
          });
        }
      }
      check('gradients match finite differences', worst.error < 0.05, `worst relative error ${worst.error.toFixed(3)} at ${worst.where}`);
    } finally {
      disposeTaskGradients(g);
      disposeBatch(batch);
      model.dispose();
    }
  });

  await attempt('representation space', () => {
    const model = build(tasks);
    const batch = randomBatch(model, tasks, 4, 7);
    const forward = { training: true, seed: 5 };
    try {
      // Pulling Σ_t rows back through the trunk, plus the heads' gradients, must give ∇ Σ_t L_t.
      const expected = new Map<string, Float32Array>();
      tf.tidy(() => {
        const weights = model.parameters.filter(isWeightParameter);
        const { grads } = tf.variableGrads(() => {
          const out = model.forward(batch.x, forward);
          return tf.addN<tf.Scalar>(tasks.map((t) => t.loss(out[t.name]!, batch.targets[t.name]!)));
        }, weights.map((p) => p.variable));
        for (const p of weights) {
          const g = grads[p.variable.name];
          expected.set(p.key, g ? (g.dataSync() as Float32Array) : new Float32Array(p.variable.size));
        }
      });
      let worst = { error: 0, where: '' };
      tf.tidy(() => {
        const g = computeTaskGradients(model, tasks, batch, 'representation', { forward });
        const got = gradientsFromDirection(model, batch, g, tf.sum<tf.Tensor1D>(g.jacobian, 0), { forward });
        for (const [key, values] of expected) {
          const actual = got.get(key)?.dataSync() ?? new Float32Array(values.length);
          values.forEach((v, i) => {
            const error = Math.abs(actual[i]! - v) / (1e-3 + Math.abs(v));
            if (error > worst.error) worst = { error, where: `${key}[${i}]: ${actual[i]} vs ${v}` };
          });
        }
      });
      check('representation-space rows pulled back equal ∇ Σ L', worst.error < 1e-3, `worst relative error ${worst.error} at ${worst.where}`);
    } finally {
      disposeBatch(batch);
      model.dispose();
    }
  });

  await attempt('train/evaluation modes', () => {
    const model = build(tasks);
    const batch = randomBatch(model, tasks, 6, 3);
    try {
      const [e1, e2, t1] = tf.tidy(() => [model.forward(batch.x), model.forward(batch.x), model.forward(batch.x, { training: true, seed: 9 })].map((o) => tasks.flatMap((t) => Array.from(o[t.name]!.dataSync()))));
      check('evaluation is deterministic', e1!.every((v, i) => v === e2![i]), 'two evaluation passes differ');
      const differs = t1!.some((v, i) => Math.abs(v - e1![i]!) > 1e-6);
      const expected = options.trainingDiffers ?? (model.buffers?.length ?? 0) > 0;
      check('training differs from evaluation only where it should', differs === expected, expected ? 'training and evaluation passes are equal, but the model has BatchNorm/dropout' : 'training and evaluation passes differ in a model without BatchNorm or dropout');
    } finally {
      disposeBatch(batch);
      model.dispose();
    }
  });

  if (!options.skipSave) {
    await attempt('save/load round trip', async () => {
      const model = build(tasks);
      const dir = await mkdtemp(join(tmpdir(), 'mtl-arch-'));
      const x = randomInputs(model, 5, 4);
      try {
        // Move the buffers off their initial values first, so the round trip has something to carry.
        tf.tidy(() => void model.forward(x, { training: true, seed: 2 }));
        await saveModel(model, join(dir, 'model'));
        const loaded = await loadModel(join(dir, 'model'));
        try {
          const a = predict(model, x);
          const b = predict(loaded, x);
          check('loaded model predicts the same numbers', JSON.stringify(a) === JSON.stringify(b), 'predictions differ after saveModel/loadModel');
          check('loaded model has the same parameters and buffers', JSON.stringify(loaded.parameters.map((p) => p.key)) === JSON.stringify(model.parameters.map((p) => p.key)) && (loaded.buffers?.length ?? 0) === (model.buffers?.length ?? 0), 'keys differ');
        } finally {
          loaded.dispose();
        }
      } finally {
        x.dispose();
        model.dispose();
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  await attempt('training', () => {
    const model = build(tasks);
    const data = learnableData(model, tasks, 64, 6);
    const optimizer = adam(0.01);
    const trainer = new Trainer({ model, tasks, optimizer, batchSize: 16, seed: 1 });
    try {
      const before = trainer.evaluate(data)['loss']!;
      trainer.runSteps(data, options.trainSteps ?? 40);
      const after = trainer.evaluate(data)['loss']!;
      check('trains (the loss goes down)', after < before, `loss went from ${before} to ${after}`);
    } finally {
      trainer.dispose();
      optimizer.dispose();
      model.dispose();
    }
  });

  const leaked = tf.memory().numTensors - startTensors;
  check('no tensor leaks', leaked <= 0, `${leaked} tensors left after building, running and disposing models`);
  if (failures.length) throw new ConformanceError(subject, failures);
  return { subject, passed };
}

function randomInputs(model: MultiTaskModel, n: number, seed: number): tf.Tensor {
  const rng = new SeededRandom(seed);
  const size = n * model.inputShape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => rng.normal()), [n, ...model.inputShape]);
}

function randomBatch(model: MultiTaskModel, tasks: readonly Task[], n: number, seed: number): Batch {
  return toBatch(learnableData(model, tasks, n, seed).gather(Array.from({ length: n }, (_, i) => i)), model.inputShape, tasks);
}

/** Targets a fixed random linear function of the inputs (squashed), so every architecture can fit them. */
function learnableData(model: MultiTaskModel, tasks: readonly Task[], n: number, seed: number) {
  const rng = new SeededRandom(seed);
  const d = model.inputShape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: n * d }, () => rng.normal());
  const targets: Record<string, Float32Array> = {};
  for (const task of tasks) {
    const w = Array.from({ length: d * task.outputSize }, () => rng.normal() / Math.sqrt(d));
    const y = new Float32Array(n * task.outputSize);
    for (let i = 0; i < n; i++) {
      for (let o = 0; o < task.outputSize; o++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += w[j * task.outputSize + o]! * x[i * d + j]!;
        y[i * task.outputSize + o] = Math.tanh(s);
      }
    }
    targets[task.name] = y;
  }
  return inMemoryDataset({ x, inputShape: model.inputShape, targets });
}
