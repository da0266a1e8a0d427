import { describe, expect, it } from 'vitest';
import { Trainer, regressionTask, sgd, weightedSum, type GradientAggregator, type LossWeighting } from '@mtl/core';
import { selectiveGroupUpdate, type AffinityRecord } from '../src/index.js';
import { oneExample, scalarModel, values } from './fixtures.js';
import './setup.js';

/**
 * Hand-derived case. ŷ_t = h_t·w·x, x = 1, w = h_t = 1, targets a: 2, b: 2, c: 0, SGD lr 0.1, loss (ŷ − y)².
 * Losses at the start: a 1, b 1, c 1.
 * Group {a}: ∂w = 2(1·1 − 2)·1 = −2, ∂h_a = −2 → w = 1.2, h_a = 1.2.
 *   Losses: a (1.44 − 2)² = 0.3136, b (1.2 − 2)² = 0.64, c 1.2² = 1.44.
 * Group {b, c}: ∂w = 2(1.2 − 2) + 2(1.2) = 0.8, ∂h_b = 2(−0.8)(1.2) = −1.92, ∂h_c = 2(1.2)(1.2) = 2.88
 *   → w = 1.12, h_b = 1.192, h_c = 0.712 (h_a stays 1.2).
 *   Losses: a (1.344 − 2)² = 0.430336, b (1.33504 − 2)² = 0.4421718016, c 0.79744² = 0.6359105536.
 * Our crediting (β = 1, so M holds the values recorded this batch):
 *   row a (|G| = 1): a→a 1 − 0.3136 = 0.6864, a→b 1 − 0.64 = 0.36, a→c 1 − 1.44 = −0.44;
 *   rows b, c (|G| = 2): →a (1 − 0.430336/0.3136)/2 = −0.1861224490;
 *   a_b = (1 − 0.4421718016/0.64)/2 = 0.15455328, a_c = (1 − 0.6359105536/1.44)/2 = 0.2791977244;
 *   same signs, so b→b = c→b = a_b and b→c = c→c = a_c.
 * The authors' shifted crediting would record nothing for {a} (no previous forward) and credit {b, c}
 * with {a}'s effect: b→a = (1 − 0.3136/1)/2 = 0.3432, b→b = (1 − 0.64)/2 = 0.18, b→c = −(max(−0.22, 0.18)) = −0.18.
 */
const tasks = ['a', 'b', 'c'].map((t) => regressionTask(t));
const data = oneExample({ a: 2, b: 2, c: 0 });

function oneBatch(options: Parameters<typeof selectiveGroupUpdate>[0]) {
  const model = scalarModel(['a', 'b', 'c']);
  const records: AffinityRecord[] = [];
  const rule = selectiveGroupUpdate({ beta: 1, order: 'forward', onAffinity: (r) => records.push(r), ...options });
  const trainer = new Trainer({ model, tasks, optimizer: sgd(0.1), rule, batchSize: 1, seed: 1 });
  const stats = trainer.runSteps(data, 1)[0]!;
  const result = { params: values(model), affinity: rule.affinity, records, stats };
  trainer.dispose();
  model.dispose();
  return result;
}

