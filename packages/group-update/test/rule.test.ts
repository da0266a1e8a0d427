import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ParamSnapshot, Trainer, hardSharingMlp, isMtlError, regressionTask, sgd, tf, type GradientAggregator, type LossWeighting, type MultiTaskModel } from '@mtl/core';
import { checkUpdateRuleConformance } from '@mtl/core/testing';
import { selectiveGroupUpdate, type AffinityRecord, type SelectiveGroupUpdateOptions } from '../src/index.js';
import { oneExample, scalarModel, twoClusterProblem } from './fixtures.js';
import './setup.js';

const sorted = (groups: readonly (readonly string[])[]) => groups.map((g) => [...g].sort()).sort((a, b) => a[0]!.localeCompare(b[0]!));

function trainClusters(options: SelectiveGroupUpdateOptions, steps: number, seed = 1) {
  const { tasks, data, inputSize } = twoClusterProblem();
  const model = hardSharingMlp({ inputSize, tasks, trunk: [1], activation: 'linear', seed });
  const records: AffinityRecord[] = [];
  const rule = selectiveGroupUpdate({ onAffinity: (r) => records.push(r), ...options });
  const trainer = new Trainer({ model, tasks, optimizer: sgd(0.05), rule, batchSize: 32, seed });
  trainer.runSteps(data, steps);
  const out = { records, affinity: rule.affinity, groups: rule.groups, state: rule.getState() };
  trainer.dispose();
  model.dispose();
  return out;
}

describe('adaptive grouping on two clusters of related tasks', () => {
  const run = trainClusters({ warmup: 40, beta: 0.02 }, 120);

  it('the groups converge to the true clusters', () => {
    expect(run.records[39]!.regrouped).toBe(false); // warm-up: every task alone
    expect(run.records[39]!.groups).toHaveLength(4);
    expect(run.records[40]!.regrouped).toBe(true);
    // Affinity Propagation on the symmetrised similarity can oscillate and then returns its last
    // (degenerate) labels, as scikit-learn does: most batches (here 47 of the last 60), not all, get the true clusters.
    const truth = JSON.stringify([
      ['a1', 'a2'],
      ['b1', 'b2'],
    ]);
    const late = run.records.slice(-60).map((r) => JSON.stringify(sorted(r.groups)));
    const counts = new Map<string, number>();
    for (const g of late) counts.set(g, (counts.get(g) ?? 0) + 1);
    const [mostFrequent] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
    expect(mostFrequent).toBe(truth);
    expect(counts.get(truth)! / late.length).toBeGreaterThanOrEqual(0.7); // 1 of the 15 partitions of 4 tasks
  });

  it('affinity is positive within a cluster and negative across', () => {
    const M = run.affinity; // tasks a1, a2, b1, b2
    const within = [M[0]![1]!, M[1]![0]!, M[2]![3]!, M[3]![2]!];
    const across = [0, 1].flatMap((i) => [2, 3].flatMap((j) => [M[i]![j]!, M[j]![i]!]));
    for (const v of within) expect(v).toBeGreaterThan(0);
    for (const v of across) expect(v).toBeLessThan(0);
  });

  it('same seed, same groups; the random order follows the seed', () => {
    const again = trainClusters({ warmup: 40, beta: 0.02 }, 120);
    expect(again.records.map((r) => r.groups)).toEqual(run.records.map((r) => r.groups));
    expect(again.affinity).toEqual(run.affinity);
    const other = trainClusters({ warmup: 40, beta: 0.02 }, 120, 2);
    expect(other.records.slice(0, 40).map((r) => r.groups)).not.toEqual(run.records.slice(0, 40).map((r) => r.groups));
  });
});

describe('baselines and orders', () => {
  it('Separate updates every task alone in the given order; backward reverses it', () => {
    const forward = trainClusters({ groups: 'separate', order: 'forward' }, 2);
    expect(forward.records[1]!.groups).toEqual([['a1'], ['a2'], ['b1'], ['b2']]);
    const backward = trainClusters({ groups: [['a1', 'a2'], ['b1'], ['b2']], order: 'backward' }, 1);
    expect(backward.records[0]!.groups).toEqual([['b2'], ['b1'], ['a1', 'a2']]);
    expect(backward.records[0]!.regrouped).toBe(false);
  });

  it('Joint is one group of all tasks, never re-formed', () => {
    const joint = trainClusters({ groups: 'joint', warmup: 0 }, 3);
    for (const r of joint.records) expect(r.groups).toEqual([['a1', 'a2', 'b1', 'b2']]);
  });
});

