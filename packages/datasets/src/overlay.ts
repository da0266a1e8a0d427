import { invalidOption, requireNonNegativeInteger, requirePositiveInteger } from '@mtl/core/internal';

/** How two source images are placed on one canvas. */
export interface OverlayOptions {
  /**
   * Offset in pixels of the second (bottom-right) image; the first sits at the top-left corner of a
   * canvas of `side + shift` pixels. Default 8 (a 36×36 canvas for 28×28 digits, as Lin et al. 2019).
   */
  readonly shift?: number;
  /** Side of the output image after resizing the canvas. Default 28. */
  readonly outputSize?: number;
  /**
   * Side of the square canvas before resizing. Default `side + shift` (the right image flush with
   * the bottom-right corner). Sener & Koltun use a 36×36 canvas with the right digit at [6:34].
   */
  readonly canvas?: number;
  /** How the canvas is resized to `outputSize`: `'bilinear'` (default) or `'nearest'` (Sener & Koltun). */
  readonly resize?: 'bilinear' | 'nearest';
}

/**
 * Overlays two square byte images — `left` at the top-left, `right` shifted down-right by `shift` —
 * taking the per-pixel maximum, then resizes the canvas to `outputSize` (bilinear, half-pixel centres).
 */
export function overlayPair(left: Uint8Array, right: Uint8Array, side: number, options: OverlayOptions = {}, out?: Uint8Array): Uint8Array {
  const shift = requireNonNegativeInteger('shift', options.shift ?? 8);
  const outputSize = requirePositiveInteger('outputSize', options.outputSize ?? 28);
  if (left.length !== side * side || right.length !== side * side) invalidOption('images', left.length, `${side}×${side} images`);
  const canvasSide = requirePositiveInteger('canvas', options.canvas ?? side + shift);
  if (canvasSide < side + shift) invalidOption('canvas', canvasSide, `a canvas of at least side + shift = ${side + shift} pixels`);
  const resize = options.resize ?? 'bilinear';
  if (resize !== 'bilinear' && resize !== 'nearest') invalidOption('resize', resize, '"bilinear" or "nearest"');
  const canvas = new Float32Array(canvasSide * canvasSide);
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) canvas[r * canvasSide + c] = left[r * side + c]!;
  }
  // Second pass, so the left image never overwrites the right one where they overlap.
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) {
      const k = (r + shift) * canvasSide + c + shift;
      canvas[k] = Math.max(canvas[k]!, right[r * side + c]!);
    }
  }
  const resized = resize === 'nearest' ? resizeNearest(canvas, canvasSide, outputSize) : resizeBilinear(canvas, canvasSide, outputSize);
  const result = out ?? new Uint8Array(outputSize * outputSize);
  for (let i = 0; i < resized.length; i++) result[i] = Math.round(resized[i]!);
  return result;
}

/**
 * Nearest-neighbour resize of a square single-channel image: output pixel o takes source pixel
 * ⌊(o + ½) · side / outputSide⌋, the pixel whose area holds the output pixel's centre (PIL's
 * NEAREST, which `scipy.misc.imresize(..., interp='nearest')` in Sener & Koltun's loader calls).
 */
export function resizeNearest(image: Float32Array, side: number, outputSide: number): Float32Array {
  const out = new Float32Array(outputSide * outputSide);
  const source = (o: number) => Math.min(side - 1, Math.floor(((o + 0.5) * side) / outputSide));
  for (let r = 0; r < outputSide; r++) {
    const sr = source(r);
    for (let c = 0; c < outputSide; c++) out[r * outputSide + c] = image[sr * side + source(c)]!;
  }
  return out;
}

/** Bilinear resize of a square single-channel image (half-pixel centres, edges clamped). */
export function resizeBilinear(image: Float32Array, side: number, outputSide: number): Float32Array {
  const out = new Float32Array(outputSide * outputSide);
  const scale = side / outputSide;
  const coordinate = (o: number): [number, number, number] => {
    const s = Math.min(side - 1, Math.max(0, (o + 0.5) * scale - 0.5));
    const i0 = Math.floor(s);
    const i1 = Math.min(side - 1, i0 + 1);
    return [i0, i1, s - i0];
  };
  for (let r = 0; r < outputSide; r++) {
    const [r0, r1, fr] = coordinate(r);
    for (let c = 0; c < outputSide; c++) {
      const [c0, c1, fc] = coordinate(c);
      const top = image[r0 * side + c0]! * (1 - fc) + image[r0 * side + c1]! * fc;
      const bottom = image[r1 * side + c0]! * (1 - fc) + image[r1 * side + c1]! * fc;
      out[r * outputSide + c] = top * (1 - fr) + bottom * fr;
    }
  }
  return out;
}
