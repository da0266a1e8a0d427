import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRandom, sgd, tf, useBestBackend, type StepContext } from '@mtl/core';
import { modo, sdmgrad, toUpdateRule } from '../src/index.js';
import { expectClose } from './helpers.js';

/** Per batch: a 2-task Jacobian over 3 shared numbers and one head value per task. */
const BATCHES: Record<string, { jacobian: number[][]; heads: [number, number] }> = {
  main: { jacobian: [[1, 0, 2], [0, 1, -1]], heads: [1, 10] },
  extra1: { jacobian: [[2, 1, 0], [1, -1, 1]], heads: [2, 20] },
  extra2: { jacobian: [[0, 1, 1], [-1, 2, 0]], heads: [6, 60] },
};

/** The parts of a StepContext the sampled rule uses; records what it applies. */
function fakeContext(): { ctx: StepContext; applied: Map<string, number[]>; drawn: string[] } {
  const applied = new Map<string, number[]>();
  const drawn: string[] = [];
  const queue = ['extra1', 'extra2'];
  const make = (batch: string): StepContext =>
    ({
      step: 0,
      epoch: 0,
      optimizer: sgd(0.1),
      random: new SeededRandom(1),
      tasks: [{ name: 'a' }, { name: 'b' }],
      batch,
      losses: () => [1, 1],
      nextTrainingBatch: () => {
        const b = queue.shift()!;
        drawn.push(b);
        return b;
      },
      withBatch: (b: string) => make(b),
      taskGradients: () => ({
        jacobian: tf.tensor2d(BATCHES[batch]!.jacobian),
        taskSpecific: new Map([
          ['a', new Map([['head/a', tf.scalar(BATCHES[batch]!.heads[0])]])],
          ['b', new Map([['head/b', tf.scalar(BATCHES[batch]!.heads[1])]])],
        ]),
      }),
      gradientsFromDirection: (d: Float64Array) => new Map([['shared', tf.tensor1d(Array.from(d))]]),
      applyGradients: (grads: Map<string, tf.Tensor>) => {
        for (const [k, v] of grads) applied.set(k, Array.from(v.dataSync()));
      },
    }) as unknown as StepContext;
  return { ctx: make('main'), applied, drawn };
}

describe('methods with three gradient samples as trainer rules (MoDo, SDMGrad)', () => {
  beforeAll(async () => {
    await useBestBackend();
  });
  it.each([
    ['modo', () => modo({ gamma: 0.1 })],
    ['sdmgrad', () => sdmgrad()],
  ] as const)('%s: the step’s batch + two from ctx.nextTrainingBatch(); shared = aggregateSamples(J₀, J₁, J₂); heads = mean of the three', (_, make) => {
    const { ctx, applied, drawn } = fakeContext();
    const rule = toUpdateRule(make());
    rule.step(ctx);
    expect(drawn).toEqual(['extra1', 'extra2']);
    const expected = make().aggregateSamples!([BATCHES['main']!.jacobian, BATCHES['extra1']!.jacobian, BATCHES['extra2']!.jacobian], { losses: [1, 1] });
    expectClose(applied.get('shared')!, Array.from(expected.direction), 1e-6);
    expectClose(applied.get('head/a')!, [3], 1e-6);
    expectClose(applied.get('head/b')!, [30], 1e-6);
    expect(rule.getState!()).toEqual(JSON.parse(JSON.stringify(expected.state)));
  });
});
