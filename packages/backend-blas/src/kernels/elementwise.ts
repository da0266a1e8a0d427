import { tf } from '@mtl/core';
import type { BlasAddon } from '../addon.js';
import { f32, type KernelArgs, type WasmKernelFunc } from './wasm-heap.js';

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

/**
 * Identity sharing its input's heap bytes (one more reference) instead of copying them, as tfjs's
 * cpu and webgl backends do and as tfjs-wasm's own Reshape does. tfjs clones every tensor a
 * gradient saves for the backward pass (`saveTensorsForBackwardMode`), and on wasm each clone was a
 * copy: 64 of them per LeNet step (~14 ms). Tensors are immutable (no tfjs kernel, none of core's or
 * ours, writes into an input), so a shared buffer is indistinguishable from a copy. String
 * tensors (not on the heap) go to `fallback`.
 */
export function sharedIdentity(fallback: WasmKernelFunc): WasmKernelFunc {
  return (args) => {
    const { inputs, backend } = args;
    const x = inputs['x']!;
    if (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool') return fallback(args);
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}

/**
 * Cast to the dtype the tensor already has shares its bytes, as Identity does (tfjs's cpu backend
 * does the same). tfjs-wasm's Cast copies even then, and tfjs's relu gradient is
 * `dy * cast(step(x), 'float32')` with `step` already float32: a copy of every activation per
 * backward pass (~1.7 ms on LeNet's first layer). Real conversions go to `fallback`.
 */
export function sharedCast(fallback: WasmKernelFunc): WasmKernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as KernelArgs<{ dtype: tf.DataType }>;
    const x = inputs['x']!;
    if (x.dtype !== attrs.dtype || (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool')) return fallback(args);
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}
