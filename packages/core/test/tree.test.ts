import { describe, expect, it } from 'vitest';
import './setup.js';
import {
  MtlError,
  computeTaskGradients,
  disposeTaskGradients,
  gradientsFromDirection,
  gradsByKey,
  hardSharingMlp,
  inMemoryDataset,
  regressionTask,
  tf,
  toBatch,
  treeModel,
  aggregateByGroups,
  type Batch,
  type GradientAggregator,
  type MultiTaskModel,
  type Task,
} from '../src/index.js';
import { SeededRandom } from '../src/random.js';

const two: Task[] = [regressionTask('a'), regressionTask('b', { size: 2 })];
const three: Task[] = [regressionTask('a'), regressionTask('b', { size: 2 }), regressionTask('c')];

function batchFor(tasks: readonly Task[], seed: number, n = 5, inputSize = 3): Batch {
  const rng = new SeededRandom(seed);
  const targets = Object.fromEntries(tasks.map((t) => [t.name, Array.from({ length: n * t.outputSize }, () => rng.normal())]));
  const ds = inMemoryDataset({ x: Array.from({ length: n * inputSize }, () => rng.normal()), inputShape: [inputSize], targets });
  return toBatch(ds.gather(Array.from({ length: n }, (_, i) => i)), [inputSize], tasks);
}

/** Three tasks: a trunk all use, a module a and b share, one c alone uses. */
function groupedTree(seed = 3): MultiTaskModel {
  return treeModel({
    inputShape: [3],
    tasks: three,
    seed,
    modules: [
      { name: 'trunk', layers: [{ type: 'dense', units: 4, activation: 'tanh' }] },
      { name: 'ab', parent: 'trunk', tasks: ['a', 'b'], layers: [{ type: 'dense', units: 3, activation: 'tanh' }] },
      { name: 'c', parent: 'trunk', tasks: ['c'], layers: [{ type: 'dense', units: 2, activation: 'tanh' }] },
    ],
  });
}

/** ∇ of Σ_t w_t L_t for every parameter, from one full forward (the reference). */
function summedGradients(model: MultiTaskModel, tasks: readonly Task[], batch: Batch, weights: readonly number[]): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  tf.tidy(() => {
    const { grads } = tf.variableGrads(() => {
      const outputs = model.forward(batch.x, { training: true });
      return tf.addN(tasks.map((t, i) => tf.mul(t.loss(outputs[t.name]!, batch.targets[t.name]!), weights[i]!))) as tf.Scalar;
    }, model.parameters.map((p) => p.variable));
    for (const [k, g] of gradsByKey(model.parameters, grads)) out.set(k, g.dataSync() as Float32Array);
  });
  return out;
}

