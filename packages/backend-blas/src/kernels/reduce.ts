import { tf } from '@mtl/core';
import type { BlasAddon } from '../addon.js';
import { f32, type KernelArgs, type WasmKernelFunc } from './wasm-heap.js';

interface SumAttrs {
  axis: number | number[];
  keepDims: boolean;
}

/**
 * Sum over a contiguous block of axes that is not the innermost one (a conv bias gradient: axes
 * [0, 1, 2] of [256, 32, 32, 10]) in one pass, in C. tfjs-wasm's kernel transposes such an input
 * so that the reduced axes come last (a full copy with a 10-wide inner run), then sums: ~12 ms on
 * LeNet's first layer. Sums over the innermost axes (no transpose there), scattered axes and other
 * dtypes go to `fallback`.
 */
export function blasSum(addon: BlasAddon, fallback: WasmKernelFunc): WasmKernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as KernelArgs<SumAttrs>;
    const x = inputs['x']!;
    if (x.dtype !== 'float32') return fallback(args);
    const rank = x.shape.length;
    const axes = [...new Set(tf.util.parseAxisParam(attrs.axis, x.shape))].sort((a, b) => a - b);
    if (axes.length === 0) return fallback(args);
    const first = axes[0]!;
    const last = axes.at(-1)!;
    if (last - first + 1 !== axes.length || last === rank - 1) return fallback(args);
    const size = (from: number, to: number) => tf.util.sizeFromShape(x.shape.slice(from, to));
    const [outer, mid, inner] = [size(0, first), size(first, last + 1), size(last + 1, rank)];
    const outShape = x.shape.filter((_, i) => i < first || i > last);
    const out = backend.makeOutput(attrs.keepDims ? tf.backend_util.expandShapeToKeepDim(outShape, axes) : outShape, 'float32');
    addon.sumMiddle(f32(backend, x), f32(backend, out), outer, mid, inner);
    return out;
  };
}
