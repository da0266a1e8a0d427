import { describe, expect, it } from 'vitest';
import { createAggregator, createWeighting, listMethods } from '../src/index.js';
import { PASS_COUNTS, describePasses, passCount, type StepPasses } from '../src/pass-counts.js';

const zero: StepPasses = { forwards: 0, summedBackwards: 0, taskBackwards: 0, headBackwards: 0, trunkBackwards: 0 };

/**
 * The passes a method's declared structure implies, read from the method object rather than from
 * the table: a loss weighting needs one forward and one weighted backward (FAMO's `afterStep` one
 * forward more, on the updated parameters); an aggregator with `samples` needs the per-task Jacobian
 * on that many batches; one in representation space T head backwards and one trunk backward; any
 * other aggregator one forward and T task backwards.
 */
function fromStructure(name: string, kind: 'weighting' | 'aggregator', T: number): StepPasses {
  if (kind === 'weighting') {
    // scalarize has no defaults: it needs its fixed weights.
    const w = createWeighting(name, name === 'scalarize' ? { weights: new Array<number>(T).fill(1) } : {});
    return { ...zero, forwards: w.afterStep ? 2 : 1, summedBackwards: 1 };
  }
  const a = createAggregator(name);
  if (a.samples) return { ...zero, forwards: a.samples, taskBackwards: a.samples * T };
  if (a.space === 'representation') return { ...zero, forwards: 1, headBackwards: T, trunkBackwards: 1 };
  return { ...zero, forwards: 1, taskBackwards: T };
}

describe('pass counts per method (the weighting bench prices them)', () => {
  it('every registered method has an entry with a reason, and every entry is a registered method', () => {
    const names = listMethods().map((m) => m.name);
    const missing = names.filter((n) => !Object.hasOwn(PASS_COUNTS, n));
    expect(missing).toEqual([]);
    const stale = Object.keys(PASS_COUNTS).filter((n) => !names.includes(n));
    expect(stale).toEqual([]);
    for (const n of names) expect(PASS_COUNTS[n]!.why.length).toBeGreaterThan(20);
  });

  it("each entry agrees with the method's declared structure (weighting, lookahead, sampled batches, space) for T = 2..5", () => {
    for (const { name, kind } of listMethods()) {
      for (const T of [2, 3, 5]) expect({ name, T, ...passCount(name, T) }).toEqual({ name, T, ...fromStructure(name, kind, T) });
    }
  });

  it('hand counts at T = 3', () => {
    expect(passCount('ew', 3)).toEqual({ ...zero, forwards: 1, summedBackwards: 1 });
    expect(passCount('famo', 3)).toEqual({ ...zero, forwards: 2, summedBackwards: 1 });
    expect(passCount('pcgrad', 3)).toEqual({ ...zero, forwards: 1, taskBackwards: 3 });
    expect(passCount('mgda-ub', 3)).toEqual({ ...zero, forwards: 1, headBackwards: 3, trunkBackwards: 1 });
    expect(passCount('modo', 3)).toEqual({ ...zero, forwards: 3, taskBackwards: 9 });
    expect(describePasses(passCount('mgda-ub', 3))).toBe('1F + 3Bh + 1Bz');
    expect(describePasses(passCount('sdmgrad', 2))).toBe('3F + 6Bt');
  });

  it('an unknown method or a bad task count is an INVALID_OPTION naming it', () => {
    const error = (fn: () => unknown): unknown => {
      try {
        fn();
      } catch (e) {
        return e;
      }
      return undefined;
    };
    expect(error(() => passCount('no-such-method', 2))).toMatchObject({ code: 'INVALID_OPTION', details: { option: 'method', value: 'no-such-method' } });
    expect(error(() => passCount('toString', 2))).toMatchObject({ code: 'INVALID_OPTION', details: { option: 'method' } });
    expect(error(() => passCount('ew', 0))).toMatchObject({ code: 'INVALID_OPTION', details: { option: 'numTasks', value: 0 } });
  });
});
