import { describe, expect, it } from 'vitest';
import './setup.js';
import { ParamSnapshot, treeModel } from '@mtl/core';
import { forkMerge } from '../src/index.js';
import { auxProblem } from './fixtures/synthetic.js';

describe('models with BatchNorm', () => {
  it('branches train their running statistics and the merge carries them into the model (as state_dict merging does)', async () => {
    const p = auxProblem({ kind: 'hurts', seed: 4, trainSize: 32 });
    const model = treeModel({
      inputShape: [p.inputSize],
      tasks: p.tasks,
      seed: 1,
      modules: [{ name: 'trunk', layers: [{ type: 'dense', units: 4, activation: 'linear' }, { type: 'batchNorm' }, { type: 'activation', activation: 'relu' }] }],
    });
    const before = ParamSnapshot.capture(model);
    expect(before.keys).toContain('trunk/batchNorm1/movingMean');
    await forkMerge({ model, tasks: p.tasks, train: p.train, validation: p.validation, target: 'target', interval: 2, rounds: 1 });
    // The running mean starts at 0; only a merge that carries buffers moves the model's copy.
    expect(Array.from(model.buffers[0]!.variable.dataSync()).some((v) => v !== 0)).toBe(true);
    before.dispose();
    model.dispose();
  });
});
