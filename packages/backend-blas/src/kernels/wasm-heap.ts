import type { tf } from '@mtl/core';

/**
 * The members of tfjs-backend-wasm's `BackendWasm` the kernels use: outputs are allocated on the
 * wasm heap, and `typedArrayFromHeap` gives a Float32Array view of a tensor's bytes there, which the
 * addon reads and writes in place.
 */
export interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
  /** One more reference to the heap bytes of `dataId` (kernels whose output shares its input's bytes). */
  incRef(dataId: tf.DataId): void;
  /** References to the heap bytes of `dataId`; 0 once they are freed. */
  refCount(dataId: tf.DataId): number;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

export interface KernelArgs<A> {
  readonly inputs: Record<string, tf.TensorInfo | undefined>;
  readonly backend: WasmBackend;
  readonly attrs: A;
}

export type WasmKernelFunc = (args: KernelArgs<never>) => tf.TensorInfo;

/**
 * A float32 view of a tensor's heap bytes. Views are valid only until the heap next grows (the
 * old ArrayBuffer is detached on growth): every kernel takes its views after its last allocation
 * and drops them before returning, never holding one across a call that may allocate.
 */
export function f32(backend: WasmBackend, info: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

export function release(backend: WasmBackend, ...infos: tf.TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}
