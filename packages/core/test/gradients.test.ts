import { describe, expect, it } from 'vitest';
import './setup.js';
import { computeTaskGradients, disposeTaskGradients, hardSharingMlp, inMemoryDataset, mmoe, regressionTask, sharedGradientsFromDirection, tf, toBatch, disposeBatch, type MultiTaskModel, type Task } from '../src/index.js';
import { SeededRandom } from '../src/random.js';

const tasks: Task[] = [regressionTask('a'), regressionTask('b', { size: 2 })];

function smallBatch(seed: number, n = 6, inputSize = 3) {
  const rng = new SeededRandom(seed);
  const ds = inMemoryDataset({
    x: Array.from({ length: n * inputSize }, () => rng.normal()),
    inputShape: [inputSize],
    targets: { a: Array.from({ length: n }, () => rng.normal()), b: Array.from({ length: 2 * n }, () => rng.normal()) },
  });
  return toBatch(ds.gather(Array.from({ length: n }, (_, i) => i)), [inputSize], tasks);
}

/** Central finite difference of task t's loss w.r.t. one scalar of one parameter. */
function finiteDifference(model: MultiTaskModel, batch: ReturnType<typeof smallBatch>, task: Task, key: string, index: number, h = 1e-2): number {
  const p = model.parameters.find((q) => q.key === key)!;
  const original = p.variable.dataSync().slice();
  const lossAt = (delta: number) => {
    const values = original.slice();
    values[index] = values[index]! + delta;
    p.variable.assign(tf.tensor(values, p.variable.shape));
    return tf.tidy(() => task.loss(model.forward(batch.x)[task.name]!, batch.targets[task.name]!).dataSync()[0]!);
  };
  const result = (lossAt(h) - lossAt(-h)) / (2 * h);
  p.variable.assign(tf.tensor(original, p.variable.shape));
  return result;
}

describe('per-task gradients', () => {
  it('parameter-space Jacobian rows match finite differences of each task loss', () => {
    const model = hardSharingMlp({ inputSize: 3, tasks, trunk: [4], head: [3], activation: 'tanh', seed: 5 });
    const batch = smallBatch(1);
    const g = computeTaskGradients(model, tasks, batch, 'parameters');
    expect(g.jacobian.shape).toEqual([2, g.sharedLayout.size]);
    const jac = g.jacobian.arraySync();
    let checked = 0;
    for (const entry of g.sharedLayout.entries) {
      for (const index of [0, entry.size - 1]) {
        tasks.forEach((task, t) => {
          const fd = finiteDifference(model, batch, task, entry.key, index);
          expect(jac[t]![entry.offset + index]!).toBeCloseTo(fd, 2);
          checked++;
        });
      }
    }
    expect(checked).toBeGreaterThanOrEqual(8);
    // Task-specific gradients: own head only, and they match finite differences too.
    const headKey = model.taskParameters('b')[0]!.key;
    const own = g.taskSpecific.get('b')!.get(headKey)!.dataSync();
    expect(own[0]).toBeCloseTo(finiteDifference(model, batch, tasks[1]!, headKey, 0), 2);
    expect(g.taskSpecific.get('a')!.has(headKey)).toBe(false);
    disposeTaskGradients(g);
    disposeBatch(batch);
    model.dispose();
  });

  it('losses equal the forward-pass losses', () => {
    const model = hardSharingMlp({ inputSize: 3, tasks, trunk: [4], seed: 2 });
    const batch = smallBatch(2);
    const g = computeTaskGradients(model, tasks, batch, 'representation');
    const direct = tasks.map((t) => tf.tidy(() => t.loss(model.forward(batch.x)[t.name]!, batch.targets[t.name]!).dataSync()[0]!));
    const losses = g.losses.dataSync();
    direct.forEach((l, i) => expect(losses[i]).toBeCloseTo(l, 5));
    disposeTaskGradients(g);
    disposeBatch(batch);
    model.dispose();
  });

  it('representation-space rows pulled back through the trunk equal parameter-space rows (chain rule)', () => {
    for (const model of [
      hardSharingMlp({ inputSize: 3, tasks, trunk: [5, 4], seed: 7 }),
      mmoe({ inputSize: 3, tasks, experts: 3, expertUnits: [4], tower: [3], seed: 7 }),
    ]) {
      const batch = smallBatch(3);
      const rep = computeTaskGradients(model, tasks, batch, 'representation');
      const par = computeTaskGradients(model, tasks, batch, 'parameters');
      for (let t = 0; t < tasks.length; t++) {
        const pulled = tf.tidy(() => {
          const row = tf.reshape<tf.Rank.R1>(tf.slice(rep.jacobian, [t, 0], [1, -1]), [-1]);
          const grads = sharedGradientsFromDirection(model, batch, rep, row);
          return rep.sharedLayout.flatten(grads);
        });
        const expected = tf.tidy(() => tf.reshape(tf.slice(par.jacobian, [t, 0], [1, -1]), [-1]));
        const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(pulled, expected))).dataSync()[0]!);
        const scale = tf.tidy(() => tf.max(tf.abs(expected)).dataSync()[0]!);
        expect(diff).toBeLessThan(1e-5 * Math.max(1, scale));
        tf.dispose([pulled, expected]);
      }
      disposeTaskGradients(rep);
      disposeTaskGradients(par);
      disposeBatch(batch);
      model.dispose();
    }
  });

  it('leaves no tensors behind', () => {
    const model = hardSharingMlp({ inputSize: 3, tasks, trunk: [4], seed: 1 });
    const batch = smallBatch(4);
    const before = tf.memory().numTensors;
    for (const space of ['parameters', 'representation'] as const) {
      const g = computeTaskGradients(model, tasks, batch, space);
      const direction = tf.ones<tf.Rank.R1>([g.jacobian.shape[1]]);
      tf.dispose([...sharedGradientsFromDirection(model, batch, g, direction).values(), direction]);
      disposeTaskGradients(g);
    }
    expect(tf.memory().numTensors).toBe(before);
    disposeBatch(batch);
    model.dispose();
  });
});
