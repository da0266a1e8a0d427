import { tf } from '../tf.js';
import { f32, release, withShape, type KernelArgs, type WasmBackend, type WasmKernelFunc } from './wasm-heap.js';
import { transpose2d } from './transpose.js';

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/**
 * tfjs-backend-wasm sends a product to XNNPACK only when it is a single, untransposed matrix
 * product; anything else (transposeA/B, as in every backward pass of a dense layer, or batch > 1)
 * runs in a scalar loop 10-20x slower. This BatchMatMul wraps the original kernel: operands are
 * copied (transposed where needed) into plain [1, M, K] and [1, K, N] matrices and each product
 * goes through the fast path. The copies are O(MK + KN), negligible next to the O(MKN) product.
 */
export function fastBatchMatMul(original: WasmKernelFunc): WasmKernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as KernelArgs<MatMulAttrs>;
    const a = inputs['a']!;
    const b = inputs['b']!;
    const { transposeA, transposeB } = attrs;
    const rankA = a.shape.length;
    const rankB = b.shape.length;
    const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
    const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
    const [m, k] = transposeA ? [a.shape[rankA - 1]!, a.shape[rankA - 2]!] : [a.shape[rankA - 2]!, a.shape[rankA - 1]!];
    const [k2, n] = transposeB ? [b.shape[rankB - 1]!, b.shape[rankB - 2]!] : [b.shape[rankB - 2]!, b.shape[rankB - 1]!];
    const alreadyFast = !transposeA && !transposeB && batchA === 1 && batchB === 1;
    const unsupported =
      a.dtype !== 'float32' || b.dtype !== 'float32' || k !== k2 || (batchA !== batchB && batchA !== 1 && batchB !== 1);
    // The original kernel handles the fast case, and reports errors in its own words.
    if (alreadyFast || unsupported) return original(args);

    const batch = Math.max(batchA, batchB);
    const outShape = [...tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2)), m, n];
    const plain = { transposeA: false, transposeB: false };
    if (batch === 1) {
      const a2 = transposeA ? transposedCopy(backend, a, 0, k, m) : withShape(a, [1, m, k]);
      const b2 = transposeB ? transposedCopy(backend, b, 0, n, k) : withShape(b, [1, k, n]);
      const out = original({ inputs: { a: a2, b: b2 }, backend, attrs: plain } as never);
      if (transposeA) release(backend, a2);
      if (transposeB) release(backend, b2);
      out.shape = outShape;
      return out;
    }

    // Batched: one fast product per matrix. A broadcast operand is copied once and reused, so
    // XNNPACK's packed-weights cache (keyed by the B tensor) also serves every batch entry.
    const out = backend.makeOutput(outShape, 'float32');
    let a2: tf.TensorInfo | undefined;
    let b2: tf.TensorInfo | undefined;
    for (let i = 0; i < batch; i++) {
      if (!a2 || batchA > 1) {
        if (a2) release(backend, a2);
        a2 = matrixCopy(backend, a, batchA > 1 ? i : 0, transposeA ? k : m, transposeA ? m : k, transposeA);
      }
      if (!b2 || batchB > 1) {
        if (b2) release(backend, b2);
        b2 = matrixCopy(backend, b, batchB > 1 ? i : 0, transposeB ? n : k, transposeB ? k : n, transposeB);
      }
      const product = original({ inputs: { a: a2, b: b2 }, backend, attrs: plain } as never);
      f32(backend, out).set(f32(backend, product), i * m * n);
      release(backend, product);
    }
    release(backend, a2!, b2!);
    return out;
  };
}

/** Matrix `index` of a batch of [rows, cols] matrices, transposed into a fresh [1, cols, rows]. */
function transposedCopy(backend: WasmBackend, x: tf.TensorInfo, index: number, rows: number, cols: number): tf.TensorInfo {
  return matrixCopy(backend, x, index, rows, cols, true);
}

/** Matrix `index` of a batch of [rows, cols] matrices copied (and transposed if asked) into a fresh rank-3 tensor. */
function matrixCopy(backend: WasmBackend, x: tf.TensorInfo, index: number, rows: number, cols: number, transpose: boolean): tf.TensorInfo {
  const copy = backend.makeOutput(transpose ? [1, cols, rows] : [1, rows, cols], 'float32');
  const src = f32(backend, x);
  const dst = f32(backend, copy);
  const offset = index * rows * cols;
  if (transpose) transpose2d(src, offset, rows, cols, dst, 0);
  else dst.set(src.subarray(offset, offset + rows * cols));
  return copy;
}