describe('hard sharing is unchanged', () => {
  it('the Jacobian of hardSharingMlp equals the pre-subset-sharing computation bit for bit', () => {
    const model = hardSharingMlp({ inputSize: 3, tasks: two, trunk: [4], head: [3], activation: 'tanh', seed: 5 });
    const batch = batchFor(two, 1);
    const g = computeTaskGradients(model, two, batch, 'parameters');
    // The code as it was: one variableGrads per task over [...shared, ...own], rows flattened in layout order.
    for (const [t, task] of two.entries()) {
      const params = [...model.sharedParameters, ...model.taskParameters(task.name)];
      const expected = tf.tidy(() => {
        const { grads } = tf.variableGrads(() => task.loss(model.head(task.name, model.represent(batch.x), batch.x), batch.targets[task.name]!), params.map((p) => p.variable));
        const byKey = gradsByKey(params, grads);
        return { row: g.sharedLayout.flatten(byKey).dataSync(), own: model.taskParameters(task.name).map((p) => byKey.get(p.key)!.dataSync()) };
      });
      const row = tf.tidy(() => tf.slice(g.jacobian, [t, 0], [1, -1]).dataSync());
      expect(Array.from(row)).toEqual(Array.from(expected.row));
      model.taskParameters(task.name).forEach((p, i) => expect(Array.from(g.taskSpecific.get(task.name)!.get(p.key)!.dataSync())).toEqual(Array.from(expected.own[i]!)));
    }
    expect(g.sharedGroups).toEqual([{ tasks: ['a', 'b'], keys: model.sharedParameters.map((p) => p.key) }]);
    expect(model.sharedParameters.every((p) => p.tasks === undefined && p.task === undefined)).toBe(true);
    disposeTaskGradients(g);
    model.dispose();
  });

  it('a one-trunk tree is hard sharing: same shared parameters, same Jacobian for the same weights', () => {
    const hps = hardSharingMlp({ inputSize: 3, tasks: two, trunk: [4], head: [3], activation: 'tanh', seed: 5 });
    const tree = treeModel({
      inputShape: [3],
      tasks: two,
      modules: [
        { name: 'trunk', layers: [{ type: 'dense', units: 4, activation: 'tanh' }] },
        { name: 'head-a', parent: 'trunk', tasks: ['a'], layers: [{ type: 'dense', units: 3, activation: 'tanh' }] },
        { name: 'head-b', parent: 'trunk', tasks: ['b'], layers: [{ type: 'dense', units: 3, activation: 'tanh' }] },
      ],
    });
    const rename = (key: string) => key.replace(/^heads\/(\w+)\/dense0/, 'head-$1/dense0').replace(/^heads\/(\w+)\/out/, 'out/$1');
    tf.tidy(() => hps.parameters.forEach((p) => tree.parameters.find((q) => q.key === rename(p.key))!.variable.assign(p.variable)));
    expect(tree.sharedParameters.map((p) => p.key)).toEqual(hps.sharedParameters.map((p) => p.key));
    expect(tree.taskParameters('a').map((p) => p.key).sort()).toEqual(hps.taskParameters('a').map((p) => rename(p.key)).sort());
    const batch = batchFor(two, 2);
    const a = computeTaskGradients(hps, two, batch);
    const b = computeTaskGradients(tree, two, batch);
    expect(Array.from(b.jacobian.dataSync())).toEqual(Array.from(a.jacobian.dataSync()));
    disposeTaskGradients(a);
    disposeTaskGradients(b);
    hps.dispose();
    tree.dispose();
  });
});

describe('subset sharing', () => {
  it('each parameter knows its tasks; shared = used by two or more tasks', () => {
    const model = groupedTree();
    expect(model.sharedParameters.map((p) => p.key)).toEqual(['trunk/dense0/kernel', 'trunk/dense0/bias', 'ab/dense0/kernel', 'ab/dense0/bias']);
    expect(model.parameters.find((p) => p.key === 'ab/dense0/kernel')!.tasks).toEqual(['a', 'b']);
    expect(model.taskParameters('c').map((p) => p.key)).toEqual(['c/dense0/kernel', 'c/dense0/bias', 'out/c/kernel', 'out/c/bias']);
    expect(model.taskParameters('a').map((p) => p.key)).toEqual(['out/a/kernel', 'out/a/bias']);
    model.dispose();
  });

  it('parameter-space rows are zero where a task does not use a parameter and match finite differences elsewhere', () => {
    const model = groupedTree();
    const batch = batchFor(three, 4);
    const g = computeTaskGradients(model, three, batch);
    const jac = g.jacobian.arraySync();
    const ab = g.sharedLayout.entry('ab/dense0/kernel');
    expect(jac[2]!.slice(ab.offset, ab.offset + ab.size).every((v) => v === 0)).toBe(true);
    expect(g.sharedGroups!.map((group) => group.tasks)).toEqual([['a', 'b', 'c'], ['a', 'b']]);
    // Central differences in float32 on a few coordinates of each shared parameter, every task.
    for (const key of ['trunk/dense0/kernel', 'ab/dense0/kernel', 'ab/dense0/bias']) {
      const p = model.parameters.find((q) => q.key === key)!;
      const entry = g.sharedLayout.entry(key);
      const original = p.variable.dataSync().slice();
      for (const index of [0, entry.size - 1]) {
        three.forEach((task, t) => {
          const at = (delta: number) => {
            const values = original.slice();
            values[index] = values[index]! + delta;
            p.variable.assign(tf.tensor(values, p.variable.shape));
            return tf.tidy(() => task.loss(model.forward(batch.x)[task.name]!, batch.targets[task.name]!).dataSync()[0]!);
          };
          const fd = (at(1e-2) - at(-1e-2)) / 2e-2;
          expect(jac[t]![entry.offset + index]!).toBeCloseTo(fd, 2);
        });
        p.variable.assign(tf.tensor(original, p.variable.shape));
      }
    }
    disposeTaskGradients(g);
    model.dispose();
  });

  it('the direction Σ rows gives ∇ Σ L for every parameter, in both spaces', () => {
    const model = groupedTree();
    const batch = batchFor(three, 5);
    const expected = summedGradients(model, three, batch, [1, 1, 1]);
    for (const space of ['parameters', 'representation'] as const) {
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const g = computeTaskGradients(model, three, batch, space);
        const direction = tf.sum<tf.Tensor1D>(g.jacobian, 0);
        const grads = gradientsFromDirection(model, batch, g, direction);
        expect([...grads.keys()].sort()).toEqual(model.parameters.map((p) => p.key).sort());
        for (const [key, values] of expected) {
          const got = grads.get(key)!.dataSync();
          values.forEach((v, i) => expect(got[i]!).toBeCloseTo(v, 5));
        }
      });
      expect(tf.memory().numTensors).toBe(before);
    }
    model.dispose();
  });

  it('representation space differentiates w.r.t. the trunk output; head paths include group-shared parameters', () => {
    const model = groupedTree();
    const batch = batchFor(three, 6);
    const g = computeTaskGradients(model, three, batch, 'representation');
    expect(g.representationShape).toEqual([5, 4]);
    expect([...g.taskSpecific.get('a')!.keys()]).toEqual(['ab/dense0/kernel', 'ab/dense0/bias', 'out/a/kernel', 'out/a/bias']);
    disposeTaskGradients(g);
    model.dispose();
  });
});

