import { tf } from '@mtl/core';
import type { BlasAddon, PoolGeometryArgs } from '../addon.js';
import { f32, type KernelArgs, type WasmKernelFunc } from './wasm-heap.js';

/** The attributes of MaxPool and MaxPoolGrad (tfjs's 2D max pool has no dilations). */
interface PoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: Parameters<typeof tf.backend_util.computePool2DInfo>[4];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** tfjs's own pool geometry (padding and rounding as tfjs computes them), NHWC. */
function poolArgs(shape: number[], attrs: PoolAttrs): PoolGeometryArgs {
  const info = tf.backend_util.computePool2DInfo(shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
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
    info.padInfo.top,
    info.padInfo.left,
  ];
}

/**
 * MaxPoolGrad in C: each output gradient goes to its window's first maximum in scan order (ties:
 * the first; a window of only -Infinity / NaN: no gradient; overlapping windows add), exactly the
 * rule of core's JS kernel and of the cpu backend. core's JS kernel took ~30 ms a call on LeNet's
 * first pooling layer ([256, 32, 32, 10]), a fifth of the step; this one is memory-bound. Other
 * dtypes (there are none in tfjs's max pool) go to `fallback`.
 */
export function blasMaxPoolGrad(addon: BlasAddon, fallback: WasmKernelFunc): WasmKernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as KernelArgs<PoolAttrs>;
    const input = inputs['input']!;
    const dy = inputs['dy']!;
    if (input.dtype !== 'float32' || dy.dtype !== 'float32' || input.shape.length !== 4) return fallback(args);
    const geometry = poolArgs(input.shape, attrs);
    const dx = backend.makeOutput([...input.shape], 'float32');
    addon.maxPoolGrad(f32(backend, input), f32(backend, dy), f32(backend, dx), ...geometry);
    return dx;
  };
}

/** Windows that tile the input exactly (stride = filter, no padding, nothing left over). */
function tiles([, inH, inW, , outH, outW, fH, fW, sH, sW, top, left]: PoolGeometryArgs): boolean {
  return sH === fH && sW === fW && top === 0 && left === 0 && outH * fH === inH && outW * fW === inW;
}

/**
 * MaxPool in C for windows that tile the input with at most 32 channels (LeNet's 2x2 pools): ~1.8x
 * faster than tfjs-wasm's XNNPACK kernel there. The rule is the cpu backend's (NaN never wins, a
 * window with no number gives -Infinity), the one MaxPoolGrad sends the gradient by. Overlapping,
 * padded or strided windows, more channels and other dtypes go to `fallback` (XNNPACK), where a C
 * loop was no faster.
 */
export function blasMaxPool(addon: BlasAddon, fallback: WasmKernelFunc): WasmKernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as KernelArgs<PoolAttrs>;
    const x = inputs['x']!;
    if (x.dtype !== 'float32' || x.shape.length !== 4) return fallback(args);
    const geometry = poolArgs(x.shape, attrs);
    const [batch, , , channels, outH, outW] = geometry;
    if (!tiles(geometry) || channels > 32) return fallback(args);
    const y = backend.makeOutput([batch, outH, outW, channels], 'float32');
    addon.maxPool(f32(backend, x), f32(backend, y), ...geometry);
    return y;
  };
}
