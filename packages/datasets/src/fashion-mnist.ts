import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename, join } from 'node:path';
import { MtlError } from '@mtl/core';
import { checkImagePool, type ImagePool } from './image-pool.js';
import { readIdxFile } from './idx-file.js';

/** Folders searched for Fashion-MNIST when no `dir` is given: `$MTL_FASHION_MNIST_DIR`, then where Debian's `dataset-fashion-mnist` installs. */
export const FASHION_MNIST_SEARCH_DIRS: readonly string[] = ['/usr/share/datasets/fashion-mnist', '/usr/local/share/datasets/fashion-mnist'];

const FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

/** Fashion-MNIST's IDX files were not found; `searched` lists the folders looked in. */
export class DatasetFilesMissingError extends MtlError {
  constructor(
    readonly dataset: string,
    readonly searched: readonly string[],
    howToGet: string,
  ) {
    super('EMPTY_DATA', `${dataset} files not found in ${searched.join(', ')}. ${howToGet}`, { dataset, searched });
  }
}

/** The paths of the four Fashion-MNIST IDX files in a folder (plain or `.gz`), or `undefined` if any is missing. */
export function fashionMnistFiles(dir: string): Record<keyof typeof FILES, string> | undefined {
  const out: Partial<Record<keyof typeof FILES, string>> = {};
  for (const [key, base] of Object.entries(FILES) as [keyof typeof FILES, string][]) {
    const found = [join(dir, base), join(dir, `${base}.gz`)].find((p) => existsSync(p));
    if (!found) return undefined;
    out[key] = found;
  }
  return out as Record<keyof typeof FILES, string>;
}

/**
 * Finds the Fashion-MNIST folder: `dir` if given, else `$MTL_FASHION_MNIST_DIR`, else the Debian
 * package's `/usr/share/datasets/fashion-mnist`. Throws {@link DatasetFilesMissingError} saying how
 * to get the files.
 */
export function findFashionMnistDir(dir?: string): string {
  const candidates = dir !== undefined ? [dir] : [...(process.env.MTL_FASHION_MNIST_DIR ? [process.env.MTL_FASHION_MNIST_DIR] : []), ...FASHION_MNIST_SEARCH_DIRS];
  const found = candidates.find((c) => fashionMnistFiles(c) !== undefined);
  if (found === undefined) {
    throw new DatasetFilesMissingError(
      'Fashion-MNIST',
      candidates,
      'Install them with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu; files go to /usr/share/datasets/fashion-mnist), or put train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (optionally .gz) in a folder and pass it as `dir` or set MTL_FASHION_MNIST_DIR.',
    );
  }
  return found;
}

/** Bytes hashed at each end of a file by {@link fileFingerprint}. */
const FINGERPRINT_EDGE = 64 * 1024;

/**
 * A cheap fingerprint of a file's contents for cache keys: its size and a SHA-256 of its first and
 * last 64 KiB (the whole file when smaller). For gzip files the last bytes hold the CRC-32 and
 * length of the uncompressed data, so any change of the contents changes the fingerprint; for a
 * plain file larger than 128 KiB, a same-size change confined to the middle goes unseen.
 */
export function fileFingerprint(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (cause) {
    throw new MtlError('EMPTY_DATA', `cannot read ${path}`, { path }, { cause });
  }
  try {
    const size = fstatSync(fd).size;
    const hash = createHash('sha256');
    const read = (position: number, length: number) => {
      const chunk = Buffer.alloc(length);
      const got = readSync(fd, chunk, 0, length, position);
      hash.update(chunk.subarray(0, got));
    };
    if (size <= 2 * FINGERPRINT_EDGE) read(0, size);
    else {
      read(0, FINGERPRINT_EDGE);
      read(size - FINGERPRINT_EDGE, FINGERPRINT_EDGE);
    }
    return `${size}:${hash.digest('hex').slice(0, 32)}`;
  } finally {
    closeSync(fd);
  }
}

/**
 * The identity of the Fashion-MNIST files for cache keys: each file's name (with or without `.gz`)
 * and {@link fileFingerprint}. The folder is not part of it, so moved files still hit the cache
 * and changed files miss it.
 */
export function fashionMnistSourceId(dir?: string): string {
  const files = fashionMnistFiles(findFashionMnistDir(dir))!;
  return Object.values(files)
    .map((f) => `${basename(f)}:${fileFingerprint(f)}`)
    .join('|');
}

/** Fashion-MNIST's train (60 000) and test (10 000) images as byte pools, from IDX files. */
export function loadFashionMnist(dir?: string): { train: ImagePool; test: ImagePool } {
  const files = fashionMnistFiles(findFashionMnistDir(dir))!;
  return {
    train: idxPool('fashion-mnist train', files.trainImages, files.trainLabels),
    test: idxPool('fashion-mnist test', files.testImages, files.testLabels),
  };
}

let lastPools: { readonly sourceId: string; readonly pools: WeakRef<{ train: ImagePool; test: ImagePool }> } | undefined;

/**
 * {@link loadFashionMnist} for the dataset builders, which never modify the pools: the last pools
 * loaded are reused while something still holds them (a weak reference, so the ~55 MB are freed
 * with the garbage) and their files' fingerprint is unchanged.
 */
export function sharedFashionPools(dir: string | undefined, sourceId: string): { train: ImagePool; test: ImagePool } {
  const reused = lastPools?.sourceId === sourceId ? lastPools.pools.deref() : undefined;
  if (reused) return reused;
  const pools = loadFashionMnist(dir);
  lastPools = { sourceId, pools: new WeakRef(pools) };
  return pools;
}

/** An image pool from an IDX image file ([n, h, w] uint8) and label file ([n] uint8). */
export function idxPool(name: string, imagesPath: string, labelsPath: string, classes = 10): ImagePool {
  const images = readIdxFile(imagesPath);
  const labels = readIdxFile(labelsPath);
  if (images.dataType !== 'uint8' || images.shape.length !== 3) {
    throw new MtlError('SHAPE_MISMATCH', `${imagesPath} must hold uint8 images of shape [n, h, w], it holds ${images.dataType} [${images.shape.join(', ')}]`, { path: imagesPath });
  }
  if (labels.dataType !== 'uint8' || labels.shape.length !== 1) {
    throw new MtlError('SHAPE_MISMATCH', `${labelsPath} must hold uint8 labels of shape [n], it holds ${labels.dataType} [${labels.shape.join(', ')}]`, { path: labelsPath });
  }
  return checkImagePool({
    name,
    images: images.data as Uint8Array,
    labels: labels.data as Uint8Array,
    count: images.shape[0]!,
    height: images.shape[1]!,
    width: images.shape[2]!,
    classes,
  });
}
