import { MtlError } from '@mtl/core';

/** Source images for building datasets: `count` grey images of `height × width` bytes (0–255), one label each. */
export interface ImagePool {
  readonly name: string;
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly classes: number;
}

/** Checks an image pool's sizes and labels; ragged or out-of-range data is a typed error naming the pool. */
export function checkImagePool(pool: ImagePool): ImagePool {
  const perImage = pool.height * pool.width;
  if (pool.count < 1) throw new MtlError('EMPTY_DATA', `image pool "${pool.name}" has no images`, { pool: pool.name });
  if (pool.images.length !== pool.count * perImage) {
    throw new MtlError('SHAPE_MISMATCH', `image pool "${pool.name}" has ${pool.images.length} pixels, ${pool.count} images of ${pool.height}×${pool.width} need ${pool.count * perImage}`, {
      pool: pool.name,
      length: pool.images.length,
      expected: pool.count * perImage,
    });
  }
  if (pool.labels.length !== pool.count) {
    throw new MtlError('SHAPE_MISMATCH', `image pool "${pool.name}" has ${pool.labels.length} labels for ${pool.count} images`, { pool: pool.name });
  }
  const bad = pool.labels.findIndex((l) => l >= pool.classes);
  if (bad >= 0) {
    throw new MtlError('INVALID_DATA', `image pool "${pool.name}": label ${pool.labels[bad]} of image ${bad} is not in [0, ${pool.classes})`, { pool: pool.name, index: bad, value: pool.labels[bad] });
  }
  return pool;
}

/** The pool restricted to some of its images (copied), in the order given. */
export function subsetPool(pool: ImagePool, indices: ArrayLike<number>, name: string): ImagePool {
  const perImage = pool.height * pool.width;
  const images = new Uint8Array(indices.length * perImage);
  const labels = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i]!;
    images.set(pool.images.subarray(j * perImage, (j + 1) * perImage), i * perImage);
    labels[i] = pool.labels[j]!;
  }
  return { ...pool, name, images, labels, count: indices.length };
}
