import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRandom, Trainer, classificationTask, hardSharingMlp, inMemoryDataset, regressionTask, sgd, tf, useBestBackend, type MultiTaskDataset, type UpdateRule } from '@mtl/core';
import { compose, createRule, mgda, pcgrad, toUpdateRule, uncertaintyWeighting } from '../src/index.js';

/** A two-task toy problem (sign classification + regression of a correlated projection). */
function toyProblem(seed: number, size: number): { train: MultiTaskDataset; validation: MultiTaskDataset } {
  const rng = new SeededRandom(seed);
  const d = 6;
  const w1 = Array.from({ length: d }, () => rng.normal());
  const w2 = w1.map((v) => 0.6 * v + 0.8 * rng.normal());
  const make = (n: number): MultiTaskDataset => {
    const x = new Float32Array(n * d);
    const sign = new Int32Array(n);
    const value = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let a = 0;
      let b = 0;
      for (let j = 0; j < d; j++) {
        const v = rng.normal();
        x[i * d + j] = v;
        a += w1[j]! * v;
        b += w2[j]! * v;
      }
      sign[i] = a > 0 ? 1 : 0;
      value[i] = b / Math.sqrt(d);
    }
    return inMemoryDataset({ x, inputShape: [d], targets: { sign, value } });
  };
  return { train: make(size), validation: make(64) };
}

const tasks = [classificationTask('sign', { classes: 2 }), regressionTask('value')];

async function trains(rule: UpdateRule): Promise<void> {
  const { train, validation } = toyProblem(3, 192);
  const model = hardSharingMlp({ inputSize: 6, tasks, trunk: [16], seed: 1 });
  const trainer = new Trainer({ model, tasks, optimizer: sgd(0.05), rule, batchSize: 32, seed: 2, checkLeaks: true });
  const before = trainer.evaluate(validation);
  await trainer.fit(train, { epochs: 1 });
  const tensorsAfterOne = tf.memory().numTensors;
  const result = await trainer.fit(train, { epochs: 4, validation });
  expect(tf.memory().numTensors).toBe(tensorsAfterOne);
  const after = result.history.at(-1)!.validation!;
  expect(after['loss']!).toBeLessThan(before['loss']!);
  const state = rule.getState?.() ?? null;
  expect(JSON.parse(JSON.stringify(state))).toEqual(state); // checkpointable
  model.dispose();
}

describe('methods as trainer rules', () => {
  beforeAll(async () => {
    await useBestBackend();
  });
  it('loss weighting (DWA) trains without leaking tensors', async () => {
    await trains(createRule('dwa'));
  });
  it('aggregator (PCGrad, seeded) trains without leaking tensors', async () => {
    await trains(createRule('pcgrad', { seed: 4 }));
  });
  it('MGDA-UB on the representation trains', async () => {
    await trains(toUpdateRule(mgda({ space: 'representation' })));
  });
  it('UW-PCGrad (composition with head weights) and IMTL train', async () => {
    await trains(toUpdateRule(compose(uncertaintyWeighting({ optimizer: { learningRate: 0.01 } }), pcgrad({ seed: 1 }))));
    await trains(createRule('imtl'));
  });
});
