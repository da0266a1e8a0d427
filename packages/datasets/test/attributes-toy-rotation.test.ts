import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inMemoryDataset, validateDataset } from '@mtl/core';
import { MNIST_ATTRIBUTE_GROUPS, TOY_START_POINTS, mnistAttributes, rotateInto, toyTwoObjective, withRotationTask } from '../src/index.js';
import { errorCode, fingerprint } from './helpers.js';

describe('MNIST attributes', () => {
  const set = mnistAttributes({ sizes: { train: 200, validation: 20, test: 20 }, seed: 2, cache: false });

  it('identity tasks are functions of the digit', () => {
    const t = set.train.targets;
    for (let i = 0; i < 200; i++) {
      const d = t.digit![i]!;
      expect(t.odd![i]).toBe(d % 2);
      expect(t.greaterThan4![i]).toBe(d > 4 ? 1 : 0);
      expect(t.prime![i]).toBe([2, 3, 5, 7].includes(d) ? 1 : 0);
      expect(t.hasLoop![i]).toBe([0, 6, 8, 9].includes(d) ? 1 : 0);
      expect(t.mod3![i]).toBe(d % 3);
    }
  });

  it('position tasks match where the digit was drawn', () => {
    // 32×32 canvas, offsets 0..4: "right" means offset ≥ 3, so columns 0–2 are blank.
    const batch = set.train.gather(Array.from({ length: 200 }, (_, i) => i));
    let checked = 0;
    for (let i = 0; i < 200; i++) {
      if (batch.targets.shiftedRight![i] !== 1) continue;
      for (let r = 0; r < 32; r++) for (let c = 0; c < 3; c++) expect(batch.x[i * 1024 + r * 32 + c]).toBe(0);
      checked++;
    }
    expect(checked).toBeGreaterThan(40);
  });

  it('tasks, groups and data agree; seeded', () => {
    expect(set.tasks.map((t) => t.name)).toEqual([...MNIST_ATTRIBUTE_GROUPS.identity, ...MNIST_ATTRIBUTE_GROUPS.position, ...MNIST_ATTRIBUTE_GROUPS.noise]);
    expect(() => validateDataset(set.train, set.tasks, [32, 32, 1])).not.toThrow();
    const coin = Array.from(set.train.targets.coinFlip!).reduce((a, b) => a + b, 0);
    expect(coin).toBeGreaterThan(70);
    expect(coin).toBeLessThan(130);
    const again = mnistAttributes({ sizes: { train: 200, validation: 20, test: 20 }, seed: 2, cache: false });
    expect(fingerprint(again.train)).toBe(fingerprint(set.train));
    const other = mnistAttributes({ sizes: { train: 200, validation: 20, test: 20 }, seed: 3, cache: false });
    expect(fingerprint(other.train)).not.toBe(fingerprint(set.train));
    const noShift = mnistAttributes({ sizes: { train: 10, validation: 5, test: 5 }, maxShift: 0, cache: false });
    expect(noShift.train.inputShape).toEqual([28, 28, 1]);
    expect(noShift.tasks.some((t) => t.name === 'shiftedRight')).toBe(false);
    expect(errorCode(() => mnistAttributes({ sizes: { test: 100000 }, cache: false }))).toBe('INVALID_OPTION');
    expect(errorCode(() => mnistAttributes({ sizes: { train: 0 }, cache: false }))).toBe('INVALID_OPTION');
    expect(errorCode(() => mnistAttributes({ seed: Number.NaN, cache: false }))).toBe('INVALID_OPTION');
  });

  it('a cache hit gives identical data; a damaged cache is rebuilt; other options, other file', () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'mtl-attributes-'));
    const options = { sizes: { train: 200, validation: 20, test: 20 }, seed: 2, cacheDir };
    const first = mnistAttributes(options);
    expect(first.fromCache).toBe(false);
    expect(set.fromCache).toBe(false);
    const files = readdirSync(cacheDir);
    expect(files).toHaveLength(1);
    const second = mnistAttributes(options);
    expect(second.fromCache).toBe(true);
    expect(second.tasks.map((t) => [t.name, t.target, t.outputSize])).toEqual(first.tasks.map((t) => [t.name, t.target, t.outputSize]));
    expect(second.groups).toEqual(first.groups);
    for (const split of ['train', 'validation', 'test'] as const) {
      expect(second[split].inputShape).toEqual([32, 32, 1]);
      expect(fingerprint(second[split])).toBe(fingerprint(first[split]));
      // …and identical to the uncached build.
      expect(fingerprint(second[split])).toBe(fingerprint(set[split]));
    }
    writeFileSync(join(cacheDir, files[0]!), 'garbage');
    const third = mnistAttributes(options);
    expect(third.fromCache).toBe(false);
    expect(fingerprint(third.train)).toBe(fingerprint(first.train));
    expect(mnistAttributes(options).fromCache).toBe(true);
    // Without position tasks the cached arrays differ in number: their own file, read back right.
    const noShift = mnistAttributes({ ...options, maxShift: 0 });
    const noShiftAgain = mnistAttributes({ ...options, maxShift: 0 });
    expect([noShift.fromCache, noShiftAgain.fromCache]).toEqual([false, true]);
    expect(noShiftAgain.train.inputShape).toEqual([28, 28, 1]);
    expect(Object.keys(noShiftAgain.train.targets)).toEqual(Object.keys(noShift.train.targets));
    expect(fingerprint(noShiftAgain.train)).toBe(fingerprint(noShift.train));
    expect(readdirSync(cacheDir)).toHaveLength(2);
    expect(mnistAttributes({ ...options, cache: false }).fromCache).toBe(false);
    expect(readdirSync(cacheDir)).toHaveLength(2);
  });
});

