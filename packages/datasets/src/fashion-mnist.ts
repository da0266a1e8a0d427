import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
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

/** A short, cheap identity of the files in a folder (paths and sizes) for cache keys. */
export function fashionMnistSourceId(dir?: string): string {
  const files = fashionMnistFiles(findFashionMnistDir(dir))!;
  return Object.values(files)
    .map((f) => `${f}:${statSync(f).size}`)
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
