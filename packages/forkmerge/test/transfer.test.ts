import { describe, expect, it } from 'vitest';
import './setup.js';
import { Trainer, adam, evaluateModel, hardSharingMlp, weightedSum, type MultiTaskModel } from '@mtl/core';
import { forkMerge, type ForkMergeResult } from '../src/index.js';
import { auxProblem, type AuxProblem } from './fixtures/synthetic.js';

const INTERVAL = 20;
const ROUNDS = 10;

function model(p: AuxProblem, trunk: number[], seed: number): MultiTaskModel {
  return hardSharingMlp({ inputSize: p.inputSize, tasks: p.tasks, trunk, head: [], seed });
}

/** Plain training with fixed task weights for the same number of steps ForkMerge's branches take. */
function baseline(p: AuxProblem, trunk: number[], seed: number, weights: Record<string, number>): number {
  const m = model(p, trunk, seed + 10);
  const trainer = new Trainer({ model: m, tasks: p.tasks, optimizer: adam(0.01), rule: weightedSum(weights), batchSize: 16, seed });
  trainer.runSteps(p.train, INTERVAL * ROUNDS);
  const mse = evaluateModel(m, p.tasks, p.test)['target/mse']!;
  trainer.dispose();
  m.dispose();
  return mse;
}

async function runForkMerge(p: AuxProblem, trunk: number[], seed: number): Promise<{ mse: number; result: ForkMergeResult }> {
  const m = model(p, trunk, seed + 10);
  const result = await forkMerge({
    model: m,
    tasks: p.tasks,
    train: p.train,
    validation: p.validation,
    target: 'target',
    optimizer: { kind: 'adam', learningRate: 0.01 },
    interval: INTERVAL,
    rounds: ROUNDS,
    batchSize: 16,
    seed,
  });
  const mse = evaluateModel(m, p.tasks, p.test)['target/mse']!;
  m.dispose();
  return { mse, result };
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('ForkMerge on a target task with an auxiliary task', () => {
  it('keeps λ near 0 and matches target-only training when the auxiliary task hurts', async () => {
    const seed = 2;
    const p = auxProblem({ kind: 'hurts', seed });
    const trunk = [4];
    const targetOnly = baseline(p, trunk, seed, { target: 1 });
    const joint = baseline(p, trunk, seed, { target: 1, aux: 1 });
    const { mse, result } = await runForkMerge(p, trunk, seed);
    // The fixture really is harmful: joint training is much worse on the target.
    expect(joint).toBeGreaterThan(2 * targetOnly);
    expect(result.lambdas).toHaveLength(ROUNDS);
    expect(mean(result.lambdas)).toBeLessThanOrEqual(0.1);
    expect(Math.max(...result.lambdas)).toBeLessThanOrEqual(0.2);
    expect(mse).toBeLessThanOrEqual(targetOnly * 1.05);
    expect(mse).toBeLessThan(joint * 0.5);
  });

  it('puts weight on the joint branch and beats target-only training when the auxiliary task helps', async () => {
    const seed = 1;
    const p = auxProblem({ kind: 'helps', seed, trainSize: 256, noise: 1.0, inputSize: 32 });
    const trunk = [4];
    const targetOnly = baseline(p, trunk, seed, { target: 1 });
    const { mse, result } = await runForkMerge(p, trunk, seed);
    expect(mean(result.lambdas)).toBeGreaterThan(0.3);
    expect(result.lambdas.at(-1)).toBeGreaterThan(0);
    expect(mse).toBeLessThan(targetOnly * 0.9);
  });
});
