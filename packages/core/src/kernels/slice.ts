import { tf } from '../tf.js';
import type { KernelArgs, WasmKernelFunc } from './wasm-heap.js';

interface SliceAttrs {
  begin: number | number[];
  size: number | number[];
}

/**
 * Slice reading the input through a heap view. tfjs-backend-wasm's Slice first copies the whole
 * input out of the heap (`readSync`), so cutting a flat gradient vector back into parameters
 * (ParameterLayout.unflatten) cost ~7 ms per slice however small the slice. String tensors keep
 * the original kernel.
 */
export function fastSlice(original: WasmKernelFunc): WasmKernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as KernelArgs<SliceAttrs>;
    const x = inputs['x']!;
    if (x.dtype === 'string') return original(args);
    const [begin, size] = tf.slice_util.parseSliceParams(x, attrs.begin, attrs.size) as [number[], number[]];
    const out = backend.makeOutput(size, x.dtype);
    const src = backend.typedArrayFromHeap(x);
    const dst = backend.typedArrayFromHeap(out);
    const strides = tf.util.computeStrides(x.shape);
    if (tf.slice_util.isSliceContinous(x.shape, begin, size)) {
      const offset = tf.slice_util.computeFlatOffset(begin, strides);
      dst.set(src.subarray(offset, offset + dst.length));
      return out;
    }
    // Copy runs along the last axis; an odometer walks the outer indices.
    const rank = x.shape.length;
    const run = size[rank - 1]!;
    const index = new Array<number>(rank - 1).fill(0);
    for (let o = 0; o < dst.length; o += run) {
      let offset = begin[rank - 1]!;
      for (let d = 0; d < rank - 1; d++) offset += (begin[d]! + index[d]!) * strides[d]!;
      dst.set(src.subarray(offset, offset + run), o);
      for (let d = rank - 2; d >= 0; d--) {
        if (++index[d]! < size[d]!) break;
        index[d] = 0;
      }
    }
    return out;
  };
}
