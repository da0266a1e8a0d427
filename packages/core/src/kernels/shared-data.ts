import type { tf } from '../tf.js';
import type { KernelArgs, WasmKernelFunc } from './wasm-heap.js';

/**
 * Kernels whose output is their input's data: Identity, and Cast to the dtype a tensor already
 * has. They share the input's heap bytes (one more reference) instead of copying them, as tfjs's cpu
 * backend does and as the wasm backend's own Reshape does: tensor data is never written after it is
 * made (no tfjs kernel, nor any of @mtl's, writes into an input), so sharing is not observable.
 *
 * Why it matters: tfjs's gradient tape clones every tensor it saves for the backward pass
 * (`saveTensorsForBackwardMode`), and the wasm Identity copied each one (64 copies of activations
 * per LeNet step, 18 ms of ~500); tfjs's relu gradient is `dy * cast(step(x), 'float32')` with
 * `step` already float32, and the wasm Cast copied that too. Strings (not on the heap) and real
 * conversions keep the original kernels.
 */
type SharingBackend = { incRef?: (dataId: object) => void };
const onHeap = (dtype: tf.DataType) => dtype === 'float32' || dtype === 'int32' || dtype === 'bool';

function share(x: tf.TensorInfo, backend: SharingBackend): tf.TensorInfo {
  backend.incRef!(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

export function sharedIdentity(original: WasmKernelFunc): WasmKernelFunc {
  return (args) => {
    const { inputs, backend } = args as KernelArgs & { backend: SharingBackend };
    const x = inputs['x']!;
    if (!onHeap(x.dtype) || typeof backend.incRef !== 'function') return original(args);
    return share(x, backend);
  };
}

/**
 * Also casts to bool as the cpu backend does (`x != 0`): tfjs-wasm's own Cast to bool keeps the
 * low byte of the number (-2 → 254, 256 → 0), which breaks `tf.cast(x, 'bool')` and every mask built
 * that way.
 */
export function sharedCast(original: WasmKernelFunc): WasmKernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as KernelArgs<{ dtype: tf.DataType }> & { backend: SharingBackend };
    const x = inputs['x']!;
    if (attrs.dtype === 'bool' && (x.dtype === 'float32' || x.dtype === 'int32')) {
      const out = backend.makeOutput([...x.shape], 'bool');
      const from = backend.typedArrayFromHeap(x);
      const to = backend.typedArrayFromHeap(out);
      for (let i = 0; i < to.length; i++) to[i] = from[i] !== 0 ? 1 : 0;
      return out;
    }
    if (x.dtype !== attrs.dtype || !onHeap(x.dtype) || typeof backend.incRef !== 'function') return original(args);
    return share(x, backend);
  };
}