describe('update-rule conformance (core)', () => {
  it.each<[string, () => ReturnType<typeof selectiveGroupUpdate>]>([
    ['adaptive', () => selectiveGroupUpdate({ warmup: 5, beta: 0.1 })],
    ['joint', () => selectiveGroupUpdate({ groups: 'joint' })],
    ['separate, heads ×2', () => selectiveGroupUpdate({ groups: 'separate', headLrScale: 2 })],
  ])('%s', (_label, make) => {
    const report = checkUpdateRuleConformance(make);
    expect(report.passed).toContain('no tensor leaks');
    expect(report.passed).toContain('deterministic');
  });
});

/** A stateful inner weighting: weights ∝ the running mean of each task's loss (its state must survive checkpoints). */
const runningMean: LossWeighting<number[] | null> = {
  name: 'running-mean',
  initialState: () => null,
  weigh: (input, state) => {
    const mean = state ? state.map((m, i) => 0.8 * m + 0.2 * input.losses[i]!) : [...input.losses];
    const total = mean.reduce((a, b) => a + b, 0);
    return { weights: mean.map((m) => (m / total) * mean.length), state: mean };
  },
};
const rowMean: GradientAggregator<null> = {
  name: 'row-mean',
  initialState: () => null,
  aggregate: (G) => {
    const direction = new Float64Array(G.cols);
    for (let r = 0; r < G.rows; r++) for (let c = 0; c < G.cols; c++) direction[c]! += G.data[r * G.cols + c]! / G.rows;
    return { direction, weights: new Array<number>(G.rows).fill(1 / G.rows), state: null };
  },
};

describe('no tensor growth', () => {
  it.each<[string, SelectiveGroupUpdateOptions]>([
    ['summed loss', { warmup: 3, beta: 0.1 }],
    ['inner aggregator, heads ×2', { warmup: 3, beta: 0.1, inner: rowMean, headLrScale: 2 }],
    ['inner weighting, one group twice', { warmup: 3, beta: 0.1, inner: runningMean, groups: 'joint', repeatSingleGroup: true }],
  ])('memory stays flat over many steps (%s, checkLeaks on)', (_label, options) => {
    const { tasks, data, inputSize } = twoClusterProblem(4, 128);
    const model = hardSharingMlp({ inputSize, tasks, trunk: [4], seed: 1 });
    const trainer = new Trainer({ model, tasks, optimizer: sgd(0.05), rule: selectiveGroupUpdate(options), batchSize: 32, seed: 1, checkLeaks: true });
    trainer.runSteps(data, 5);
    const tensors = tf.memory().numTensors;
    trainer.runSteps(data, 25);
    expect(tf.memory().numTensors).toBe(tensors);
    trainer.dispose();
    model.dispose();
  });
});