describe('feature points', () => {
  it('features() returns each module output from one pass, equal to forward', () => {
    const model = groupedTree();
    const batch = batchFor(three, 7);
    tf.tidy(() => {
      const f = model.features!(batch.x);
      expect(Object.keys(f)).toEqual(['input', 'trunk', 'ab', 'c']);
      expect(f['trunk']!.shape).toEqual([5, 4]);
      expect(Array.from(f['trunk']!.dataSync())).toEqual(Array.from(model.represent(batch.x).dataSync()));
      const only = model.features!(batch.x, { points: ['ab'] });
      expect(Object.keys(only)).toEqual(['ab']);
      expect(() => model.features!(batch.x, { points: ['nope'] })).toThrow(/points/);
    });
    model.dispose();
  });
});

describe('tree validation', () => {
  const base = { inputShape: [3], tasks: three } as const;
  const dense = [{ type: 'dense', units: 2 }] as const;
  it('names the offending module, task or option', () => {
    expect(() => treeModel({ ...base, modules: [{ name: 'x', tasks: ['zz'], layers: dense }] })).toThrow(/unknown task "zz"/);
    expect(() => treeModel({ ...base, modules: [{ name: 'x', parent: 'nope', layers: dense }] })).toThrow(/modules.x.parent/);
    expect(() =>
      treeModel({ ...base, modules: [{ name: 'x', tasks: ['a', 'b'], layers: dense }, { name: 'y', parent: 'x', tasks: ['c'], layers: dense }] }),
    ).toThrow(/parent "x"/);
    expect(() => treeModel({ ...base, modules: [{ name: 'x', tasks: ['a'], layers: dense }, { name: 'y', tasks: ['a'], layers: dense }] })).toThrow(/one path per task/);
    expect(() => treeModel({ ...base, modules: [{ name: 'x', layers: [{ type: 'dense', units: 2, bogus: 1 } as never] }] })).toThrow(/bogus/);
    expect(() => treeModel({ ...base, modules: [], extra: 1 } as never)).toThrow(MtlError);
    expect(() => treeModel({ inputShape: [4, 4, 1], tasks: three, modules: [{ name: 'x', layers: dense }] })).toThrow(/flatten/);
  });
});