describe('crediting: each group measured by the forwards just before and after its own step', () => {
  it('records the hand-derived affinities, which differ from the shifted crediting', () => {
    const { params, affinity } = oneBatch({ groups: [['a'], ['b', 'c']] });
    expect(params['trunk/w']).toBeCloseTo(1.12, 5);
    expect(params['a/h']).toBeCloseTo(1.2, 5);
    expect(params['b/h']).toBeCloseTo(1.192, 5);
    expect(params['c/h']).toBeCloseTo(0.712, 5);
    const aB = 0.15455328;
    const aC = 0.2791977244;
    const toA = -0.186122449;
    const expected = [
      [0.6864, 0.36, -0.44],
      [toA, aB, aC],
      [toA, aB, aC],
    ];
    affinity.forEach((row, s) => row.forEach((v, j) => expect(v, `M[${s}][${j}]`).toBeCloseTo(expected[s]![j]!, 5)));
    // The shifted crediting would leave row a at 0 and give b→a = 0.3432, b→b = 0.18, b→c = −0.18.
    expect(affinity[0]![0]).not.toBeCloseTo(0, 2);
    expect(affinity[1]![0]).not.toBeCloseTo(0.3432, 2);
    expect(affinity[1]![2]).not.toBeCloseTo(-0.18, 2);
  });

  it('the other order credits the same affinity rules to the other sequence', () => {
    // Order backward: {b, c} first from w = 1: ∂w = 2(1 − 2) + 2(1) = 0, ∂h_b = −2, ∂h_c = 2 →
    // w = 1, h_b = 1.2, h_c = 0.8. Losses: a 1, b 0.64, c 0.64. Rows b, c: →a 0, a_b = a_c = 0.18.
    const { affinity, records } = oneBatch({ groups: [['a'], ['b', 'c']], order: 'backward' });
    expect(records[0]!.groups).toEqual([['b', 'c'], ['a']]);
    expect(affinity[1]![0]).toBeCloseTo(0, 6);
    expect(affinity[1]![1]).toBeCloseTo(0.18, 5);
    expect(affinity[2]![1]).toBeCloseTo(0.18, 5);
    // Then {a} from w = 1, h_a = 1: as in the forward case, a→a = 0.6864; b's loss goes 0.64 → (1.2·1.2 − 2)² = 0.3136.
    expect(affinity[0]![0]).toBeCloseTo(0.6864, 5);
    expect(affinity[0]![1]).toBeCloseTo(1 - 0.3136 / 0.64, 5);
  });

  it('headLrScale scales only the heads: h_a = 1 + 0.1·2·2 = 1.4 after {a}, so a→a = 1 − (1.4·1.2 − 2)² = 0.8976', () => {
    const { params, affinity } = oneBatch({ groups: [['a'], ['b', 'c']], headLrScale: 2 });
    expect(params['a/h']).toBeCloseTo(1.4, 5);
    expect(affinity[0]![0]).toBeCloseTo(0.8976, 5);
    expect(affinity[0]![1]).toBeCloseTo(0.36, 5); // w = 1.2 as before: b's loss 0.64
  });

  it('Joint is GD: one step of the summed loss; repeatSingleGroup steps it twice', () => {
    const gd = (steps: number) => {
      const model = scalarModel(['a', 'b', 'c']);
      const trainer = new Trainer({ model, tasks, optimizer: sgd(0.1), rule: weightedSum(), batchSize: 1, seed: 1 });
      trainer.runSteps(data, steps);
      const out = values(model);
      trainer.dispose();
      model.dispose();
      return out;
    };
    expect(oneBatch({ groups: 'joint' }).params).toEqual(gd(1));
    const twice = oneBatch({ groups: 'joint', repeatSingleGroup: true });
    const gd2 = gd(2);
    for (const key of Object.keys(gd2)) expect(twice.params[key]).toBeCloseTo(gd2[key]!, 6);
  });

  it('an inner loss weighting combines a group: weights [1, 0] on {b, c} train only b', () => {
    // {b, c} first: ∂w = 2(1 − 2) = −2 → w = 1.2, h_b = 1.2, h_c = 1. Then {a}: ∂w = 2(1.2 − 2) = −1.6 →
    // w = 1.36; ∂h_a = 2(−0.8)(1.2) = −1.92 → h_a = 1.192.
    const firstOnly: LossWeighting<null> = { name: 'first-only', initialState: () => null, weigh: (input) => ({ weights: input.losses.map((_, i) => (i === 0 ? 1 : 0)), state: null }) };
    const { params } = oneBatch({ groups: [['b', 'c'], ['a']], inner: firstOnly });
    expect(params['trunk/w']).toBeCloseTo(1.36, 5);
    expect(params['a/h']).toBeCloseTo(1.192, 5);
    expect(params['b/h']).toBeCloseTo(1.2, 5);
    expect(params['c/h']).toBeCloseTo(1, 6);
  });

  it('an inner gradient aggregator combines a group: the row sum reproduces the summed loss', () => {
    const rowSum: GradientAggregator<null> = {
      name: 'row-sum',
      initialState: () => null,
      aggregate: (G) => {
        const direction = new Float64Array(G.cols);
        for (let r = 0; r < G.rows; r++) for (let c = 0; c < G.cols; c++) direction[c]! += G.data[r * G.cols + c]!;
        return { direction, weights: new Array<number>(G.rows).fill(1), state: null };
      },
    };
    const { params, affinity } = oneBatch({ groups: [['a'], ['b', 'c']], inner: rowSum });
    expect(params['trunk/w']).toBeCloseTo(1.12, 5);
    expect(params['b/h']).toBeCloseTo(1.192, 5);
    expect(params['c/h']).toBeCloseTo(0.712, 5);
    expect(affinity[1]![0]).toBeCloseTo(-0.186122449, 5);
  });

  it('groupNorm halves the {b, c} loss: w = 1.2 − 0.1·0.4 = 1.16', () => {
    const { params } = oneBatch({ groups: [['a'], ['b', 'c']], groupNorm: true });
    expect(params['trunk/w']).toBeCloseTo(1.16, 5);
    expect(params['b/h']).toBeCloseTo(1 + 0.1 * 0.96, 5);
  });

  it('reports the affinity and the groups in StepResult.info', () => {
    const { stats } = oneBatch({ groups: [['a'], ['b', 'c']] });
    expect(stats.info!['groups']).toBe(2);
    expect(stats.info!['group/a']).toBe(0);
    expect(stats.info!['group/c']).toBe(1);
    expect(stats.info!['affinity/a->c']).toBeCloseTo(-0.44, 5);
    // The trainer reports the losses the batch started from (read by the first gradient pass).
    expect(stats.losses).toEqual({ a: 1, b: 1, c: 1 });
  });
});
