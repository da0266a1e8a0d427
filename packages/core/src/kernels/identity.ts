import type { KernelArgs, WasmKernelFunc } from './wasm-heap.js';

/**
 * Identity that shares its input's heap data (one more reference) instead of copying it, as tfjs's
 * cpu backend does and as the wasm backend's own Reshape does: tensor data is never written after
 * it is made, so a copy buys nothing. It matters because tfjs's gradient tape clones every tensor it
 * saves for the backward pass (`saveTensorsForBackwardMode`), and the wasm Identity copied each
 * one: 64 copies of activations per LeNet step, 18 ms of ~500. String tensors keep the original
 * kernel (their data does not live on the heap).
 */
export function sharedIdentity(original: WasmKernelFunc): WasmKernelFunc {
  return (args) => {
    const { inputs, backend } = args as KernelArgs & { backend: { incRef?: (dataId: object) => void } };
    const x = inputs['x']!;
    if (x.dtype === 'string' || typeof backend.incRef !== 'function') return original(args);
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}
