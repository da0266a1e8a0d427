import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MtlError, classificationTask, loadModel, regressionTask, saveModel, tf } from '@mtl/core';
import type { MultiTaskModel } from '@mtl/core';
import './setup.js';
import { ConalSearchSpace, architectureFromBranchPoints, buildDerivedModel, countWeights, deriveArchitecture, parseArchitecture } from '../src/index.js';

const tasks = [regressionTask('a'), regressionTask('b'), classificationTask('c', { classes: 3 }), regressionTask('d')];
const blocks = [
  { kind: 'dense', units: 5 },
  { kind: 'dense', units: 4 },
  { kind: 'dense', units: 3 },
] as const;
const spaceOptions = { inputShape: [6], tasks, blocks, seed: 4 };

describe('derivation', () => {
  it('branch point = argmax α_t; tasks keep the shared modules before it and own copies after it', () => {
    const space = new ConalSearchSpace(spaceOptions);
    // P = 4. a → 4 (all shared), b → 4, c → 2, d → 1 (nothing shared).
    const logits = { a: [0, 0, 0, 3], b: [0, 1, 0, 2], c: [0, 5, 1, 1], d: [2, 0, 0, 0] };
    space.alphaParameters.forEach((p, i) => p.variable.assign(tf.tensor1d(logits[space.taskNames[i] as keyof typeof logits])));
    const arch = deriveArchitecture(space, tasks);
    expect(arch.branchPoints).toEqual({ a: 4, b: 4, c: 2, d: 1 });
    const byBlock = (k: number) => arch.nodes.filter((n) => n.block === k).map((n) => n.tasks);
    expect(byBlock(0)).toEqual([['a', 'b', 'c'], ['d']]);
    expect(byBlock(1)).toEqual([['a', 'b'], ['c'], ['d']]);
    expect(byBlock(2)).toEqual([['a', 'b'], ['c'], ['d']]);
    // By hand: block0 6*5+5 = 35, block1 5*4+4 = 24, block2 4*3+3 = 15 (74 per full copy).
    // Derived: block0 x2 = 70, block1 x3 = 72, block2 x3 = 45; decoders 3*1+1 = 4 (a, b, d) and 3*3+3 = 12 (c) = 24.
    expect(arch.parameterCounts.derived).toBe(70 + 72 + 45 + 24);
    // Search space: shared 74 + 4 copies 296 + decoders 24 (α not counted); hard sharing: 74 + 24.
    expect(arch.parameterCounts.searchSpace).toBe(74 + 296 + 24);
    expect(arch.parameterCounts.allShared).toBe(98);
    space.dispose();
  });

  it('prunes: every task at P gives hard sharing, every task at 1 gives separate networks', () => {
    const space = new ConalSearchSpace(spaceOptions);
    const hps = architectureFromBranchPoints(space, tasks, { a: 4, b: 4, c: 4, d: 4 });
    expect(hps.nodes.map((n) => n.tasks.length)).toEqual([4, 4, 4]);
    expect(hps.parameterCounts.derived).toBe(hps.parameterCounts.allShared);
    const stl = architectureFromBranchPoints(space, tasks, { a: 1, b: 1, c: 1, d: 1 });
    expect(stl.nodes).toHaveLength(12);
    expect(stl.parameterCounts.derived).toBe(4 * 74 + 24);
    space.dispose();
  });

  it('the derived model is a MultiTaskModel with group-shared, all-shared and own parameters', () => {
    const space = new ConalSearchSpace(spaceOptions);
    const arch = architectureFromBranchPoints(space, tasks, { a: 4, b: 4, c: 2, d: 1 });
    space.dispose();
    const model = buildDerivedModel(arch, { tasks, seed: 3 });
    expect(countWeights(model)).toBe(arch.parameterCounts.derived);
    // block0 shared by a, b, c (group of 3 of 4 tasks), blocks 1-2 by a and b.
    const groups = model.sharedParameters.map((p) => [p.key, p.tasks]);
    expect(groups).toEqual([
      ['n0/dense0/kernel', ['a', 'b', 'c']],
      ['n0/dense0/bias', ['a', 'b', 'c']],
      ['n1/dense0/kernel', ['a', 'b']],
      ['n1/dense0/bias', ['a', 'b']],
      ['n2/dense0/kernel', ['a', 'b']],
      ['n2/dense0/bias', ['a', 'b']],
    ]);
    expect(model.taskParameters('d').map((p) => p.key)).toEqual([
      'n5/dense0/kernel', 'n5/dense0/bias', 'n6/dense0/kernel', 'n6/dense0/bias', 'n7/dense0/kernel', 'n7/dense0/bias', 'out/d/kernel', 'out/d/bias',
    ]);
    // Task d's output is its own network, re-computed by hand.
    const x = tf.randomNormal([3, 6], 0, 1, 'float32', 5);
    const v = (key: string) => model.parameters.find((p) => p.key === key)!.variable;
    const dense = (h: tf.Tensor, key: string, relu = true) => {
      const y = tf.add(tf.matMul(h, v(`${key}/kernel`)), v(`${key}/bias`));
      return relu ? tf.relu(y) : y;
    };
    const expected = tf.tidy(() => dense(dense(dense(dense(x, 'n5/dense0'), 'n6/dense0'), 'n7/dense0'), 'out/d', false).dataSync());
    const cExpected = tf.tidy(() => dense(dense(dense(dense(x, 'n0/dense0'), 'n3/dense0'), 'n4/dense0'), 'out/c', false).dataSync());
    const before = tf.memory().numTensors;
    const out = tf.tidy(() => {
      const o = model.forward(x);
      return { d: o['d']!.dataSync(), c: o['c']!.dataSync() };
    });
    expect(tf.memory().numTensors).toBe(before);
    Array.from(out.d).forEach((g, i) => expect(g).toBeCloseTo(expected[i]!, 5));
    Array.from(out.c).forEach((g, i) => expect(g).toBeCloseTo(cExpected[i]!, 5));
    x.dispose();
    model.dispose();
  });

  it('JSON round trip rebuilds without the search: identical outputs for the same seed', () => {
    const space = new ConalSearchSpace(spaceOptions);
    const arch = architectureFromBranchPoints(space, tasks, { a: 3, b: 4, c: 2, d: 1 });
    space.dispose();
    const text = JSON.stringify(arch);
    const direct = buildDerivedModel(arch, { tasks, seed: 11 });
    const rebuilt = buildDerivedModel(text, { tasks: [...tasks].reverse(), seed: 11 });
    const x = tf.randomNormal([4, 6], 0, 1, 'float32', 9);
    const a = tf.tidy(() => Object.fromEntries(Object.entries(direct.forward(x)).map(([k, t]) => [k, Array.from(t.dataSync())])));
    const b = tf.tidy(() => Object.fromEntries(Object.entries(rebuilt.forward(x)).map(([k, t]) => [k, Array.from(t.dataSync())])));
    expect(b).toEqual(a);
    expect(parseArchitecture(text)).toEqual(arch);
    x.dispose();
    direct.dispose();
    rebuilt.dispose();
  });

  it('conv and core-layer-spec blocks derive, count and round-trip through JSON too', () => {
    const imageTasks = [regressionTask('a'), regressionTask('b')];
    const space = new ConalSearchSpace({
      inputShape: [8, 8, 1],
      tasks: imageTasks,
      blocks: [{ kind: 'conv', filters: 2, kernelSize: 3, pool: 2 }, { kind: 'layers', layers: [{ type: 'conv', filters: 3, kernelSize: 3, padding: 'same' }, { type: 'globalAveragePool' }] }],
    });
    const arch = architectureFromBranchPoints(space, imageTasks, { a: 3, b: 2 });
    space.dispose();
    // conv 3*3*1*2+2 = 20 shared; 3*3*2*3+3 = 57, once shared (a) and once b's own; decoders 3*1+1 each.
    expect(arch.parameterCounts.derived).toBe(20 + 57 * 2 + 8);
    const one = buildDerivedModel(arch, { tasks: imageTasks, seed: 2 });
    const two = buildDerivedModel(JSON.stringify(arch), { tasks: imageTasks, seed: 2 });
    expect(countWeights(one)).toBe(arch.parameterCounts.derived);
    const x = tf.randomNormal([2, 8, 8, 1], 0, 1, 'float32', 1);
    const out = (m: typeof one) => tf.tidy(() => Object.values(m.forward(x)).map((t) => Array.from(t.dataSync())));
    expect(out(two)).toEqual(out(one));
    x.dispose();
    one.dispose();
    two.dispose();
  });

  it('the derived network is a core tree model: saveModel / loadModel give the same outputs', async () => {
    const space = new ConalSearchSpace({ ...spaceOptions, head: [3] });
    const arch = architectureFromBranchPoints(space, tasks, { a: 4, b: 3, c: 2, d: 1 });
    space.dispose();
    const model = buildDerivedModel(arch, { tasks, seed: 6 });
    // Decoder hidden layer (3 units) per task: 3*3+3 = 12 each, then outputs 3*1+1 or 3*3+3.
    expect(countWeights(model)).toBe(arch.parameterCounts.derived);
    const dir = mkdtempSync(join(tmpdir(), 'conal-save-'));
    try {
      await saveModel(model, dir);
      const loaded = await loadModel(dir);
      const x = tf.randomNormal([3, 6], 0, 1, 'float32', 4);
      const out = (m: MultiTaskModel) => tf.tidy(() => Object.values(m.forward(x)).map((t) => Array.from(t.dataSync())));
      expect(out(loaded)).toEqual(out(model));
      x.dispose();
      loaded.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      model.dispose();
    }
  });

  it('rejects broken architecture JSON with MtlErrors naming the field', () => {
    const space = new ConalSearchSpace(spaceOptions);
    const arch = architectureFromBranchPoints(space, tasks, { a: 4, b: 4, c: 2, d: 1 });
    space.dispose();
    expect(() => parseArchitecture('{')).toThrow(MtlError);
    expect(() => parseArchitecture({ ...arch, extra: 1 })).toThrow(/architecture\.extra/);
    expect(() => parseArchitecture({ ...arch, nodes: arch.nodes.slice(1) })).toThrow(/architecture\.nodes/);
    expect(() => parseArchitecture({ ...arch, parameterCounts: { ...arch.parameterCounts, derived: 1 } })).toThrow(/parameterCounts\.derived/);
    expect(() => parseArchitecture({ ...arch, branchPoints: { ...arch.branchPoints, a: 9 } })).toThrow(/branchPoints\.a/);
    expect(() => buildDerivedModel(arch, { tasks: tasks.slice(1) })).toThrow(/task "a"/);
    expect(() => buildDerivedModel(arch, { tasks: [classificationTask('a', { classes: 2 }), ...tasks.slice(1)] })).toThrow(/output size/);
  });
});
