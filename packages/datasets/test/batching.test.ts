import { describe, expect, it } from 'vitest';
import { Trainer, hardSharingMlp, sgd, tf, useBestBackend } from '@mtl/core';
import { byteImageDataset, flattenInputs, iterateBatches, syntheticRelatedness } from '../src/index.js';
import { errorCode } from './helpers.js';

describe('byte image datasets', () => {
  it('scales bytes to [0, 1] and gathers targets', () => {
    const ds = byteImageDataset(Uint8Array.from([0, 255, 51, 102]), [2], { values: { y: Int32Array.from([1, 0]) }, classes: { y: 2 } });
    const b = ds.gather([1, 0]);
    expect(Array.from(b.x)).toEqual([0.2, 0.4, 0, 1].map((v) => Math.fround(v)));
    expect(Array.from(b.targets.y!)).toEqual([0, 1]);
  });

  it('bad data is a typed error naming the task', () => {
    const img = new Uint8Array(4);
    expect(errorCode(() => byteImageDataset(new Uint8Array(3), [2], { values: { y: Int32Array.from([0]) }, classes: {} }))).toBe('SHAPE_MISMATCH');
    expect(errorCode(() => byteImageDataset(new Uint8Array(0), [2], { values: {}, classes: {} }))).toBe('EMPTY_DATA');
    expect(errorCode(() => byteImageDataset(img, [2], { values: {}, classes: {} }))).toBe('MISSING_TARGET');
    expect(errorCode(() => byteImageDataset(img, [2], { values: { y: new Float32Array(0) }, classes: {} }))).toBe('MISSING_TARGET');
    expect(errorCode(() => byteImageDataset(img, [2], { values: { y: Float32Array.from([1, 2, 3]) }, classes: {} }))).toBe('SHAPE_MISMATCH');
    expect(() => byteImageDataset(img, [2], { values: { y: Int32Array.from([0, 7]) }, classes: { y: 2 } })).toThrow(/task "y" label 7 at example 1/);
    expect(() => byteImageDataset(img, [2], { values: { z: Float32Array.from([0, NaN]) }, classes: {} })).toThrow(/task "z".*non-finite/);
  });
});

describe('batching', () => {
  const set = syntheticRelatedness({ inputSize: 4, sizes: { train: 200, validation: 50, test: 10 }, seed: 1 });

  it('iterateBatches covers each example once per epoch, seeded', () => {
    const seen: number[] = [];
    let batches = 0;
    for (const batch of iterateBatches(set.train, { batchSize: 64, seed: 3 })) {
      seen.push(...batch.indices);
      expect(batch.x.length).toBe(batch.size * 4);
      batches++;
    }
    expect(batches).toBe(4);
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    const again = [...iterateBatches(set.train, { batchSize: 64, seed: 3 })].flatMap((b) => [...b.indices]);
    expect(again).toEqual(seen);
    expect([...iterateBatches(set.train, { batchSize: 64, dropLast: true })]).toHaveLength(3);
    expect(errorCode(() => [...iterateBatches(set.train, { batchSize: 0 })])).toBe('INVALID_OPTION');
  });

  it('flattenInputs keeps the data and flattens the shape', () => {
    const img = byteImageDataset(new Uint8Array(2 * 8), [2, 2, 2], { values: { y: Float32Array.from([1, 2]) }, classes: {} });
    const flat = flattenInputs(img);
    expect(flat.inputShape).toEqual([8]);
    expect(flat.gather([1]).targets.y![0]).toBe(2);
  });

  it('the core Trainer trains on a dataset and its tasks, leaving no tensors behind', async () => {
    await useBestBackend();
    const before = tf.memory().numTensors;
    const model = hardSharingMlp({ inputSize: 4, tasks: set.tasks, trunk: [16], seed: 1 });
    const trainer = new Trainer({ model, tasks: set.tasks, optimizer: sgd(0.05), batchSize: 32, seed: 1 });
    const result = await trainer.fit(set.train, { epochs: 8, validation: set.validation });
    const first = result.history[0]!;
    const last = result.history.at(-1)!;
    expect(last.validation!['task1/loss']!).toBeLessThan(0.8 * first.validation!['task1/loss']!);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