describe('checkpoints: resume equals uninterrupted', () => {
  it.each<[string, SelectiveGroupUpdateOptions]>([
    ['summed loss', { warmup: 6, beta: 0.05 }],
    ['stateful inner weighting', { warmup: 6, beta: 0.05, inner: runningMean }],
  ])('parameters, affinity and groups after 4 epochs match a run stopped after 2 and resumed (%s)', async (_label, options) => {
    const { tasks, data, inputSize } = twoClusterProblem(6, 128);
    const dir = mkdtempSync(join(tmpdir(), 'mtl-group-update-'));
    const make = () => {
      const model = hardSharingMlp({ inputSize, tasks, trunk: [2], activation: 'linear', seed: 3 });
      const rule = selectiveGroupUpdate(options);
      return { model, rule };
    };
    const finish = (model: MultiTaskModel) => {
      const snapshot = ParamSnapshot.capture(model.parameters);
      const flat = Array.from(snapshot.flatten());
      snapshot.dispose();
      return flat;
    };
    try {
      const straight = make();
      const t1 = new Trainer({ model: straight.model, tasks, optimizer: sgd(0.05), rule: straight.rule, batchSize: 32, seed: 9 });
      await t1.fit(data, { epochs: 4 });
      const expected = { params: finish(straight.model), state: straight.rule.getState() };
      t1.dispose();
      straight.model.dispose();

      const first = make();
      const t2 = new Trainer({ model: first.model, tasks, optimizer: sgd(0.05), rule: first.rule, batchSize: 32, seed: 9, checkpoint: { dir } });
      await t2.fit(data, { epochs: 2 });
      t2.dispose();
      first.model.dispose();

      const second = make();
      const t3 = new Trainer({ model: second.model, tasks, optimizer: sgd(0.05), rule: second.rule, batchSize: 32, seed: 9, checkpoint: { dir } });
      await t3.fit(data, { epochs: 4, resume: true });
      expect(second.rule.getState()).toEqual(expected.state);
      expect(finish(second.model)).toEqual(expected.params);
      expect(expected.state!.iteration).toBe(16); // 4 epochs × 4 batches: re-grouping ran on both sides of the break
      if (options.inner) expect(Object.keys(expected.state!.inner).length).toBeGreaterThan(0);
      t3.dispose();
      second.model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('options are validated with typed errors', () => {
  const codeOf = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      return isMtlError(error) ? `${error.code}:${JSON.stringify(error.details['option'] ?? error.details['task'] ?? '').replaceAll('"', '')}` : `raw: ${String(error)}`;
    }
    return 'no error';
  };

  it.each<[string, unknown, string]>([
    ['β = 0', { beta: 0 }, 'INVALID_OPTION:beta'],
    ['β > 1', { beta: 1.5 }, 'INVALID_OPTION:beta'],
    ['β negative', { beta: -0.1 }, 'INVALID_OPTION:beta'],
    ['β NaN', { beta: NaN }, 'INVALID_OPTION:beta'],
    ['empty group', { groups: [['a'], []] }, 'INVALID_OPTION:groups[1]'],
    ['no groups', { groups: [] }, 'INVALID_OPTION:groups'],
    ['overlapping groups', { groups: [['a', 'b'], ['b']] }, 'INVALID_OPTION:groups'],
    ['unknown grouping', { groups: 'pairs' }, 'INVALID_OPTION:groups'],
    ['unknown order', { order: 'sideways' }, 'INVALID_OPTION:order'],
    ['negative head scale', { headLrScale: -1 }, 'INVALID_OPTION:headLrScale'],
    ['fractional warm-up', { warmup: 1.5 }, 'INVALID_OPTION:warmup'],
    ['unknown key', { betta: 0.1 }, 'INVALID_OPTION:betta'],
    ['unknown clustering key', { clustering: { convergence_iter: 5 } }, 'INVALID_OPTION:clustering.convergence_iter'],
    ['clustering damping 1', { clustering: { damping: 1 } }, 'INVALID_OPTION:clustering.damping'],
    ['inner not a rule', { inner: { name: 'x' } }, 'INVALID_OPTION:inner'],
    ['groupNorm with an inner rule', { groupNorm: true, inner: { name: 'ew', initialState: () => null, weigh: () => ({ weights: [], state: null }) } }, 'INVALID_OPTION:groupNorm'],
  ])('%s', (_label, options, expected) => {
    expect(codeOf(() => selectiveGroupUpdate(options as SelectiveGroupUpdateOptions))).toBe(expected);
  });

  it('unknown task names and left-out tasks in fixed groups are reported at the first step', () => {
    const tasks = [regressionTask('a'), regressionTask('b')];
    const data = oneExample({ a: 1, b: 1 });
    const attempt = (groups: SelectiveGroupUpdateOptions['groups']) => {
      const model = scalarModel(['a', 'b']);
      const before = Array.from(ParamSnapshot.capture(model.parameters).flatten());
      const trainer = new Trainer({ model, tasks, optimizer: sgd(0.1), rule: selectiveGroupUpdate({ groups }), batchSize: 1 });
      const code = codeOf(() => trainer.runSteps(data, 1));
      const after = Array.from(ParamSnapshot.capture(model.parameters).flatten());
      trainer.dispose();
      model.dispose();
      return { code, unchanged: before.every((v, i) => v === after[i]) };
    };
    expect(attempt([['a'], ['c']])).toEqual({ code: 'UNKNOWN_TASK:groups', unchanged: true });
    expect(attempt([['a']])).toEqual({ code: 'INVALID_OPTION:groups', unchanged: true });
  });

  it('setState rejects a malformed state', () => {
    const rule = selectiveGroupUpdate();
    expect(codeOf(() => rule.setState({ version: 1, tasks: ['a'], iteration: 0, affinity: [[0, 1]], groups: [['a']], inner: {} }))).toBe('CHECKPOINT:');
    expect(codeOf(() => rule.setState(null))).toBe('CHECKPOINT:');
  });
});
