import { classificationTask, regressionTask } from '@mtl/core';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config.js';
import type { JobResult } from '../src/job.js';
import { assembleResults, std, withoutTimings } from '../src/results.js';

const ok = (method: string, seed: number, test: Record<string, Record<string, number>>): JobResult => ({ id: `${method}-${seed}`, method, seed, status: 'ok', wallMs: 100 + seed, test, params: 10, history: [] });

describe('results.json', () => {
  const tasks = [classificationTask('left', { classes: 10 }), regressionTask('depth')];
  const config = resolveConfig({}, { methods: ['STL', 'EW', 'PCGrad'], seeds: [0, 1], out: '/tmp/x' });

  it('Δm of every seed against the STL mean (higher-better accuracy, lower-better mse and mae averaged within the task first)', () => {
    const results = assembleResults(
      config,
      [
        ok('STL', 0, { left: { loss: 1, accuracy: 0.7 }, depth: { loss: 1, mse: 2, mae: 1 } }),
        ok('STL', 1, { left: { loss: 1, accuracy: 0.9 }, depth: { loss: 1, mse: 2, mae: 1 } }),
        ok('EW', 0, { left: { loss: 1, accuracy: 0.88 }, depth: { loss: 1, mse: 2.2, mae: 0.9 } }),
        ok('EW', 1, { left: { loss: 1, accuracy: 0.8 }, depth: { loss: 1, mse: 2, mae: 1 } }),
        ok('PCGrad', 1, { left: { loss: 1, accuracy: 0.8 }, depth: { loss: 1, mse: 2, mae: 1 } }),
        { id: 'p0', method: 'PCGrad', seed: 0, status: 'failed', error: 'diverged: test left/accuracy is NaN', wallMs: 5 },
      ],
      tasks,
      ['left', 'depth'],
    );
    expect(results.baseline).toBe('STL');
    expect(results.targets).toEqual({ left: { accuracy: 'higher' }, depth: { mse: 'lower', mae: 'lower' } });
    // STL mean: accuracy 0.8, mse 2, mae 1. EW seed 0: left +0.1; depth (−0.1 + 0.1) / 2 = 0 → Δm = (0.1 + 0) / 2 = 5%.
    expect(results.methods.EW!.seeds[0]!.deltaM).toBeCloseTo(5, 10);
    expect(results.methods.EW!.seeds[1]!.deltaM).toBeCloseTo(0, 10);
    expect(results.methods.STL!.seeds.map((s) => s.deltaM)).toEqual([expect.closeTo(-6.25, 10), expect.closeTo(6.25, 10)]);
    // A failed seed marks the method failed with its reason; the seeds that ran are kept.
    expect(results.methods.PCGrad).toMatchObject({ status: 'failed', error: 'seed 0: diverged: test left/accuracy is NaN' });
    expect(results.methods.PCGrad!.seeds.map((s) => s.seed)).toEqual([1]);
    expect(results.methods.EW!.status).toBe('ok');
    expect(withoutTimings(results)).not.toHaveProperty('methods.EW.seeds.0.wallMs');
  });

  it('no STL, no Δm; a method whose jobs never ran is failed', () => {
    const results = assembleResults(config, [ok('EW', 0, { left: { loss: 1, accuracy: 0.8 }, depth: { loss: 1, mse: 2, mae: 1 } })], tasks, ['left', 'depth']);
    expect(results.baseline).toBeNull();
    expect(results.methods.EW!.seeds[0]!.deltaM).toBeNull();
    expect(results.methods.EW).toMatchObject({ status: 'failed', error: '1 job(s) did not run' });
    expect(results.methods.STL).toMatchObject({ status: 'failed', error: '2 job(s) did not run', seeds: [] });
  });

  it('standard deviation over seeds is the sample one', () => {
    expect(std([1, 3])).toBeCloseTo(Math.SQRT2, 12);
    expect(std([5])).toBe(0);
  });
});
