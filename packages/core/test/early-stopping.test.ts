import { describe, expect, it } from 'vitest';
import './setup.js';
import { EarlyStopping, MtlError, tf, type EpochLog, type Parameter } from '../src/index.js';

const log = (epoch: number, value: number): EpochLog => ({ epoch, steps: 1, trainLoss: {}, validation: { 'a/accuracy': value, loss: -value }, seconds: 1, stepsPerSecond: 1 });

describe('EarlyStopping', () => {
  it('follows the monitored direction, honours minDelta and patience, and restores the best parameters', () => {
    const parameter: Parameter = { key: 'w', variable: tf.variable(tf.scalar(0)) };
    const stopping = new EarlyStopping({ monitor: 'a/accuracy', patience: 1, minDelta: 0.01 }, ['loss', 'a/accuracy'], true);
    const accuracies = [0.5, 0.7, 0.705, 0.69, 0.8];
    const decisions = accuracies.map((acc, epoch) => {
      parameter.variable.assign(tf.scalar(epoch));
      return stopping.update(log(epoch, acc), [parameter]);
    });
    // 0.705 is not better than 0.7 by minDelta: wait 1; 0.69: wait 2 > patience 1 -> stop.
    expect(decisions).toEqual([false, false, false, true, false]);
    expect(stopping.bestEpoch).toBe(4);
    expect(stopping.bestValue).toBe(0.8);
    parameter.variable.assign(tf.scalar(-1));
    stopping.restoreBest([parameter]);
    expect(parameter.variable.dataSync()[0]).toBe(4);

    const lower = new EarlyStopping({ monitor: 'loss', patience: 0, restoreBest: false }, ['loss'], false);
    expect([-0.5, -0.7, -0.6].map((v, e) => lower.update(log(e, -v), [parameter]))).toEqual([false, false, true]);
    expect(lower.bestValue).toBe(-0.7);
    stopping.dispose();
  });

  it('rejects bad options with typed errors', () => {
    expect(() => new EarlyStopping({ monitor: 'nope', patience: 1 }, ['loss'], false)).toThrow(MtlError);
    expect(() => new EarlyStopping({ monitor: 'loss', patience: -1 }, ['loss'], false)).toThrow(/earlyStopping.patience/);
    expect(() => new EarlyStopping({ monitor: 'loss', patience: 1, minDelta: Number.NaN }, ['loss'], false)).toThrow(/earlyStopping.minDelta/);
  });
});
