import { describe, expect, it } from 'vitest';
import './setup.js';
import { aggregatorRule, tf, weightedSum, type GradientAggregator, type UpdateRule } from '../src/index.js';
import { ConformanceError, UNTOUCHED_CHECK, checkAggregatorConformance, checkUpdateRuleConformance } from '../src/testing/index.js';

const mean: GradientAggregator<null> = {
  name: 'mean',
  initialState: () => null,
  aggregate(G, _input, state) {
    const direction = new Float64Array(G.cols);
    for (let r = 0; r < G.rows; r++) for (let c = 0; c < G.cols; c++) direction[c]! += G.data[r * G.cols + c]! / G.rows;
    return { direction, weights: Array(G.rows).fill(1 / G.rows) as number[], state };
  },
};

describe('conformance checks', () => {
  it('pass for the built-in rules', () => {
    const report = checkUpdateRuleConformance(() => weightedSum());
    expect(report.passed).toEqual(expect.arrayContaining(['trains', 'no tensor leaks', 'deterministic', 'respects frozen parameters', UNTOUCHED_CHECK, 'finite on extreme targets']));
    checkUpdateRuleConformance(() => aggregatorRule(mean));
    expect(checkAggregatorConformance(mean).passed.length).toBeGreaterThan(10);
  });

  it('catch a leaking, non-deterministic rule and an impure aggregator', () => {
    let created = 0;
    const flaky = (): UpdateRule => {
      const bias = 1 + 0.1 * created++; // differs between runs with the same seed
      return {
        name: 'flaky',
        step(ctx) {
          tf.keep(tf.scalar(0)); // leaks one tensor a step
          ctx.applyGradients(ctx.weightedLossGradients([1, bias]));
        },
      };
    };
    let error: unknown;
    try {
      checkUpdateRuleConformance(flaky);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConformanceError);
    const failures = (error as ConformanceError).failures.join('\n');
    expect(failures).toMatch(/deterministic/);
    expect(failures).toMatch(/no tensor leaks: 30 tensors left/);

    // Stepping every parameter behind the context's back: under SGD a zero gradient moves no value, but
    // the optimizer's step counts (and, under momentum or Adam, its moments) change. Only the new check sees it.
    const sneaky = (): UpdateRule => ({
      name: 'sneaky',
      step(ctx) {
        ctx.applyGradients(ctx.weightedLossGradients([1, 1]));
        ctx.optimizer.apply(ctx.model.parameters, new Map(ctx.model.parameters.map((p) => [p.key, tf.zerosLike(p.variable)])));
      },
    });
    let sneakyError: unknown;
    try {
      checkUpdateRuleConformance(sneaky);
    } catch (e) {
      sneakyError = e;
    }
    expect(sneakyError).toBeInstanceOf(ConformanceError);
    const sneakyFailures = (sneakyError as ConformanceError).failures;
    expect(sneakyFailures).toHaveLength(1);
    expect(sneakyFailures[0]).toMatch(/^untouched parameters and their optimizer state do not change: optimizer state changed .*trunk\/.*untrained/);

    let n = 0;
    const impure: GradientAggregator<null> = { ...mean, name: 'impure', aggregate: (G, i, s) => ({ ...mean.aggregate(G, i, s), direction: new Float64Array(G.cols).fill(n++) }) };
    expect(() => checkAggregatorConformance(impure)).toThrow(/pure/);
  });
});
