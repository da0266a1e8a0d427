import { describe, expect, it } from 'vitest';
import './setup.js';
import { SeededRandom, computeTaskGradients, createGradientWorkers, disposeTaskGradients, tf, type Batch } from '../src/index.js';
import { bnModel, bnTasks } from './fixtures/bn-worker-setup.js';

const setupModule = new URL('./fixtures/bn-worker-setup.ts', import.meta.url);

function batch(seed: number, n = 8): Batch {
  const rng = new SeededRandom(seed);
  const targets = Object.fromEntries(bnTasks.map((t) => [t.name, tf.tensor1d(Float32Array.from({ length: n }, () => rng.normal()))]));
  return { size: n, x: tf.tensor2d(Float32Array.from({ length: n * 4 }, () => rng.normal()), [n, 4]), targets };
}

describe('gradient workers with subset sharing, BatchNorm and dropout', () => {
  it('reproduce the serial rows bit for bit in training (one dropout seed) and in evaluation (the buffers travel)', async () => {
    const model = bnModel();
    const b = batch(1);
    // Move the main model's running statistics away from the workers' fresh ones.
    tf.tidy(() => void model.forward(b.x, { training: true, seed: 1 }));
    const pool = await createGradientWorkers({ setupModule, model, tasks: bnTasks, workers: 1 });
    try {
      for (const forward of [{ training: true, seed: 7 }, { training: false, seed: 0 }]) {
        const serial = computeTaskGradients(model, bnTasks, b, 'parameters', { forward });
        const parallel = pool.compute(model, bnTasks, b, { forward });
        expect(Array.from(parallel.jacobian.dataSync())).toEqual(Array.from(serial.jacobian.dataSync()));
        expect(Array.from(parallel.losses.dataSync())).toEqual(Array.from(serial.losses.dataSync()));
        expect(parallel.sharedGroups).toEqual(serial.sharedGroups);
        disposeTaskGradients(serial);
        disposeTaskGradients(parallel);
      }
    } finally {
      await pool.close();
      tf.dispose([b.x, ...Object.values(b.targets)]);
      model.dispose();
    }
  }, 60_000);
});
