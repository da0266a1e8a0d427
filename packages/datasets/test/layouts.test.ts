import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeIdx, loadMnistDigits, multiMnist, resizeNearest, splitSourceIndices } from '../src/index.js';
import { errorCode } from './helpers.js';

/**
 * Sener & Koltun's `multi_mnist_loader.py`, written out literally for one pair: a 36×36 canvas,
 * left digit at [0:28, 0:28], right digit at [6:34, 6:34] with the maximum where they overlap, then
 * `scipy.misc.imresize(canvas, (out, out), interp='nearest')` (PIL NEAREST: source pixel
 * floor((o + 0.5) · 36 / out)). `out = 36` is Lin et al.'s unresized image.
 */
function referencePair(left: Uint8Array, right: Uint8Array, out: number): number[] {
  const canvas: number[][] = Array.from({ length: 36 }, () => new Array<number>(36).fill(0));
  for (let r = 0; r < 28; r++) for (let c = 0; c < 28; c++) canvas[r]![c] = left[r * 28 + c]!;
  for (let r = 0; r < 28; r++) for (let c = 0; c < 28; c++) canvas[r + 6]![c + 6] = Math.max(canvas[r + 6]![c + 6]!, right[r * 28 + c]!);
  const pixels: number[] = [];
  for (let r = 0; r < out; r++) for (let c = 0; c < out; c++) pixels.push(canvas[Math.floor(((r + 0.5) * 36) / out)]![Math.floor(((c + 0.5) * 36) / out)]!);
  return pixels;
}

const imageBytes = (set: ReturnType<typeof multiMnist>['train'], i: number) => Array.from(set.gather([i]).x, (v) => Math.round(v * 255));
const digit = (pool: ReturnType<typeof loadMnistDigits>, j: number) => pool.images.subarray(j * 784, (j + 1) * 784);

describe('nearest-neighbour resize', () => {
  it('takes the source pixel holding each output centre', () => {
    const image = Float32Array.from({ length: 16 }, (_, i) => i);
    // 4 → 2: centres 0.5·2 = 1 and 1.5·2 = 3.
    expect(Array.from(resizeNearest(image, 4, 2))).toEqual([5, 7, 13, 15]);
    // 3 → 2: floor(0.75) = 0, floor(2.25) = 2.
    expect(Array.from(resizeNearest(Float32Array.from({ length: 9 }, (_, i) => i), 3, 2))).toEqual([0, 2, 6, 8]);
    expect(Array.from(resizeNearest(image, 4, 4))).toEqual(Array.from(image));
  });
});

describe('MultiMNIST layouts', () => {
  const digits = loadMnistDigits();

  it('sener-koltun (the default): 28×28, right digit at [6:34] of 36×36, max on overlap, nearest resize, each source once as the left digit', () => {
    const set = multiMnist({ cache: false });
    expect(set.train.inputShape).toEqual([28, 28, 1]);
    const split = splitSourceIndices(digits.count, { train: 0.7, validation: 0.15, test: 0.15 }, 0);
    // Default size: every source digit of the split, each exactly once on the left.
    expect(set.train.size).toBe(split.train.length);
    expect(new Set(set.train.leftSource).size).toBe(split.train.length);
    expect([...set.train.leftSource].sort((a, b) => a - b)).toEqual([...split.train].sort((a, b) => a - b));
    for (const i of [0, 1, 17, set.train.size - 1]) {
      expect(imageBytes(set.train, i)).toEqual(referencePair(digit(digits, set.train.leftSource[i]!), digit(digits, set.train.rightSource[i]!), 28));
      expect(set.train.leftSource[i]).not.toBe(set.train.rightSource[i]);
    }
    expect(multiMnist({ layout: 'sener-koltun', cache: false }).train.leftSource).toEqual(set.train.leftSource);
  });

  it('sener-koltun refuses more examples than source digits (each is used once)', () => {
    expect(errorCode(() => multiMnist({ sizes: { train: 9000 }, cache: false }))).toBe('INVALID_OPTION');
    expect(multiMnist({ sizes: { train: 100, validation: 20, test: 20 }, cache: false }).train.size).toBe(100);
  });

  it('pareto-mtl: the 36×36 canvas kept unresized, pairs drawn at random', () => {
    const set = multiMnist({ layout: 'pareto-mtl', sizes: { train: 300, validation: 20, test: 20 }, cache: false });
    expect(set.train.inputShape).toEqual([36, 36, 1]);
    for (const i of [0, 5, 299]) {
      expect(imageBytes(set.train, i)).toEqual(referencePair(digit(digits, set.train.leftSource[i]!), digit(digits, set.train.rightSource[i]!), 36));
    }
    expect(errorCode(() => multiMnist({ layout: 'nope' as 'pareto-mtl', cache: false }))).toBe('INVALID_OPTION');
  });

  it('reads full MNIST IDX files from mnistDir: train file → train + validation, test file → test', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtl-mnist-idx-'));
    const make = (count: number, offset: number) => {
      const images = new Uint8Array(count * 784);
      for (let n = 0; n < count; n++) images.fill((n * 7 + offset) % 256, n * 784 + 100, n * 784 + 600);
      return { images, labels: Uint8Array.from({ length: count }, (_, n) => (n + offset) % 10) };
    };
    const train = make(60, 0);
    const test = make(20, 3);
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), encodeIdx({ dataType: 'uint8', shape: [60, 28, 28], data: train.images }));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdx({ dataType: 'uint8', shape: [60], data: train.labels }));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), encodeIdx({ dataType: 'uint8', shape: [20, 28, 28], data: test.images }));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), encodeIdx({ dataType: 'uint8', shape: [20], data: test.labels }));
    const set = multiMnist({ mnistDir: dir, validationFraction: 1 / 3, cache: false });
    // Sener & Koltun layout: each source once; 60 training digits → 40 train + 20 validation.
    expect([set.train.size, set.validation.size, set.test.size]).toEqual([40, 20, 20]);
    const trainUsed = new Set(set.train.leftSource);
    expect([...set.validation.leftSource].some((j) => trainUsed.has(j))).toBe(false);
    for (let i = 0; i < set.test.size; i++) {
      expect(set.test.targets.left![i]).toBe(test.labels[set.test.leftSource[i]!]);
      expect(imageBytes(set.test, i)).toEqual(referencePair(test.images.subarray(set.test.leftSource[i]! * 784, (set.test.leftSource[i]! + 1) * 784), test.images.subarray(set.test.rightSource[i]! * 784, (set.test.rightSource[i]! + 1) * 784), 28));
    }
    expect(errorCode(() => multiMnist({ mnistDir: join(dir, 'missing'), cache: false }))).toBe('EMPTY_DATA');
  });
});