describe('aggregation per sharing group', () => {
  /** Mean of the rows: each group's columns are averaged over that group's tasks only. */
  const mean: GradientAggregator<{ calls: number }> = {
    name: 'mean',
    initialState: () => ({ calls: 0 }),
    aggregate: (j, _input, state) => {
      const d = new Float64Array(j.cols);
      for (let r = 0; r < j.rows; r++) for (let c = 0; c < j.cols; c++) d[c]! += j.data[r * j.cols + c]! / j.rows;
      return { direction: d, weights: Array.from({ length: j.rows }, () => 1 / j.rows), state: { calls: state.calls + 1 } };
    },
  };
  const input = { losses: [1, 2, 3], step: 0, epoch: 0, random: () => 0.5 };

  it('aggregates the group-shared columns over the tasks that use them, with a state per group', () => {
    const model = groupedTree();
    const g = computeTaskGradients(model, three, batchFor(three, 8));
    const jac = g.jacobian.arraySync();
    const result = aggregateByGroups(mean, g, model, input, undefined);
    const ab = g.sharedLayout.entry('ab/dense0/kernel');
    const trunk = g.sharedLayout.entry('trunk/dense0/kernel');
    expect(result.direction[ab.offset]!).toBeCloseTo((jac[0]![ab.offset]! + jac[1]![ab.offset]!) / 2, 6);
    expect(result.direction[trunk.offset]!).toBeCloseTo((jac[0]![trunk.offset]! + jac[1]![trunk.offset]! + jac[2]![trunk.offset]!) / 3, 6);
    expect(result.weights).toEqual([1 / 3, 1 / 3, 1 / 3]);
    expect(result.state).toEqual({ sharingGroups: [{ tasks: ['a', 'b', 'c'], state: { calls: 1 } }, { tasks: ['a', 'b'], state: { calls: 1 } }] });
    const again = aggregateByGroups(mean, g, model, input, result.state);
    expect(again.state).toEqual({ sharingGroups: [{ tasks: ['a', 'b', 'c'], state: { calls: 2 } }, { tasks: ['a', 'b'], state: { calls: 2 } }] });
    disposeTaskGradients(g);
    model.dispose();
  });

  it('under hard sharing it is one plain aggregate call', () => {
    const model = hardSharingMlp({ inputSize: 3, tasks: two, trunk: [4], seed: 2 });
    const g = computeTaskGradients(model, two, batchFor(two, 9));
    const [rows, cols] = g.jacobian.shape;
    const direct = mean.aggregate({ rows, cols, data: g.jacobian.dataSync() as Float32Array }, input, { calls: 0 });
    const grouped = aggregateByGroups(mean, g, model, input, { calls: 0 });
    expect(Array.from(grouped.direction)).toEqual(Array.from(direct.direction));
    expect(grouped.state).toEqual({ calls: 1 });
    disposeTaskGradients(g);
    model.dispose();
  });
});

describe('representation at a chosen point of the shared path', () => {
  const deep = () =>
    treeModel({
      inputShape: [3],
      tasks: three,
      seed: 6,
      modules: [
        { name: 'low', layers: [{ type: 'dense', units: 5, activation: 'tanh' }] },
        { name: 'high', parent: 'low', layers: [{ type: 'dense', units: 4, activation: 'tanh' }] },
        { name: 'ab', parent: 'high', tasks: ['a', 'b'], layers: [{ type: 'dense', units: 3, activation: 'tanh' }] },
      ],
    });

  it("z at 'low' has its width; pulling Σ rows back gives ∇ Σ L for every parameter", () => {
    const model = deep();
    expect(model.representationPoints).toEqual(['input', 'low', 'high']);
    const batch = batchFor(three, 10);
    const expected = summedGradients(model, three, batch, [1, 1, 1]);
    for (const point of ['input', 'low', 'high']) {
      tf.tidy(() => {
        const g = computeTaskGradients(model, three, batch, 'representation', { point });
        expect(g.representationShape).toEqual([5, { input: 3, low: 5, high: 4 }[point]]);
        const grads = gradientsFromDirection(model, batch, g, tf.sum<tf.Tensor1D>(g.jacobian, 0));
        for (const [key, values] of expected) {
          const got = grads.get(key)!.dataSync();
          values.forEach((v, i) => expect(got[i]!).toBeCloseTo(v, 5));
        }
      });
    }
    expect(() => computeTaskGradients(model, three, batch, 'representation', { point: 'ab' })).toThrow(/representation points/);
    expect(() => computeTaskGradients(model, three, batch, 'parameters', { point: 'low' })).toThrow(/point/);
    model.dispose();
  });
});
