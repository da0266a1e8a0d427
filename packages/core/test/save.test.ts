import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import './setup.js';
import { MtlError, ComposedModel, createArchitecture, hardSharingMlp, inMemoryDataset, loadModel, predict, saveModel, tf, mlpStages } from '../src/index.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'mtl-save-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tasks = [{ name: 'a', outputSize: 2 }, { name: 'b', outputSize: 1 }];

describe('predict', () => {
  it('returns per-task rows equal to forward in evaluation, from a tensor, arrays or a dataset, leaving no tensors', () => {
    const model = createArchitecture('hps', { inputShape: [3], tasks, stages: mlpStages([4]), seed: 1 });
    const rows = [
      [1, 2, 3],
      [0.5, -1, 2],
      [0, 0, 1],
    ];
    const x = tf.tensor2d(rows);
    const expected = tf.tidy(() => Object.fromEntries(Object.entries(model.forward(x)).map(([t, y]) => [t, y.arraySync()])));
    const before = tf.memory().numTensors;
    expect(predict(model, x)).toEqual(expected);
    expect(predict(model, rows, { batchSize: 2 })).toEqual(expected);
    expect(predict(model, rows.flat())).toEqual(expected);
    const ds = inMemoryDataset({ x: rows.flat(), inputShape: [3], targets: { a: [0, 1, 0, 1, 0, 1], b: [1, 2, 3] } });
    expect(predict(model, ds, { tasks: ['b'] })).toEqual({ b: expected['b'] });
    expect(tf.memory().numTensors).toBe(before);
    expect(() => predict(model, [1, 2])).toThrow(/whole number of examples/);
    expect(() => predict(model, x, { tasks: ['zz'] })).toThrow(/unknown task "zz"/);
    expect(() => predict(model, x, { batch: 2 } as never)).toThrow(/batch/);
    x.dispose();
    model.dispose();
  });
});

describe('saveModel / loadModel', () => {
  it("writes tfjs's model.json + weight shards with the architecture, and loads an equal model", async () => {
    const dir = join(tempDir(), 'm');
    const model = hardSharingMlp({ inputSize: 3, tasks, trunk: [5], seed: 4 });
    await saveModel(model, dir);
    expect(readdirSync(dir).sort()).toEqual(['group1-shard1of1.bin', 'model.json']);
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
      modelTopology: { architecture: { name: string; options: { tasks: unknown } } };
      weightsManifest: { weights: { name: string }[] }[];
    };
    expect(json.modelTopology.architecture.name).toBe('hard-sharing-mlp');
    expect(json.modelTopology.architecture.options.tasks).toEqual(tasks);
    expect(json.weightsManifest[0]!.weights.map((w) => w.name)).toEqual(model.parameters.map((p) => p.key));
    expect(json.weightsManifest[0]!.weights[0]).toEqual({ name: 'trunk/dense0/kernel', shape: [3, 5], dtype: 'float32' });
    const bytes = readFileSync(join(dir, 'group1-shard1of1.bin'));
    expect(bytes.byteLength).toBe(4 * model.parameters.reduce((n, p) => n + p.variable.size, 0));
    expect(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, 15))).toEqual(Array.from(model.parameters[0]!.variable.dataSync()));
    const loaded = await loadModel(dir);
    const x = tf.tensor2d([[1, -2, 0.5]]);
    expect(predict(loaded, x)).toEqual(predict(model, x));
    x.dispose();
    loaded.dispose();
    model.dispose();
  });

  it('shards weights above 4 MiB and rejects models without an architecture or foreign files', async () => {
    const dir = join(tempDir(), 'big');
    const model = hardSharingMlp({ inputSize: 1100, tasks, trunk: [1000], seed: 1 });
    await saveModel(model, dir);
    expect(readdirSync(dir).filter((f) => f.endsWith('.bin')).sort()).toEqual(['group1-shard1of2.bin', 'group1-shard2of2.bin']);
    const loaded = await loadModel(dir);
    expect(Array.from(loaded.parameters[0]!.variable.dataSync().subarray(1_099_990))).toEqual(Array.from(model.parameters[0]!.variable.dataSync().subarray(1_099_990)));
    loaded.dispose();
    model.dispose();
    const bare = new ComposedModel([1], (make) => ({ trunk: { parameters: [make('w', tf.ones([1]))], apply: (x) => x }, heads: { a: { parameters: [], apply: (z) => z } } }));
    await expect(saveModel(bare, join(tempDir(), 'x'))).rejects.toThrow(MtlError);
    bare.dispose();
    await expect(loadModel(join(tempDir(), 'missing'))).rejects.toThrow(/model.json/);
  });
});
