import { describe, expect, it } from 'vitest';
import { isMtlError, type MtlErrorCode } from '@mtl/core';
import { createAggregator, createRule, createWeighting, gradvac, imtl, listMethods, mgda, registerMethod, scalarize, type Aggregator } from '../src/index.js';
import { fromRows } from './helpers.js';

function expectCode(fn: () => unknown, code: MtlErrorCode): void {
  try {
    fn();
  } catch (e) {
    if (!isMtlError(e, code)) throw new Error(`expected MtlError ${code}, got ${String(e)}`);
    return;
  }
  throw new Error(`expected MtlError ${code}, nothing was thrown`);
}

const names = listMethods().map((m) => m.name);
const opts = (name: string): Record<string, unknown> => (name === 'scalarize' ? { weights: [1, 1] } : {});

describe('bad input gives typed errors', () => {
  it.each(names)('%s: ragged rows, NaN, mismatched losses', (name) => {
    const m = createAggregator(name, opts(name));
    // Krum needs T ≥ 3: it gets a third row (and loss) in every case.
    const extra: number[][] = name === 'krum' ? [[5, 6]] : [];
    const l = (...v: number[]) => (name === 'krum' ? [...v, 1] : v);
    expectCode(() => m.aggregate([[1, 2], [3], ...extra], { losses: l(1, 1) }), 'SHAPE_MISMATCH');
    expectCode(() => m.aggregate({ rows: 2 + extra.length, cols: 2, data: new Float64Array(3) }, { losses: l(1, 1) }), 'SHAPE_MISMATCH');
    expectCode(() => m.aggregate([[1, NaN], [3, 4], ...extra], { losses: l(1, 1) }), 'NON_FINITE_GRADIENT');
    expectCode(() => m.aggregate([[1, 2], [3, Infinity], ...extra], { losses: l(1, 1) }), 'NON_FINITE_GRADIENT');
    expectCode(() => m.aggregate([[1, 2], [3, 4], ...extra], { losses: l(1) }), 'SHAPE_MISMATCH');
    expectCode(() => m.aggregate([[1, 2], [3, 4], ...extra], { losses: l(1, NaN) }), 'NON_FINITE_LOSS');
  });

  it('T = 1 where the method is meaningless; a state made for another T', () => {
    expectCode(() => imtl().aggregate([[1, 2]], { losses: [1] }), 'SHAPE_MISMATCH');
    expectCode(() => createAggregator('gradnorm').aggregate([[1, 2]], { losses: [1] }), 'SHAPE_MISMATCH');
    expectCode(() => createAggregator('krum').aggregate([[1, 2], [3, 4]], { losses: [1, 1] }), 'SHAPE_MISMATCH');
    expectCode(() => createAggregator('krum', { nByzantine: 1 }).aggregate([[1], [2], [3]], { losses: [1, 1, 1] }), 'SHAPE_MISMATCH');
    expectCode(() => createAggregator('trimmed-mean', { trimNumber: 1 }).aggregate([[1], [2]], { losses: [1, 1] }), 'SHAPE_MISMATCH');
    expect(Array.from(mgda().aggregate([[1, 2]], { losses: [1] }).direction)).toEqual([1, 2]);
    const gv = gradvac();
    expectCode(() => gv.aggregate(fromRows([[1], [2], [3]]), { losses: [1, 1, 1] }, gv.initialState(2)), 'SHAPE_MISMATCH');
    expectCode(() => scalarize({ weights: [1, 2, 3] }).weigh({ losses: [1, 1] }), 'SHAPE_MISMATCH');
  });

  it('bad options and unknown names', () => {
    expectCode(() => createAggregator('nope'), 'INVALID_OPTION');
    expectCode(() => createWeighting('pcgrad'), 'INVALID_OPTION');
    expectCode(() => createRule('mgda', { normalization: 'max' }), 'INVALID_OPTION');
    expectCode(() => createAggregator('cagrad', { c: -1 }), 'INVALID_OPTION');
    expectCode(() => createAggregator('dwa', { temperature: 0 }), 'INVALID_OPTION');
    expectCode(() => createAggregator('ew', { normalize: 'max' }), 'INVALID_OPTION');
    expectCode(() => scalarize({ weights: [1, NaN] }), 'INVALID_OPTION');
    expectCode(() => registerMethod('pcgrad', { kind: 'aggregator', create: () => createAggregator('ew') }), 'INVALID_OPTION');
  });
});

describe('P-sized states (MoCo, DB-MTL, ExcessMTL)', () => {
  it.each(['moco', 'db-mtl', 'excess-mtl'])('%s: a state made for another number of columns is SHAPE_MISMATCH, not silently reset', (name) => {
    const m = createAggregator(name);
    const state = m.aggregate([[1, 2, 3], [3, 4, 5]], { losses: [1, 1] }).state;
    expectCode(() => m.aggregate([[1, 2], [3, 4]], { losses: [1, 1] }, state), 'SHAPE_MISMATCH');
    expect(() => m.aggregate([[1, 2, 0], [3, 4, 1]], { losses: [1, 1] }, state)).not.toThrow();
  });
});

describe('unknown option keys', () => {
  it.each(names)('%s: an unknown key is INVALID_OPTION naming it', (name) => {
    try {
      createAggregator(name, { ...opts(name), learningrate: 1 });
    } catch (e) {
      expect(isMtlError(e, 'INVALID_OPTION')).toBe(true);
      expect(String(e)).toContain('learningrate');
      return;
    }
    throw new Error(`${name} accepted an unknown option`);
  });
  it('rule options and each part of a composition accept only their own keys', () => {
    expect(createRule('pcgrad', { space: 'parameters', seed: 1 }).name).toBe('pcgrad');
    expect(createRule('uw-pcgrad', { init: 0, epsilon: 1e-8 }).name).toBe('uw-pcgrad');
    expectCode(() => createRule('uw-pcgrad', { beta: 1 }), 'INVALID_OPTION');
  });
});

describe('registry', () => {
  it('lists the built-in methods and lets another package register one', () => {
    expect(names).toEqual(
      expect.arrayContaining([
        ...['ew', 'scalarize', 'dwa', 'rlw', 'uw', 'gradnorm', 'mgda', 'mgda-ub', 'pcgrad', 'gradvac', 'imtl', 'cagrad', 'nash-mtl', 'aligned-mtl', 'upgrad', 'uw-pcgrad'],
        ...['gls', 'geometric-mean', 'stch', 'famo', 'imtl-l', 'imtl-g', 'dualproj', 'config', 'fairgrad', 'excess-mtl', 'db-mtl', 'moco', 'graddrop', 'modo', 'sdmgrad'],
      ]),
    );
    const half: Aggregator<null> = {
      name: 'half-sum',
      nativeScale: 'sum',
      initialState: () => null,
      aggregate: (g, input) => {
        const m = createAggregator('ew').aggregate(g, input);
        return { direction: m.direction.map((v) => v / 2), weights: m.weights.map((w) => w / 2), state: null };
      },
    };
    registerMethod('half-sum', { kind: 'aggregator', create: () => half });
    const r = createAggregator('half-sum').aggregate([[2, 4], [6, 8]], { losses: [1, 1] });
    expect(Array.from(r.direction)).toEqual([4, 6]);
    expect(createRule('half-sum').name).toBe('half-sum');
    expect(createAggregator('mgda-ub').space).toBe('representation');
  });
});
