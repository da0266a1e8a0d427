import { describe, expect, it } from 'vitest';
import { cagrad, mgda, scalarize } from '../src/index.js';

function invalid(fn: () => unknown, option: string): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toMatchObject({ code: 'INVALID_OPTION', details: { option } });
}

describe('method options are checked by key (core checkOptions)', () => {
  it('CAGrad: a misspelled key is an error naming it (and hinting the right one); c < 0 too', () => {
    invalid(() => cagrad({ C: -1 } as never), 'C');
    expect(() => cagrad({ C: 0.2 } as never)).toThrow(/unknown option "C" for cagrad\(\) \(did you mean "c"\?\)/);
    invalid(() => cagrad({ c: -1 }), 'c');
    expect(() => cagrad({ c: 0.4, rescale: 2, normalize: 'sum', seed: 3 })).not.toThrow();
  });

  it('MGDA: maxIterations must be a positive integer, tolerance non-negative, keys known', () => {
    invalid(() => mgda({ maxIterations: -5 }), 'maxIterations');
    invalid(() => mgda({ maxIterations: 2.5 }), 'maxIterations');
    invalid(() => mgda({ tolerance: Number.NaN }), 'tolerance');
    invalid(() => mgda({ maxIteration: 10 } as never), 'maxIteration');
    expect(() => mgda({ maxIterations: 50, tolerance: 1e-6, solver: 'exact' })).not.toThrow();
  });

  it('scalarize: weights non-negative with one positive; unknown keys rejected', () => {
    invalid(() => scalarize({ weights: [1, -0.5] }), 'weights[1]');
    invalid(() => scalarize({ weights: [0, 0] }), 'weights');
    invalid(() => scalarize({ weights: [1, 1], normalize: 'sum' } as never), 'normalize');
    expect(() => scalarize({ weights: [0, 2] })).not.toThrow();
  });
});
