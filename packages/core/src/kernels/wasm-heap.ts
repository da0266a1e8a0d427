import type { tf } from '../tf.js';

/**
 * The few members of tfjs-backend-wasm's `BackendWasm` our kernels use. Reading and writing the
 * wasm heap directly (instead of going through tensors) avoids engine bookkeeping inside a kernel:
 * temporaries are plain heap allocations that we free ourselves.
 */
export interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** The arguments tfjs passes to a kernel function. */
export interface KernelArgs<A = Record<string, unknown>> {
  readonly inputs: Record<string, tf.TensorInfo>;
  readonly backend: WasmBackend;
  readonly attrs: A;
}

export type WasmKernelFunc = (args: KernelArgs<never>) => tf.TensorInfo;

/**
 * A float32 view of a tensor's heap memory. Take views only after the kernel's last allocation:
 * an allocation can grow the heap and detach earlier views.
 */
export function f32(backend: WasmBackend, info: tf.TensorInfo): Float32Array {
  const view = backend.typedArrayFromHeap(info);
  if (!(view instanceof Float32Array)) throw new Error(`@mtl kernels: expected a float32 tensor, got ${info.dtype}`);
  return view;
}

/** The same heap data under another shape (kernels that reshape their inputs count references themselves). */
export function withShape(info: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/** Frees kernel temporaries. */
export function release(backend: WasmBackend, ...infos: tf.TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}
