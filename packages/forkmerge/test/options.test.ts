import { describe, expect, it } from 'vitest';
import './setup.js';
import { MtlError, hardSharingMlp } from '@mtl/core';
import { forkMerge, type ForkMergeOptions } from '../src/index.js';
import { auxProblem } from './fixtures/synthetic.js';

const p = auxProblem({ kind: 'hurts', seed: 4, trainSize: 32 });
const model = hardSharingMlp({ inputSize: p.inputSize, tasks: p.tasks, trunk: [4], seed: 1 });
const base: ForkMergeOptions = { model, tasks: p.tasks, train: p.train, validation: p.validation, target: 'target', interval: 2, rounds: 1 };

async function rejection(overrides: Partial<ForkMergeOptions> | Record<string, unknown>): Promise<MtlError> {
  try {
    await forkMerge({ ...base, ...(overrides as Partial<ForkMergeOptions>) });
  } catch (error) {
    if (error instanceof MtlError) return error;
    throw error;
  }
  throw new Error('forkMerge accepted invalid options');
}

describe('option validation', () => {
  it.each([
    [{ interval: 0 }, 'interval', 0],
    [{ interval: 1.5 }, 'interval', 1.5],
    [{ interval: { epochs: 0 } }, 'interval.epochs', 0],
    [{ rounds: -1 }, 'rounds', -1],
    [{ grid: [0, 0.5, 1.2] }, 'grid[2]', 1.2],
    [{ grid: [] }, 'grid', []],
    [{ prune: 3 }, 'prune', 3],
    [{ branches: [{ weights: { target: 1 } }, { weights: { target: 1, aux: -0.5 } }] }, 'branches[1].weights.aux', -0.5],
    [{ branches: [{ weights: { target: 0 } }, { weights: { aux: 1 } }] }, 'branches[0].weights', { target: 0 }],
    [{ target: 'nope' }, 'target', 'nope'],
    [{ search: 'random' }, 'search', 'random'],
    [{ score: 'accuracy' }, 'score', 'accuracy'],
    [{ optimizerState: 'average' }, 'optimizerState', 'average'],
    [{ validationSubsample: 0 }, 'validationSubsample', 0],
    [{ optimizer: { kind: 'adam', learningRate: -1 } }, 'optimizer.learningRate', -1],
    [{ target: ['target', 'aux'], branches: 'pair' }, 'branches', 'pair'],
  ])('rejects %o with INVALID_OPTION naming %s', async (overrides, option, value) => {
    const error = await rejection(overrides);
    expect(error.code).toBe('INVALID_OPTION');
    expect(error.details['option']).toBe(option);
    expect(error.details['value']).toEqual(value);
    expect(error.message).toContain(option);
  });

  it('accepts K′ = B and an interval in epochs', async () => {
    const result = await forkMerge({ ...base, branches: 'per-task', target: ['target', 'aux'], prune: 3, interval: { epochs: 1 }, batchSize: 16 });
    expect(result.steps).toBe(2);
    expect(result.branches).toEqual(['target', 'aux', 'all']);
  });
});
