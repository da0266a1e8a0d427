import { describe, expect, it } from 'vitest';
import { Trainer, adam, classificationTask, hardSharingConv, hardSharingMlp, inMemoryDataset, mmoe, regressionTask, tf, useBestBackend } from '../src/index.js';
import { SeededRandom } from '../src/random.js';

// Conv gradients need kernels the wasm backend lacks before @mtl/core registers its own; the
// architecture itself is backend-independent, so these run on the reference cpu backend.
await useBestBackend({ backend: 'cpu' });

describe('model builders', () => {
  const tasks = [classificationTask('left', { classes: 3 }), regressionTask('right', { size: 2 })];

  it('name shared and task parameters with stable keys', () => {
    const model = hardSharingMlp({ inputSize: 4, tasks, trunk: [8, 6], head: [5] });
    expect(model.sharedParameters.map((p) => p.key)).toEqual(['trunk/dense0/kernel', 'trunk/dense0/bias', 'trunk/dense1/kernel', 'trunk/dense1/bias']);
    expect(model.taskParameters('left').map((p) => p.key)).toEqual(['heads/left/dense0/kernel', 'heads/left/dense0/bias', 'heads/left/out/kernel', 'heads/left/out/bias']);
    const out = tf.tidy(() => Object.fromEntries(Object.entries(model.forward(tf.zeros([2, 4]))).map(([k, v]) => [k, v.shape])));
    expect(out).toEqual({ left: [2, 3], right: [2, 2] });
    expect(() => model.taskParameters('middle')).toThrow(/unknown task "middle"; known tasks: left, right/);
    model.dispose();
  });

  it('same seed gives the same weights; clone copies values into new variables', () => {
    const a = hardSharingMlp({ inputSize: 4, tasks, seed: 3 });
    const b = hardSharingMlp({ inputSize: 4, tasks, seed: 3 });
    const c = a.clone();
    const read = (m: typeof a) => m.parameters.map((p) => Array.from(p.variable.dataSync()));
    expect(read(b)).toEqual(read(a));
    expect(read(c)).toEqual(read(a));
    expect(c.parameters[0]!.variable.name).not.toBe(a.parameters[0]!.variable.name);
    c.parameters[0]!.variable.assign(tf.zerosLike(c.parameters[0]!.variable));
    expect(read(a)[0]!.some((v) => v !== 0)).toBe(true);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('conv trunk (LeNet) and MMoE train: the loss goes down', async () => {
    const rng = new SeededRandom(4);
    const n = 48;
    const x = Float32Array.from({ length: n * 16 * 16 }, () => rng.normal());
    const left = Int32Array.from({ length: n }, (_, i) => (x[i * 256]! > 0 ? 1 : 0) + (x[i * 256 + 17]! > 0 ? 1 : 0));
    const right = Float32Array.from({ length: 2 * n }, (_, i) => x[Math.floor(i / 2) * 256 + 100 + (i % 2)]!);
    const images = inMemoryDataset({ x, inputShape: [16, 16, 1], targets: { left, right } });
    const conv = hardSharingConv({ inputShape: [16, 16, 1], tasks, conv: [{ filters: 4, kernelSize: 3, pool: 2 }], dense: [16], seed: 1 });
    const flatData = inMemoryDataset({ x, inputShape: [256], targets: { left, right } });
    const gated = mmoe({ inputSize: 256, tasks, experts: 3, expertUnits: [16], tower: [8], seed: 1 });
    for (const [model, data] of [[conv, images], [gated, flatData]] as const) {
      const trainer = new Trainer({ model, tasks, optimizer: adam(0.01), batchSize: 16 });
      const before = trainer.evaluate(data)['loss']!;
      await trainer.fit(data, { epochs: 15 });
      expect(trainer.evaluate(data)['loss']!).toBeLessThan(0.6 * before);
      model.dispose();
    }
  });

  it('reject impossible architectures with a typed error', () => {
    expect(() => hardSharingConv({ inputShape: [8, 8, 1], tasks, conv: [{ filters: 2, kernelSize: 9 }] })).toThrow(/conv\[0\]/);
    expect(() => hardSharingMlp({ inputSize: 0, tasks })).toThrow(/inputSize/);
    expect(() => mmoe({ inputSize: 3, tasks, experts: 0 })).toThrow(/experts/);
    expect(() => hardSharingMlp({ inputSize: 3, tasks: [] })).toThrow(/tasks/);
    expect(() => hardSharingMlp({ inputSize: 3, tasks: [tasks[0]!, tasks[0]!] })).toThrow(/unique/);
  });
});
