import { describe, expect, it } from 'vitest';
import { MtlError, classificationTask, regressionTask, tf } from '@mtl/core';
import './setup.js';
import { ConalSearchSpace } from '../src/index.js';

const tasks = [regressionTask('a'), classificationTask('b', { classes: 3 })];
const blocks = [
  { kind: 'dense', units: 3 },
  { kind: 'dense', units: 2, activation: 'tanh' },
] as const;

describe('CoNAL search space', () => {
  it('has P = blocks + 1 branch points, shared modules, per-task copies and α outside the shared parameters', () => {
    const m = new ConalSearchSpace({ inputShape: [4], tasks, blocks, seed: 1 });
    expect(m.branchPoints).toBe(3);
    expect(m.sharedModules.map((ps) => ps.map((p) => p.key))).toEqual([
      ['shared/block0/kernel', 'shared/block0/bias'],
      ['shared/block1/kernel', 'shared/block1/bias'],
    ]);
    expect(m.sharedParameters.map((p) => p.key)).toEqual(m.sharedModules.flat().map((p) => p.key));
    expect(m.architectureParameters.map((p) => p.key)).toEqual(['alpha/a', 'alpha/b']);
    expect(m.taskParameters('a').map((p) => p.key)).toEqual([
      'tasks/a/block0/kernel', 'tasks/a/block0/bias', 'tasks/a/block1/kernel', 'tasks/a/block1/bias', 'heads/a/out/kernel', 'heads/a/out/bias',
    ]);
    // By hand: block0 4*3+3 = 15, block1 3*2+2 = 8; decoders a: 2*1+1 = 3, b: 2*3+3 = 9.
    // Shared 23 + two copies 46 + decoders 12 = 81 weights; α 2 x 3.
    expect(m.parameterCount()).toBe(81);
    expect(m.parameterCount({ architecture: true })).toBe(87);
    expect(m.allSharedParameterCount()).toBe(23 + 12);
    for (const dist of Object.values(m.branchDistribution())) dist.forEach((q) => expect(q).toBeCloseTo(1 / 3, 6));
    m.dispose();
  });

  it('task output is the softmax(α)-weighted mixture of the P paths (Eq. 2), re-implemented by hand', () => {
    const m = new ConalSearchSpace({ inputShape: [4], tasks, blocks, seed: 2 });
    m.alphaParameters[1]!.variable.assign(tf.tensor1d([0.3, -1, 2]));
    const before = tf.memory().numTensors;
    const x = tf.tensor2d([[1, -2, 0.5, 3], [0, 1, 1, -1]]);
    const got = tf.tidy(() => m.forward(x)['b']!.arraySync() as number[][]);
    const v = (key: string) => m.parameters.find((p) => p.key === key)!.variable;
    const expected = tf.tidy(() => {
      const dense = (h: tf.Tensor, prefix: string, act: (t: tf.Tensor) => tf.Tensor) => act(tf.add(tf.matMul(h, v(`${prefix}/kernel`)), v(`${prefix}/bias`)));
      const s1 = dense(x, 'shared/block0', tf.relu);
      const s2 = dense(s1, 'shared/block1', tf.tanh);
      const path1 = dense(dense(x, 'tasks/b/block0', tf.relu), 'tasks/b/block1', tf.tanh);
      const path2 = dense(s1, 'tasks/b/block1', tf.tanh);
      const e = [Math.exp(0.3), Math.exp(-1), Math.exp(2)];
      const sum = e[0]! + e[1]! + e[2]!;
      const o = tf.addN([tf.mul(path1, e[0]! / sum), tf.mul(path2, e[1]! / sum), tf.mul(s2, e[2]! / sum)]);
      return (tf.add(tf.matMul(o, v('heads/b/out/kernel')), v('heads/b/out/bias')).arraySync() as number[][]);
    });
    got.flat().forEach((g, i) => expect(g).toBeCloseTo(expected.flat()[i]!, 5));
    x.dispose();
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });

  it('names its branch points as feature points (f_S(x, p) for p = 1..P)', () => {
    const m = new ConalSearchSpace({ inputShape: [4], tasks, blocks, seed: 1 });
    expect(m.featurePoints).toEqual(['input', 'shared/block0', 'shared/block1']);
    const x = tf.tensor2d([[1, 2, 3, 4]]);
    const shapes = tf.tidy(() => Object.values(m.features(x)).map((t) => t.shape));
    expect(shapes).toEqual([[1, 4], [1, 3], [1, 2]]);
    x.dispose();
    m.dispose();
  });

  it('works with conv blocks followed by dense blocks', () => {
    const m = new ConalSearchSpace({
      inputShape: [8, 8, 1],
      tasks,
      blocks: [{ kind: 'conv', filters: 2, kernelSize: 3, pool: 2 }, { kind: 'dense', units: 4 }],
      head: [3],
    });
    const out = tf.tidy(() => m.forward(tf.ones([2, 8, 8, 1]))['b']!.shape);
    expect(out).toEqual([2, 3]);
    // conv 3*3*1*2+2 = 20 (output 3x3x2 = 18); dense 18*4+4 = 76; decoders: a 4*3+3 + 3*1+1 = 19, b 15 + 3*3+3 = 27.
    expect(m.allSharedParameterCount()).toBe(20 + 76 + 19 + 27);
    m.dispose();
  });

  it('takes stacks of core layer specs as blocks (parameter counts by hand), rejects stateful layers', () => {
    const layersBlock = { kind: 'layers', layers: [{ type: 'conv', filters: 2, kernelSize: 3, padding: 'same', stride: 2 }, { type: 'flatten' }, { type: 'dense', units: 3 }] } as const;
    const m = new ConalSearchSpace({ inputShape: [6, 6, 1], tasks, blocks: [layersBlock] });
    // conv 3*3*1*2+2 = 20 (same padding, stride 2: 3x3x2 = 18), dense 18*3+3 = 57: 77 a copy.
    // Shared 77 + two copies 154 + decoders 3*1+1 = 4 and 3*3+3 = 12.
    expect(m.parameterCount()).toBe(77 + 154 + 16);
    expect(m.sharedModules[0]!.map((p) => p.key)).toEqual(['shared/block0/conv0/kernel', 'shared/block0/conv0/bias', 'shared/block0/dense2/kernel', 'shared/block0/dense2/bias']);
    expect(tf.tidy(() => m.forward(tf.ones([2, 6, 6, 1]))['b']!.shape)).toEqual([2, 3]);
    m.dispose();
    expect(() => new ConalSearchSpace({ inputShape: [6, 6, 1], tasks, blocks: [{ kind: 'layers', layers: [{ type: 'batchNorm' }] }] })).toThrow(/blocks\[0\]\.layers\[0\]\.type/);
    expect(() => new ConalSearchSpace({ inputShape: [6, 6, 1], tasks, blocks: [{ kind: 'layers', layers: [{ type: 'dense', units: 2 }] }] })).toThrow(MtlError);
  });

  it('clone copies values and keeps the class; bad options are MtlErrors naming the option', () => {
    const m = new ConalSearchSpace({ inputShape: [4], tasks, blocks, seed: 3 });
    m.alphaParameters[0]!.variable.assign(tf.tensor1d([1, 2, 3]));
    const c = m.clone();
    expect(c).toBeInstanceOf(ConalSearchSpace);
    expect(c.branchDistribution()).toEqual(m.branchDistribution());
    c.dispose();
    m.dispose();
    expect(() => new ConalSearchSpace({ inputShape: [4], tasks, blocks: [] })).toThrow(/blocks/);
    expect(() => new ConalSearchSpace({ inputShape: [4], tasks, blocks: [{ kind: 'dense', units: 0 }] })).toThrow(/blocks\[0\]\.units/);
    expect(() => new ConalSearchSpace({ inputShape: [4], tasks, blocks, extra: 1 } as never)).toThrow(MtlError);
    expect(() => new ConalSearchSpace({ inputShape: [4], tasks, blocks: [{ kind: 'conv', filters: 1, kernelSize: 3 }] })).toThrow(/conv block needs/);
  });
});
