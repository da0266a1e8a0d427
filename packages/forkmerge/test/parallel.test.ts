import { describe, expect, it } from 'vitest';
import './setup.js';
import { MtlError, ParamSnapshot, hardSharingMlp } from '@mtl/core';
import { forkMerge, type ForkMergeOptions } from '../src/index.js';
import { auxProblem, type AuxProblemOptions } from './fixtures/synthetic.js';

const setupModule = new URL('./fixtures/worker-setup.ts', import.meta.url);
const problem: AuxProblemOptions = { kind: 'helps', seed: 1, trainSize: 256, noise: 1.0, inputSize: 32 };
const trunk = [4];

async function run(parallel: boolean, extra: Partial<ForkMergeOptions> = {}) {
  const p = auxProblem(problem);
  const model = hardSharingMlp({ inputSize: p.inputSize, tasks: p.tasks, trunk, head: [], seed: 11 });
  const result = await forkMerge({
    model,
    tasks: p.tasks,
    train: p.train,
    validation: p.validation,
    target: 'target',
    optimizer: { kind: 'adam', learningRate: 0.01 },
    interval: 20,
    rounds: 5,
    batchSize: 16,
    seed: 1,
    ...(parallel ? { workers: { setupModule, setupArgs: { problem, trunk } } } : {}),
    ...extra,
  });
  const snapshot = ParamSnapshot.capture(model.parameters);
  const values = snapshot.flatten();
  snapshot.dispose();
  model.dispose();
  return { result, values };
}

describe('worker-parallel branches', () => {
  it('give the same λ sequence and parameters as the serial run', async () => {
    const serial = await run(false);
    const parallel = await run(true);
    expect(parallel.result.lambdas).toEqual(serial.result.lambdas);
    expect(parallel.result.score).toBe(serial.result.score);
    expect(parallel.values).toEqual(serial.values);
    // Not a trivial run: the merges moved weight and the parameters changed from the start.
    expect(serial.result.lambdas.some((l) => l > 0)).toBe(true);
  });

  it('agree with the serial run when optimizer state is merged and branches are pruned', async () => {
    const extra: Partial<ForkMergeOptions> = { optimizerState: 'merge', branches: [{ weights: { target: 1 } }, { weights: { target: 1, aux: 0.5 } }, { weights: { target: 1, aux: 1 } }], prune: 2, rounds: 3 };
    const serial = await run(false, extra);
    const parallel = await run(true, extra);
    expect(parallel.result.weights).toEqual(serial.result.weights);
    expect(parallel.result.branches).toEqual(serial.result.branches);
    expect(parallel.result.branches).toHaveLength(2);
    expect(parallel.values).toEqual(serial.values);
  });

  it('rejects a setup module whose model does not match', async () => {
    const p = auxProblem(problem);
    const model = hardSharingMlp({ inputSize: p.inputSize, tasks: p.tasks, trunk: [5], head: [], seed: 11 });
    const error = await forkMerge({
      model,
      tasks: p.tasks,
      train: p.train,
      validation: p.validation,
      target: 'target',
      interval: 2,
      rounds: 1,
      workers: { setupModule, setupArgs: { problem, trunk } },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MtlError);
    expect((error as MtlError).code).toBe('SHAPE_MISMATCH');
    model.dispose();
  });
});
