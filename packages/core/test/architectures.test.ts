import { describe, expect, it } from 'vitest';
import './setup.js';
import { MtlError, architectureNames, createArchitecture, mlpStages, tf, type LayerSpec, type Task } from '../src/index.js';
import { checkArchitectureConformance } from '../src/testing/index.js';

const vector = (name: string, extra: Record<string, unknown> = {}) => (tasks: readonly Task[]) =>
  createArchitecture(name, { inputShape: [3], tasks, stages: mlpStages([4, 3], 'tanh'), seed: 2, ...extra });

const convStages: LayerSpec[][] = [
  [{ type: 'conv', filters: 2, kernelSize: 3, padding: 'same', activation: 'tanh' }],
  [{ type: 'conv', filters: 3, kernelSize: 3, stride: 2, padding: 'same', activation: 'tanh' }],
];
const image = (name: string, extra: Record<string, unknown> = {}) => (tasks: readonly Task[]) =>
  createArchitecture(name, { inputShape: [4, 4, 1], tasks, stages: convStages, seed: 3, ...extra });

const cases: [string, (tasks: readonly Task[]) => ReturnType<typeof createArchitecture>, Parameters<typeof checkArchitectureConformance>[2]?][] = [
  ['hps (MLP)', vector('hps')],
  ['hps (conv + BatchNorm + dropout)', (tasks) => createArchitecture('hps', { inputShape: [4, 4, 1], tasks, seed: 1, stages: [[{ type: 'conv', filters: 2, kernelSize: 3, padding: 'same', activation: 'tanh' }, { type: 'batchNorm' }, { type: 'dropout', rate: 0.2 }]] }), { trainingDiffers: true }],
  [
    'hps (residual block + global average pooling)',
    (tasks) =>
      createArchitecture('hps', {
        inputShape: [4, 4, 2],
        tasks,
        seed: 5,
        stages: [[{ type: 'residual', filters: 3, stride: 2 }, { type: 'globalAveragePool' }]],
      }),
    { trainingDiffers: true },
  ],
  ['cross-stitch (MLP)', vector('cross-stitch')],
  ['cross-stitch (conv)', image('cross-stitch')],
  ['mtan (MLP)', vector('mtan')],
  ['mtan (conv)', image('mtan', { stages: [[{ type: 'conv', filters: 2, kernelSize: 3, padding: 'same', activation: 'tanh' }], [{ type: 'conv', filters: 3, kernelSize: 3, padding: 'same', activation: 'tanh', pool: 2 }]] })],
  ['cgc (MLP)', vector('cgc')],
  ['cgc (conv)', image('cgc', { experts: { shared: 1, specific: 1 } })],
  ['ple (MLP)', vector('ple')],
  ['ple (conv)', image('ple', { experts: { shared: 1, specific: 1 } })],
  ['dselect-k (MLP)', vector('dselect-k', { experts: 3, selected: 2, gamma: 4 })],
  ['ltb (MLP)', vector('ltb'), { trainingDiffers: true, surrogate: (key) => key.startsWith('ltb/alpha') }],
  ['ltb (conv)', image('ltb'), { trainingDiffers: true, surrogate: (key) => key.startsWith('ltb/alpha') }],
  ['mmoe', (tasks) => createArchitecture('mmoe', { inputSize: 3, tasks, experts: 2, expertUnits: [3], tower: [2], seed: 1 })],
];

describe('architecture conformance', () => {
  for (const [label, build, options] of cases) {
    it(`${label} passes the shared suite`, async () => {
      const report = await checkArchitectureConformance(label, build, options);
      expect(report.passed.length).toBeGreaterThanOrEqual(8);
    }, 60_000);
  }
});

describe('createArchitecture', () => {
  it('knows LibMTL’s architectures by name and rejects unknown names and options', () => {
    expect(architectureNames()).toEqual(expect.arrayContaining(['hps', 'mmoe', 'cross-stitch', 'mtan', 'cgc', 'ple', 'dselect-k', 'ltb']));
    expect(() => createArchitecture('nope', {})).toThrow(/unknown architecture "nope"/);
    const tasks = [{ name: 'a', outputSize: 1 }];
    expect(() => createArchitecture('cgc', { inputShape: [3], tasks, bogus: 1 })).toThrow(MtlError);
    expect(() => createArchitecture('cgc', { inputShape: [3], tasks, bogus: 1 })).toThrow(/bogus/);
  });

  it('subset sharing is reported: CGC shares only its shared experts, PLE has no trunk', () => {
    const tasks = [{ name: 'a', outputSize: 1 }, { name: 'b', outputSize: 1 }];
    const c = createArchitecture('cgc', { inputShape: [3], tasks, stages: mlpStages([2]) });
    expect(c.sharedParameters.every((p) => p.key.startsWith('experts/shared/'))).toBe(true);
    expect(c.taskParameters('a').map((p) => p.key)).toEqual(expect.arrayContaining(['experts/a/0/stage0/dense0/kernel', 'gates/a/kernel', 'out/a/kernel']));
    const p = createArchitecture('ple', { inputShape: [3], tasks, stages: mlpStages([2, 2]) });
    const x = tf.ones([2, 3]);
    expect(tf.tidy(() => p.represent(x).shape)).toEqual([2, 3]);
    x.dispose();
    c.dispose();
    p.dispose();
  });
});
