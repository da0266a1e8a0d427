import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DatasetFilesMissingError, loadMnistDigits, encodeIdx, findFashionMnistDir, loadFashionMnist, multiFashion, multiFashionMnist, parseIdx, readIdxFile } from '../src/index.js';
import { fileFingerprint } from '../src/fashion-mnist.js';
import { errorCode, fingerprint } from './helpers.js';

describe('IDX reader', () => {
  it('decodes a hand-written uint8 file', () => {
    // Magic 0x00000803: uint8, 3 dims; shape 2×2×2; then the 8 values.
    const bytes = Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 255]);
    const idx = parseIdx(bytes);
    expect(idx.dataType).toBe('uint8');
    expect(idx.shape).toEqual([2, 2, 2]);
    expect(Array.from(idx.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 255]);
  });

  it('reads big-endian int32 and float32 values', () => {
    // int32 −2 = ff ff ff fe; float32 1.5 = 3f c0 00 00.
    expect(Array.from(parseIdx(Uint8Array.from([0, 0, 0x0c, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe])).data)).toEqual([-2]);
    expect(Array.from(parseIdx(Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0x3f, 0xc0, 0, 0])).data)).toEqual([1.5]);
  });

  it('round-trips every type through encodeIdx, also gzip-compressed from disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtl-idx-'));
    const cases = [
      { dataType: 'int8', shape: [3], data: Int8Array.from([-128, 0, 127]) },
      { dataType: 'int16', shape: [2, 1], data: Int16Array.from([-300, 300]) },
      { dataType: 'float64', shape: [2], data: Float64Array.from([Math.PI, -1e-300]) },
    ] as const;
    for (const c of cases) {
      const encoded = encodeIdx(c);
      const file = join(dir, `${c.dataType}.idx.gz`);
      writeFileSync(file, gzipSync(encoded));
      const back = readIdxFile(file);
      expect(back.dataType).toBe(c.dataType);
      expect(back.shape).toEqual(c.shape);
      expect(Array.from(back.data)).toEqual(Array.from(c.data));
    }
  });

  it('bad files are typed errors naming the file', () => {
    expect(errorCode(() => parseIdx(Uint8Array.from([1, 0, 8, 1]), 'x.idx'))).toBe('INVALID_DATA');
    expect(errorCode(() => parseIdx(Uint8Array.from([0, 0, 0x42, 1, 0, 0, 0, 1, 0])))).toBe('INVALID_DATA');
    expect(() => parseIdx(Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 3, 1, 2]), 'short.idx')).toThrow(/short\.idx has 10 bytes.*\[3\] has 11/);
    expect(errorCode(() => readIdxFile('/nonexistent/file.idx'))).toBe('EMPTY_DATA');
    expect(errorCode(() => encodeIdx({ dataType: 'uint8', shape: [3], data: Uint8Array.from([1]) }))).toBe('SHAPE_MISMATCH');
  });
});

