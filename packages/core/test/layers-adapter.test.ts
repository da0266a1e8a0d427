import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tfl from '@tensorflow/tfjs-layers';
import './setup.js';
import { MtlError, ParamSnapshot, Trainer, computeTaskGradients, disposeTaskGradients, inMemoryDataset, layersModel, regressionTask, sgd, tf, toBatch } from '../src/index.js';
import { fileSystemHandler } from '../src/models/save.js';
import { importLayers } from '../src/models/layers-adapter.js';
import { SeededRandom } from '../src/random.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tasks = [regressionTask('a'), regressionTask('b', { size: 2 })];

function data(n: number, seed: number) {
  const rng = new SeededRandom(seed);
  const x = Array.from({ length: n * 3 }, () => rng.normal());
  return inMemoryDataset({
    x,
    inputShape: [3],
    targets: { a: Array.from({ length: n }, (_, i) => Math.tanh(x[3 * i]! - x[3 * i + 1]!)), b: Array.from({ length: 2 * n }, (_, i) => Math.tanh(x[3 * Math.floor(i / 2) + 2]!)) },
  });
}

const trunk = (withBn = false) =>
  tfl.sequential({
    layers: [tfl.layers.dense({ units: 4, activation: 'tanh', inputShape: [3] }), ...(withBn ? [tfl.layers.batchNormalization()] : [])],
  });
const head = (units: number) => tfl.sequential({ layers: [tfl.layers.dense({ units, inputShape: [4] })] });

describe('tfjs-layers backbone', () => {
  it('maps trainable weights to parameters and BatchNorm moving statistics to buffers', async () => {
    const model = await layersModel({ trunk: trunk(true), tasks, heads: { a: head(1), b: head(2) } });
    expect(model.sharedParameters.map((p) => p.key)).toEqual(['trunk/w0/kernel', 'trunk/w1/bias', 'trunk/w2/gamma', 'trunk/w3/beta']);
    expect(model.taskParameters('b').map((p) => p.key)).toEqual(['heads/b/w0/kernel', 'heads/b/w1/bias']);
    expect(model.buffers.map((b) => b.key)).toEqual(['trunk/state/w0/moving_mean', 'trunk/state/w1/moving_variance']);
    expect(model.inputShape).toEqual([3]);
    const snap = ParamSnapshot.capture(model);
    expect(snap.keys.length).toBe(model.parameters.length + 2);
    snap.dispose();
    model.dispose();
  });

  it('per-task gradients through a layers model match finite differences, and it trains with the Trainer', async () => {
    const model = await layersModel({ trunk: trunk(), tasks, heads: { a: head(1), b: head(2) } });
    const batch = toBatch(data(6, 1).gather([0, 1, 2, 3, 4, 5]), [3], tasks);
    const g = computeTaskGradients(model, tasks, batch);
    const p = model.sharedParameters[0]!;
    const original = p.variable.dataSync().slice();
    const lossAt = (delta: number) => {
      tf.tidy(() => p.variable.assign(tf.tensor(original.map((v, i) => (i === 0 ? v + delta : v)), p.variable.shape)));
      return tf.tidy(() => tasks[1]!.loss(model.forward(batch.x)['b']!, batch.targets['b']!).dataSync()[0]!);
    };
    const fd = (lossAt(1e-3) - lossAt(-1e-3)) / 2e-3;
    lossAt(0);
    expect(g.jacobian.arraySync()[1]![0]!).toBeCloseTo(fd, 3);
    disposeTaskGradients(g);
    tf.dispose([batch.x, ...Object.values(batch.targets)]);
    const train = data(64, 2);
    const optimizer = sgd(0.1);
    const trainer = new Trainer({ model, tasks, optimizer, batchSize: 16, seed: 1 });
    const before = trainer.evaluate(train)['loss']!;
    trainer.runSteps(train, 30);
    expect(trainer.evaluate(train)['loss']!).toBeLessThan(before);
    const copy = model.clone();
    const x = tf.ones([1, 3]);
    expect(Array.from(tf.tidy(() => copy.forward(x)['a']!.dataSync()))).toEqual(Array.from(tf.tidy(() => model.forward(x)['a']!.dataSync())));
    x.dispose();
    copy.dispose();
    trainer.dispose();
    optimizer.dispose();
    model.dispose();
  });

  it('loads a saved layers model from a directory, and says how to install tfjs-layers when it is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtl-layers-'));
    dirs.push(dir);
    const source = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [3] })] });
    await source.save(fileSystemHandler(join(dir, 'trunk')));
    const model = await layersModel({ trunk: join(dir, 'trunk'), tasks });
    const x = tf.tensor2d([[1, 2, 3]]);
    const expected = tf.tidy(() => (source.predict(x) as tf.Tensor).arraySync() as number[][]);
    const out = tf.tidy(() => [model.forward(x)['a']!.arraySync(), model.forward(x)['b']!.arraySync()] as number[][][]);
    expect([...out[0]![0]!, ...out[1]![0]!].map((v) => Math.round(v * 1e5))).toEqual(expected[0]!.map((v) => Math.round(v * 1e5)));
    x.dispose();
    model.dispose();
    source.dispose();
    const error = await importLayers('@tensorflow/tfjs-layers-not-installed').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MtlError);
    expect((error as MtlError).code).toBe('MISSING_DEPENDENCY');
    expect((error as MtlError).message).toMatch(/npm install @tensorflow\/tfjs-layers/);
  });
});
