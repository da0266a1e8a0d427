import { beforeAll, describe, expect, it } from 'vitest';
import { ParamSnapshot, SeededRandom, Trainer, hardSharingMlp, sgd, tf, useBestBackend, type Matrix } from '@mtl/core';
import { toyTwoTaskProblem } from '@mtl/core/testing';
import { createAggregator, createRule, listMethods } from '../src/index.js';
import { expectClose, randomMatrix } from './helpers.js';

/** The methods the issue names as defined on G Gᵀ, with options that exercise their variants. */
const GRAMIAN_METHODS: readonly [string, Record<string, unknown>][] = [
  ['mgda', { solver: 'exact' }],
  ['mgda', { normalization: 'loss+' }],
  ['upgrad', {}],
  ['dualproj', {}],
  ['nash-mtl', {}],
  ['nash-mtl', { solver: 'authors' }],
  ['aligned-mtl', {}],
  ['cagrad', {}],
  ['imtl', {}],
  ['fairgrad', { alpha: 2 }],
];

const gramOf = (g: Matrix): Matrix => {
  const T = g.rows;
  const data = new Float64Array(T * T);
  for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) for (let k = 0; k < g.cols; k++) data[i * T + j] = data[i * T + j]! + g.data[i * g.cols + k]! * g.data[j * g.cols + k]!;
  return { rows: T, cols: T, data };
};

describe('the Gramian path: fromGramian(G Gᵀ) gives the weights aggregate(G) gives', () => {
  it.each(GRAMIAN_METHODS)('%s %j: same weights, head weights and state over three steps', (name, options) => {
    const rng = new SeededRandom(31);
    for (const T of [2, 3, 5]) {
      const a = createAggregator(name, options);
      let sa = a.initialState(T);
      let sg = a.initialState(T);
      for (let step = 0; step < 3; step++) {
        const g = randomMatrix(rng, T, 9, Array.from({ length: T }, () => 0.3 + rng.next()));
        const input = { losses: Array.from({ length: T }, () => 0.5 + rng.next()), step };
        const viaJ = a.aggregate(g, input, sa);
        const viaG = a.fromGramian!(gramOf(g), input, sg);
        expectClose(viaG.weights, viaJ.weights, 1e-9);
        if (viaJ.headWeights) expectClose(viaG.headWeights!, viaJ.headWeights, 1e-9);
        sa = viaJ.state;
        sg = viaG.state;
      }
    }
  });
  it('exactly the methods defined on G Gᵀ offer it', () => {
    const offering = listMethods()
      .filter((m) => m.kind === 'aggregator' && createAggregator(m.name, {}).fromGramian !== undefined)
      .map((m) => m.name)
      .sort();
    expect(offering).toEqual(['aligned-mtl', 'cagrad', 'config', 'dualproj', 'fairgrad', 'imtl', 'imtl-g', 'krum', 'mgda', 'mgda-ub', 'nash-mtl', 'upgrad']);
  });
  it('rejects a Gramian that is not square, not symmetric or has a negative diagonal', () => {
    const m = createAggregator('mgda');
    expect(() => m.fromGramian!([[1, 0, 0], [0, 1, 0]], { losses: [1, 1] })).toThrow(/square/);
    expect(() => m.fromGramian!([[1, 0.5], [0.2, 1]], { losses: [1, 1] })).toThrow(/symmetric/);
    expect(() => m.fromGramian!([[-1, 0], [0, 1]], { losses: [1, 1] })).toThrow(/negative/);
    expect(() => createRule('pcgrad', { gramian: true })).toThrow(/gramian/);
  });
});

describe('the Gramian rule (G Gᵀ and weightsᵀ G on the backend) trains like the Jacobian rule', () => {
  beforeAll(async () => {
    await useBestBackend();
  });
  it.each(GRAMIAN_METHODS)('%s %j: parameters after 8 steps agree to float32 rounding, no tensor leaks', (name, options) => {
    const { tasks, train } = toyTwoTaskProblem({ seed: 6, size: 128, inputSize: 5 });
    const run = (gramian: boolean): { values: Float32Array; leaked: number } => {
      const model = hardSharingMlp({ inputSize: 5, tasks, trunk: [8], seed: 3 });
      const trainer = new Trainer({ model, tasks, optimizer: sgd(0.05), rule: createRule(name, { ...options, gramian }), batchSize: 16, seed: 4 });
      trainer.runSteps(train, 2);
      const before = tf.memory().numTensors;
      trainer.runSteps(train, 6);
      const leaked = tf.memory().numTensors - before;
      const snap = ParamSnapshot.capture(model.parameters);
      const values = snap.flatten();
      snap.dispose();
      trainer.dispose();
      model.dispose();
      return { values, leaked };
    };
    const viaJ = run(false);
    const viaG = run(true);
    expect(viaG.leaked).toBe(0);
    expectClose(viaG.values, viaJ.values, 2e-4);
  });
});
