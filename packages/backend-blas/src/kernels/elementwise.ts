import { tf } from '@mtl/core';
import type { BlasAddon } from '../addon.js';
import { f32, type WasmKernelFunc } from './wasm-heap.js';

/** Whether `small` broadcasts onto `shape` along its trailing axes only (leading 1s dropped). */
function tilesTrailing(small: number[], shape: number[]): boolean {
  const first = small.findIndex((d) => d !== 1);
  const core = first < 0 ? [] : small.slice(first);
  if (core.length > shape.length) return false;
  return core.every((d, i) => d === shape[shape.length - core.length + i]);
}

/**
 * Add where one operand is a bias over the other's trailing axes (a conv layer's [256, 32, 32, 10]
 * + [10]) in one C loop. tfjs-wasm's broadcasting path took ~6 ms for that add, several times a
 * plain same-shape add. Float32 addition is commutative, so `bias + x` is served too. Same-shape
 * adds (XNNPACK's fast path), other broadcasts and other dtypes go to `fallback`.
 */
export function blasAdd(addon: BlasAddon, fallback: WasmKernelFunc): WasmKernelFunc {
  return (args) => {
    const { inputs, backend } = args;
    const a = inputs['a']!;
    const b = inputs['b']!;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(args);
    let outShape: number[];
    try {
      outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    } catch {
      return fallback(args); // the fallback reports the mismatch in tfjs's words
    }
    const size = tf.util.sizeFromShape(outShape);
    const [sa, sb] = [tf.util.sizeFromShape(a.shape), tf.util.sizeFromShape(b.shape)];
    const [big, small] = sa === size && sb < size && tilesTrailing(b.shape, outShape) ? [a, b] : sb === size && sa < size && tilesTrailing(a.shape, outShape) ? [b, a] : [];
    if (!big || !small) return fallback(args);
    const out = backend.makeOutput(outShape, 'float32');
    addon.addTiled(f32(backend, big), f32(backend, small), f32(backend, out), Math.max(1, tf.util.sizeFromShape(small.shape)));
    return out;
  };
}
