import { tf } from '@mtl/core';
import type { BlasAddon, ConvGeometryArgs } from '../addon.js';
import { im2colCached, tapeRecording } from './im2col-cache.js';
import { f32, release, type KernelArgs, type WasmKernelFunc } from './wasm-heap.js';

/** The attributes of Conv2D and its two gradients that fix the geometry. */
export interface ConvAttrs {
  strides: number | [number, number];
  pad: Parameters<typeof tf.backend_util.computeConv2DInfo>[4];
  dataFormat: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** tfjs's own geometry (padding and rounding as tfjs computes them), NHWC. */
export function convInfo(xShape: number[], filterShape: number[], attrs: ConvAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
}

export function geometryArgs(info: tf.backend_util.Conv2DInfo): ConvGeometryArgs {
  return [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    info.padInfo.top,
    info.padInfo.left,
  ];
}

/** The sizes of the im2col product: P output pixels, a receptive field of `field` entries. */
export function convSizes(info: tf.backend_util.Conv2DInfo): { pixels: number; field: number; flops: number } {
  const pixels = info.batchSize * info.outHeight * info.outWidth;
  const field = info.filterHeight * info.filterWidth * info.inChannels;
  return { pixels, field, flops: 2 * pixels * field * info.outChannels };
}

/** A 1x1, stride-1, unpadded convolution: x [P, CI] is its own im2col matrix. */
export function isPointwise(info: tf.backend_util.Conv2DInfo): boolean {
  return (
    info.filterHeight === 1 &&
    info.filterWidth === 1 &&
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    info.padInfo.top === 0 &&
    info.padInfo.left === 0 &&
    info.outHeight === info.inHeight &&
    info.outWidth === info.inWidth
  );
}

/**
 * Conv2D: the addon's direct kernel when it takes the shape (at most 32 channels in and out:
 * LeNet-sized layers, where a [P, 25] x [25, 10] product runs BLAS at a fraction of its speed and
 * the im2col matrix costs as much memory traffic as the arithmetic), otherwise im2col + one sgemm: out[P, CO] = cols[P, KH*KW*CI] x W[KH*KW*CI, CO] (the filter
 * [KH, KW, CI, CO] is already that matrix). NCHW and small convolutions go to `fallback`.
 */
export function blasConv2D(addon: BlasAddon, fallback: WasmKernelFunc, minFlops: number): WasmKernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as KernelArgs<ConvAttrs>;
    const x = inputs['x']!;
    const filter = inputs['filter']!;
    if (attrs.dataFormat === 'NCHW' || x.dtype !== 'float32' || filter.dtype !== 'float32') return fallback(args);
    const info = convInfo(x.shape, filter.shape, attrs);
    const { pixels, field, flops } = convSizes(info);
    if (flops < minFlops) return fallback(args);
    const direct = backend.makeOutput([info.batchSize, info.outHeight, info.outWidth, info.outChannels], 'float32');
    if (addon.convForward(f32(backend, x), f32(backend, filter), f32(backend, direct), info.outChannels, ...geometryArgs(info))) return direct;
    release(backend, direct);
    // Under a gradient tape the filter gradient will im2col the same input again: keep the matrix.
    const { cols, owned } = isPointwise(info) ? { cols: x, owned: false } : im2colCached(addon, backend, x, geometryArgs(info), pixels, field, tapeRecording());
    const out = backend.makeOutput([info.batchSize, info.outHeight, info.outWidth, info.outChannels], 'float32');
    addon.sgemm(false, false, pixels, info.outChannels, field, f32(backend, cols), 0, f32(backend, filter), 0, f32(backend, out), 0, 1);
    if (owned) release(backend, cols);
    return out;
  };
}

/**
 * Conv2DBackpropFilter: the addon's direct kernel for few channels (as Conv2D), otherwise
 * dW[KH*KW*CI, CO] = colsᵀ x dy[P, CO], the transpose done by BLAS.
 */
export function blasConv2DBackpropFilter(addon: BlasAddon, fallback: WasmKernelFunc, minFlops: number): WasmKernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as KernelArgs<ConvAttrs & { filterShape: [number, number, number, number] }>;
    const x = inputs['x']!;
    const dy = inputs['dy']!;
    if (attrs.dataFormat === 'NCHW' || x.dtype !== 'float32' || dy.dtype !== 'float32') return fallback(args);
    const info = convInfo(x.shape, attrs.filterShape, attrs);
    const { pixels, field, flops } = convSizes(info);
    if (flops < minFlops) return fallback(args);
    const direct = backend.makeOutput([...attrs.filterShape], 'float32');
    if (addon.convFilterGrad(f32(backend, x), f32(backend, dy), f32(backend, direct), info.outChannels, ...geometryArgs(info))) return direct;
    release(backend, direct);
    // The forward's matrix when it kept one; else one kept for the other tasks' backward passes.
    const { cols, owned } = isPointwise(info) ? { cols: x, owned: false } : im2colCached(addon, backend, x, geometryArgs(info), pixels, field, true);
    const dw = backend.makeOutput([...attrs.filterShape], 'float32');
    addon.sgemm(true, false, field, info.outChannels, pixels, f32(backend, cols), 0, f32(backend, dy), 0, f32(backend, dw), 0, 1);
    if (owned) release(backend, cols);
    return dw;
  };
}

/**
 * Conv2DBackpropInput: the addon's direct kernel for few channels (each dx row gathered once),
 * otherwise dcols[P, KH*KW*CI] = dy[P, CO] x Wᵀ (BLAS transposes W), then col2im adds
 * each row back onto the input pixels of its receptive field. The addon does both a block of
 * output pixels at a time, so the column matrix never goes to memory whole (LeNet's second layer:
 * 37 MB written and read back); ~3x faster there.
 */
export function blasConv2DBackpropInput(addon: BlasAddon, fallback: WasmKernelFunc, minFlops: number): WasmKernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as KernelArgs<ConvAttrs & { inputShape: [number, number, number, number] }>;
    const dy = inputs['dy']!;
    const filter = inputs['filter']!;
    if (attrs.dataFormat === 'NCHW' || dy.dtype !== 'float32' || filter.dtype !== 'float32') return fallback(args);
    const info = convInfo(attrs.inputShape, filter.shape, attrs);
    const { pixels, field, flops } = convSizes(info);
    if (flops < minFlops) return fallback(args);
    const dx = backend.makeOutput([...attrs.inputShape], 'float32');
    if (addon.convInputGrad(f32(backend, dy), f32(backend, filter), f32(backend, dx), info.outChannels, ...geometryArgs(info))) return dx;
    if (isPointwise(info)) {
      addon.sgemm(false, true, pixels, field, info.outChannels, f32(backend, dy), 0, f32(backend, filter), 0, f32(backend, dx), 0, 1);
      return dx;
    }
    addon.convBackpropInput(f32(backend, dy), f32(backend, filter), f32(backend, dx), ...geometryArgs(info), info.outChannels);
    return dx;
  };
}
