import { describe, expect, it } from 'vitest';
import { classifyTransfer, deltaI, deltaM, deltaP, relativeChanges, transferGain, type MetricDirections } from '../src/index.js';
import { code } from './helpers.js';

// Segmentation: mIoU ↑, pixAcc ↑; depth: absErr ↓.
const directions: MetricDirections = { seg: { miou: 'higher', pixacc: 'higher' }, depth: { abs: 'lower' } };
const stl = { seg: { miou: 0.5, pixacc: 0.8 }, depth: { abs: 0.4 } };
const mtl = { seg: { miou: 0.55, pixacc: 0.76 }, depth: { abs: 0.3 } };
// Relative changes: miou +0.1, pixacc −0.05, abs +0.25 (lower is better: (0.4−0.3)/0.4).

describe('relative performance against baselines', () => {
  it('signs each change by direction', () => {
    const c = relativeChanges(mtl, stl, directions);
    expect(c.seg!.miou).toBeCloseTo(0.1, 12);
    expect(c.seg!.pixacc).toBeCloseTo(-0.05, 12);
    expect(c.depth!.abs).toBeCloseTo(0.25, 12);
  });

  it('Δm averages over all metrics (Maninis et al.)', () => {
    expect(deltaM(mtl, stl, directions)).toBeCloseTo((100 * (0.1 - 0.05 + 0.25)) / 3, 10);
  });

  it('Δp and Δ_I average within a task first', () => {
    // seg: (0.1 − 0.05)/2 = 0.025; depth: 0.25 → (0.025 + 0.25)/2 = 0.1375 → 13.75 %.
    expect(deltaP(mtl, stl, directions)).toBeCloseTo(13.75, 10);
    expect(deltaI(mtl, stl, directions)).toBeCloseTo(13.75, 10);
    expect(deltaM(mtl, stl, directions, { average: 'tasks' })).toBeCloseTo(13.75, 10);
  });

  it('the baseline against itself is 0, and a worse method is negative', () => {
    expect(deltaM(stl, stl, directions)).toBe(0);
    const worse = { seg: { miou: 0.4, pixacc: 0.8 }, depth: { abs: 0.5 } };
    // miou −0.2, pixacc 0, abs −0.25 → −15 %.
    expect(deltaM(worse, stl, directions)).toBeCloseTo(-15, 10);
  });

  it('divides by |baseline| so negative baselines keep the sign', () => {
    // Higher is better, baseline −2, method −1: better, +50 %.
    expect(deltaM({ t: { m: -1 } }, { t: { m: -2 } }, { t: { m: 'higher' } })).toBeCloseTo(50, 10);
  });

  it('mismatched tables are typed errors naming the task and metric', () => {
    expect(code(() => deltaM({ seg: { miou: 0.5 } }, stl, directions))).toBe('SHAPE_MISMATCH');
    expect(() => deltaM({ seg: { miou: 0.5 } }, stl, directions)).toThrow(/task "seg", metric "pixacc"/);
    expect(() => deltaM({ ...mtl, normal: { angle: 10 } }, stl, directions)).toThrow(/task "normal", metric "angle"/);
    expect(() => deltaM(mtl, stl, { seg: { miou: 'higher', pixacc: 'higher' } })).toThrow(/task "depth", metric "abs"/);
    expect(code(() => deltaM(mtl, { ...stl, depth: { abs: 0 } }, directions))).toBe('INVALID_DATA');
    expect(code(() => deltaM({ ...mtl, depth: { abs: NaN } }, stl, directions))).toBe('INVALID_DATA');
    expect(code(() => deltaM({}, {}, directions))).toBe('EMPTY_DATA');
    expect(code(() => deltaM(mtl, stl, directions, { average: 'median' as 'tasks' }))).toBe('INVALID_OPTION');
  });
});

describe('transfer gain and negative transfer (ForkMerge)', () => {
  it('TG is signed by direction', () => {
    expect(transferGain(0.82, 0.8)).toBeCloseTo(0.02, 12);
    expect(transferGain(0.3, 0.25, { higherIsBetter: false })).toBeCloseTo(-0.05, 12);
  });

  it('classifies none / weak / strong over a λ sweep', () => {
    const stlAcc = 0.8;
    const helps = [
      { lambda: 0, performance: 0.8 },
      { lambda: 0.5, performance: 0.82 },
      { lambda: 1, performance: 0.81 },
    ];
    const weak = [
      { lambda: 0.2, performance: 0.83 },
      { lambda: 1, performance: 0.78 },
    ];
    const strong = [
      { lambda: 0.2, performance: 0.79 },
      { lambda: 1, performance: 0.7 },
    ];
    expect(classifyTransfer(helps, stlAcc).kind).toBe('none');
    const w = classifyTransfer(weak, stlAcc);
    expect(w.kind).toBe('weak');
    expect(w.best.lambda).toBe(0.2);
    expect(w.best.gain).toBeCloseTo(0.03, 12);
    expect(w.gains.map((g) => g.lambda)).toEqual([0.2, 1]);
    const s = classifyTransfer(strong, stlAcc);
    expect(s.kind).toBe('strong');
    expect(s.best.gain).toBeCloseTo(-0.01, 12);
    // Lower-is-better error: the same strong case in error terms.
    expect(classifyTransfer([{ lambda: 1, performance: 0.3 }], 0.2, { higherIsBetter: false }).kind).toBe('strong');
  });

  it('a curve with no λ > 0 or a negative λ is rejected', () => {
    expect(code(() => classifyTransfer([{ lambda: 0, performance: 1 }], 1))).toBe('EMPTY_DATA');
    expect(code(() => classifyTransfer([{ lambda: -1, performance: 1 }], 1))).toBe('INVALID_OPTION');
    expect(code(() => transferGain(NaN, 1))).toBe('INVALID_DATA');
  });
});