describe('toy two-objective problem', () => {
  it('matches hand-computed values', () => {
    // (−2, −3): lower half, c1 = 0, c2 = tanh(1.5); bowls (81 + 2.5)/10 − 20 = −11.65 and (25 + 2.5)/10 − 20 = −17.25.
    const low = toyTwoObjective([-2, -3]);
    expect(low.losses[0]).toBeCloseTo(-11.65 * Math.tanh(1.5), 10);
    expect(low.losses[1]).toBeCloseTo(-17.25 * Math.tanh(1.5), 10);
    // (1, 2): upper half, c2 = 0; valleys log|−4 + tanh 2| + 6 and log|1 − tanh 2 + 2| + 6, times tanh(1).
    const high = toyTwoObjective([1, 2]);
    expect(high.losses[0]).toBeCloseTo(5.415339, 5);
    expect(high.losses[1]).toBeCloseTo(5.111038, 5);
    expect(toyTwoObjective([1, 2], { scales: [0.1, 1] }).losses[0]).toBeCloseTo(0.5415339, 6);
  });

  it('gradients match central differences', () => {
    const h = 1e-6;
    for (const p of [...TOY_START_POINTS, [1, 2], [-3, 0.7], [2, -1.2]] as [number, number][]) {
      if (p[1] === 0) continue; // the max(·, 0) switches are not differentiable at x2 = 0
      const g = toyTwoObjective(p).gradients;
      for (let k = 0; k < 2; k++) {
        for (let j = 0; j < 2; j++) {
          const plus: [number, number] = [p[0] + (j === 0 ? h : 0), p[1] + (j === 1 ? h : 0)];
          const minus: [number, number] = [p[0] - (j === 0 ? h : 0), p[1] - (j === 1 ? h : 0)];
          const numeric = (toyTwoObjective(plus).losses[k]! - toyTwoObjective(minus).losses[k]!) / (2 * h);
          expect(g[k]![j]).toBeCloseTo(numeric, 4);
        }
      }
    }
  });

  it('the two valleys pull x1 in opposite directions', () => {
    // At (0, 3): a1 = −3.5 + tanh 3 < 0 and a2 = 3.5 − tanh 3 > 0, so ∂L1/∂x1 = −0.5·c1/a1 > 0 > ∂L2/∂x1.
    const g = toyTwoObjective([0, 3]).gradients;
    expect(g[0][0]).toBeCloseTo((-0.5 * Math.tanh(1.5)) / (-3.5 + Math.tanh(3)), 10);
    expect(g[1][0]).toBeCloseTo((-0.5 * Math.tanh(1.5)) / (3.5 - Math.tanh(3)), 10);
    expect(g[0][0]).toBeGreaterThan(0);
    expect(g[1][0]).toBeLessThan(0);
    expect(errorCode(() => toyTwoObjective([NaN, 0]))).toBe('INVALID_DATA');
  });
});

describe('rotation auxiliary task', () => {
  it('rotates counter-clockwise by quarter turns', () => {
    const src = [1, 2, 3, 4]; // [[1, 2], [3, 4]]
    const out = new Float32Array(4);
    rotateInto(src, out, 2, 1, 1);
    expect(Array.from(out)).toEqual([2, 4, 1, 3]);
    rotateInto(src, out, 2, 1, 2);
    expect(Array.from(out)).toEqual([4, 3, 2, 1]);
    rotateInto(src, out, 2, 1, 3);
    expect(Array.from(out)).toEqual([3, 1, 4, 2]);
  });

  const base = inMemoryDataset({ x: [1, 2, 3, 4, 5, 6, 7, 8], inputShape: [2, 2], targets: { label: Int32Array.from([0, 1]) } });

  it('"expand" shows every image in four rotations with its labels kept', () => {
    const rotated = withRotationTask(base);
    expect(rotated.size).toBe(8);
    expect(rotated.targetSizes).toEqual({ label: 1, rotation: 1 });
    const batch = rotated.gather([5, 0]);
    expect(Array.from(batch.x)).toEqual([6, 8, 5, 7, 1, 2, 3, 4]);
    expect(Array.from(batch.targets.rotation!)).toEqual([1, 0]);
    expect(Array.from(batch.targets.label!)).toEqual([1, 0]);
    expect(() => validateDataset(rotated, [rotated.rotationTask], [2, 2])).not.toThrow();
  });

  it('"random" mode is seeded; bad input is typed', () => {
    const big = inMemoryDataset({ x: new Float32Array(64 * 4), inputShape: [2, 2, 1], targets: { y: new Float32Array(64) } });
    const a = withRotationTask(big, { mode: 'random', seed: 1 });
    const all = Array.from({ length: 64 }, (_, i) => i);
    expect(Array.from(a.gather(all).targets.rotation!)).toEqual(Array.from(withRotationTask(big, { mode: 'random', seed: 1 }).gather(all).targets.rotation!));
    expect(Array.from(a.gather(all).targets.rotation!)).not.toEqual(Array.from(withRotationTask(big, { mode: 'random', seed: 2 }).gather(all).targets.rotation!));
    const flat = inMemoryDataset({ x: [1, 2, 3], inputShape: [3], targets: { y: [0] } });
    expect(errorCode(() => withRotationTask(flat))).toBe('SHAPE_MISMATCH');
    expect(errorCode(() => withRotationTask(base, { taskName: 'label' }))).toBe('INVALID_OPTION');
    expect(errorCode(() => withRotationTask(base).gather([8]))).toBe('INVALID_OPTION');
  });
});