/** A fake Fashion-MNIST folder: `side`×`side` images whose pixels all equal 10·label + 1, labels i mod 10. */
function fakeFashionDir(trainCount: number, testCount: number, side = 8): string {
  const dir = mkdtempSync(join(tmpdir(), 'mtl-fashion-'));
  const write = (prefix: string, n: number, gz: boolean) => {
    const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
    const images = new Uint8Array(n * side * side);
    labels.forEach((l, i) => images.fill(10 * l + 1, i * side * side, (i + 1) * side * side));
    const img = encodeIdx({ dataType: 'uint8', shape: [n, side, side], data: images });
    const lab = encodeIdx({ dataType: 'uint8', shape: [n], data: labels });
    writeFileSync(join(dir, `${prefix}-images-idx3-ubyte${gz ? '.gz' : ''}`), gz ? gzipSync(img) : img);
    writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte${gz ? '.gz' : ''}`), gz ? gzipSync(lab) : lab);
  };
  write('train', trainCount, true);
  write('t10k', testCount, false);
  return dir;
}

describe('Fashion-MNIST from IDX files', () => {
  it('says how to get the files when they are absent', () => {
    let error: unknown;
    try {
      findFashionMnistDir('/nonexistent/fashion');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DatasetFilesMissingError);
    expect((error as DatasetFilesMissingError).code).toBe('EMPTY_DATA');
    expect((error as DatasetFilesMissingError).searched).toEqual(['/nonexistent/fashion']);
    expect((error as Error).message).toMatch(/apt-get install dataset-fashion-mnist/);
  });

  it('loads train and test pools from plain and gzipped files', () => {
    const dir = fakeFashionDir(30, 10);
    const { train, test } = loadFashionMnist(dir);
    expect(train.count).toBe(30);
    expect(test.count).toBe(10);
    expect(train.labels[13]).toBe(3);
    expect(train.images[13 * 64 + 5]).toBe(31);
  });

  it('builds MultiFashion with labels that match the overlaid items', () => {
    const dir = fakeFashionDir(60, 20);
    const set = multiFashion({ dir, sizes: { train: 20, validation: 5, test: 5 }, shift: 0, outputSize: 8, cache: false });
    expect(set.train.inputShape).toEqual([8, 8, 1]);
    const batch = set.test.gather([0, 1, 2, 3, 4]);
    for (let i = 0; i < 5; i++) {
      // shift 0 and no resize: each pixel is max of the two constant images.
      const expected = Math.max(10 * batch.targets.left![i]! + 1, 10 * batch.targets.right![i]! + 1);
      expect(Math.round(batch.x[i * 64]! * 255)).toBe(expected);
    }
    // Train/validation use disjoint items of the train file; test items come from the t10k file.
    const trainItems = new Set([...set.train.leftSource, ...set.train.rightSource]);
    expect([...set.validation.leftSource, ...set.validation.rightSource].some((j) => trainItems.has(j))).toBe(false);
    expect(Math.max(...set.test.leftSource, ...set.test.rightSource)).toBeLessThan(20);
  });

  it('builds MultiFashion+MNIST: digits left, fashion items right', () => {
    const small = fakeFashionDir(60, 20);
    // 8×8 items cannot be paired with 28×28 digits.
    expect(errorCode(() => multiFashionMnist({ dir: small, sizes: { train: 4, validation: 2, test: 2 }, cache: false }))).toBe('INVALID_OPTION');
    const dir = fakeFashionDir(60, 20, 28);
    const set = multiFashionMnist({ dir, sizes: { train: 10, validation: 4, test: 4 }, cache: false });
    const digits = loadMnistDigits();
    const { train } = loadFashionMnist(dir);
    for (let i = 0; i < 10; i++) {
      expect(set.train.targets.left![i]).toBe(digits.labels[set.train.leftSource[i]!]);
      expect(set.train.targets.right![i]).toBe(train.labels[set.train.rightSource[i]!]);
    }
  });

  it('the cache key fingerprints the file contents: changed files miss, moved files hit', () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'mtl-fashion-cache-'));
    const dir = fakeFashionDir(60, 20);
    const options = { dir, sizes: { train: 20, validation: 5, test: 5 }, shift: 0, outputSize: 8, cacheDir };
    const first = multiFashion(options);
    expect(first.fromCache).toBe(false);
    expect(multiFashion(options).fromCache).toBe(true);
    // The same files in another folder: still a hit.
    const moved = mkdtempSync(join(tmpdir(), 'mtl-fashion-moved-'));
    cpSync(dir, moved, { recursive: true });
    const fromMoved = multiFashion({ ...options, dir: moved });
    expect(fromMoved.fromCache).toBe(true);
    expect(fingerprint(fromMoved.train)).toBe(fingerprint(first.train));
    // Same names and sizes, other pixels (t10k images: plain file, every pixel + 100): a miss, rebuilt from the new pixels.
    const testImages = join(dir, 't10k-images-idx3-ubyte');
    const before = readFileSync(testImages);
    const brighter = parseIdx(before);
    writeFileSync(testImages, encodeIdx({ ...brighter, data: Uint8Array.from(brighter.data, (v) => v + 100) }));
    expect(readFileSync(testImages).length).toBe(before.length);
    const changed = multiFashion(options);
    expect(changed.fromCache).toBe(false);
    const batch = changed.test.gather([0, 1, 2]);
    for (let i = 0; i < 3; i++) {
      expect(Math.round(batch.x[i * 64]! * 255)).toBe(Math.max(10 * batch.targets.left![i]!, 10 * batch.targets.right![i]!) + 101);
    }
    expect(fingerprint(changed.train)).toBe(fingerprint(first.train)); // train file untouched
    expect(multiFashion(options).fromCache).toBe(true);
    // Changed labels in the gzipped train file: a miss too.
    const trainLabels = join(dir, 'train-labels-idx1-ubyte.gz');
    const labels = readIdxFile(trainLabels);
    writeFileSync(trainLabels, gzipSync(encodeIdx({ ...labels, data: Uint8Array.from(labels.data, (v) => 9 - v) })));
    const relabelled = multiFashion(options);
    expect(relabelled.fromCache).toBe(false);
    expect(Array.from(relabelled.train.targets.left!)).toEqual(Array.from(first.train.targets.left!, (v) => 9 - v));
    expect(readdirSync(cacheDir)).toHaveLength(3);
  });

  it('fileFingerprint: size and both ends of a file; gzip changes anywhere show up', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtl-fingerprint-'));
    const size = 300 * 1024;
    const bytes = Uint8Array.from({ length: size }, (_, i) => (i * 2654435761) >>> 24);
    const file = join(dir, 'big.idx');
    const print = (data: Uint8Array) => {
      writeFileSync(file, data);
      return fileFingerprint(file);
    };
    const base = print(bytes);
    expect(base).toMatch(new RegExp(`^${size}:[0-9a-f]{32}$`));
    expect(print(bytes)).toBe(base);
    const flip = (at: number) => {
      const copy = bytes.slice();
      copy[at] = copy[at]! ^ 1;
      return copy;
    };
    expect(print(flip(10))).not.toBe(base); // first 64 KiB
    expect(print(flip(size - 10))).not.toBe(base); // last 64 KiB
    expect(print(bytes.subarray(0, size - 1))).not.toBe(base); // size
    // Plain files: a same-size change in the middle is not seen (the documented trade-off)…
    expect(print(flip(size / 2))).toBe(base);
    // …but gzip's trailer (CRC-32 of all the data) makes a middle change visible.
    const gzBase = print(gzipSync(bytes, { level: 0 }));
    expect(readFileSync(file).length).toBeGreaterThan(2 * 64 * 1024);
    expect(print(gzipSync(flip(size / 2), { level: 0 }))).not.toBe(gzBase);
    expect(errorCode(() => fileFingerprint(join(dir, 'absent')))).toBe('EMPTY_DATA');
  });
});
