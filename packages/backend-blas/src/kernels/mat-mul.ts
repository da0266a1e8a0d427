import { tf } from '@mtl/core';
import type { BlasAddon } from '../addon.js';
import { f32, type KernelArgs, type WasmKernelFunc } from './wasm-heap.js';

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

interface FusedAttrs extends MatMulAttrs {
  activation?: string;
  leakyreluAlpha?: number;
}

/** The shape of one (batched) product, or undefined when BLAS does not take it (the fallback does). */
interface Product {
  m: number;
  n: number;
  k: number;
  batch: number;
  strideA: number;
  strideB: number;
  outShape: number[];
}

/** When a product stays on the wasm kernel (see `EnableBlasOptions`). */
export interface Crossover {
  /** Products under this many FLOPs: the N-API call and BLAS's thread wake-up would cost more than they save. */
  readonly minFlops: number;
  /**
   * Plain (untransposed, unbatched) products with a side under this: XNNPACK's one thread beats
   * OpenBLAS's threaded kernels there (bench/crossover.ts: 256x128 by 128x10 ran 2x slower on BLAS).
   */
  readonly minSide: number;
}

function staysOnWasm(p: Product, attrs: MatMulAttrs, crossover: Crossover): boolean {
  if (2 * p.m * p.n * p.k * p.batch < crossover.minFlops) return true;
  return !attrs.transposeA && !attrs.transposeB && p.batch === 1 && Math.min(p.m, p.n, p.k) < crossover.minSide;
}

function productOf(a: tf.TensorInfo, b: tf.TensorInfo, { transposeA, transposeB }: MatMulAttrs): Product | undefined {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return undefined;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const [m, k] = transposeA ? [a.shape[ra - 1]!, a.shape[ra - 2]!] : [a.shape[ra - 2]!, a.shape[ra - 1]!];
  const [k2, n] = transposeB ? [b.shape[rb - 1]!, b.shape[rb - 2]!] : [b.shape[rb - 2]!, b.shape[rb - 1]!];
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  // Mismatches and general broadcasting stay with the fallback, which reports errors in tfjs's words.
  if (k !== k2 || (batchA !== batchB && batchA !== 1 && batchB !== 1)) return undefined;
  const batchShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return {
    m,
    n,
    k,
    batch: Math.max(batchA, batchB),
    strideA: batchA > 1 ? m * k : 0,
    strideB: batchB > 1 ? k * n : 0,
    outShape: [...batchShape, m, n],
  };
}

/**
 * BatchMatMul on OpenBLAS: one `cblas_sgemm` per batch entry, transposes handled by BLAS (no copy),
 * straight from and into the wasm heap. Products under the crossover go to `fallback` (core's kernel
 * on XNNPACK).
 */
export function blasBatchMatMul(addon: BlasAddon, fallback: WasmKernelFunc, crossover: Crossover): WasmKernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as KernelArgs<MatMulAttrs>;
    const a = inputs['a']!;
    const b = inputs['b']!;
    const p = productOf(a, b, attrs);
    if (!p || staysOnWasm(p, attrs, crossover)) return fallback(args);
    const out = backend.makeOutput(p.outShape, 'float32');
    // Views after the last allocation (makeOutput may grow the heap).
    addon.sgemm(attrs.transposeA, attrs.transposeB, p.m, p.n, p.k, f32(backend, a), p.strideA, f32(backend, b), p.strideB, f32(backend, out), p.m * p.n, p.batch);
    return out;
  };
}

const ACTIVATIONS: Record<string, ((x: number, alpha: number) => number) | undefined> = {
  linear: (x) => x,
  relu: (x) => (x > 0 ? x : 0),
  relu6: (x) => Math.min(Math.max(x, 0), 6),
  leakyrelu: (x, alpha) => (x > 0 ? x : alpha * x),
  elu: (x) => (x >= 0 ? x : Math.expm1(x)),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
};

/**
 * _FusedMatMul (`tf.fused.matMul`): the product on BLAS, then the bias (of one element or one per
 * output column) and the activation in one pass over the output. PReLU, other bias shapes and small
 * products go to `fallback`.
 */
export function blasFusedMatMul(addon: BlasAddon, fallback: WasmKernelFunc, crossover: Crossover): WasmKernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as KernelArgs<FusedAttrs>;
    const a = inputs['a']!;
    const b = inputs['b']!;
    const bias = inputs['bias'];
    const p = productOf(a, b, attrs);
    const activation = ACTIVATIONS[attrs.activation ?? 'linear'];
    const biasSize = bias ? tf.util.sizeFromShape(bias.shape) : 0;
    const biasOk = !bias || (bias.dtype === 'float32' && (biasSize === 1 || (biasSize === p?.n && bias.shape.at(-1) === p.n)));
    if (!p || !activation || !biasOk || inputs['preluActivationWeights'] || staysOnWasm(p, attrs, crossover)) return fallback(args);
    const out = backend.makeOutput(p.outShape, 'float32');
    const y = f32(backend, out);
    addon.sgemm(attrs.transposeA, attrs.transposeB, p.m, p.n, p.k, f32(backend, a), p.strideA, f32(backend, b), p.strideB, y, p.m * p.n, p.batch);
    const beta = bias ? f32(backend, bias) : undefined;
    const alpha = attrs.leakyreluAlpha ?? 0.2;
    const n = p.n;
    for (let i = 0; i < y.length; i++) {
      const shifted = beta ? y[i]! + beta[biasSize === 1 ? 0 : i % n]! : y[i]!;
      y[i] = activation(shifted, alpha);
    }
    return out;
  };
}
