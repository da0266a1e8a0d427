import { tf } from '../tf.js';
import type { WasmKernelFunc } from './wasm-heap.js';
import { fastBatchMatMul } from './batch-mat-mul.js';
import { conv2dBackpropFilter } from './conv2d-backprop-filter.js';
import { conv2dBackpropInput } from './conv2d-backprop-input.js';
import { avgPoolGrad, maxPoolGrad } from './pool-grad.js';
import { fastSlice } from './slice.js';
import { sharedCast, sharedIdentity } from './shared-data.js';

/** The kernels {@link registerFastKernels} installs on the wasm backend, by tfjs kernel name. */
export const FAST_WASM_KERNELS = ['BatchMatMul', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad', 'AvgPoolGrad', 'Slice', 'Identity', 'Cast'] as const;

/** The wasm backend's own kernels we replaced, to restore them in {@link unregisterFastKernels}. */
let replaced: Map<string, tf.KernelConfig> | undefined;

/**
 * Installs @mtl's kernels on the wasm backend (a no-op for other backends, and when already done):
 * fast transposed and batched BatchMatMul, the missing Conv2DBackpropFilter, and faster
 * Conv2DBackpropInput, MaxPoolGrad, AvgPoolGrad and Slice, and Identity and same-dtype Cast that share
 * their input's data instead of copying it. All keep tfjs's kernel semantics; they are
 * checked against the cpu backend in the test suite. {@link useBestBackend} calls this for you.
 *
 * @returns the names of the kernels registered by this call (empty when nothing was done).
 */
export function registerFastKernels(backendName: string = tf.getBackend()): string[] {
  if (backendName !== 'wasm' || replaced) return [];
  const matMulConfig = tf.getKernel('BatchMatMul', 'wasm');
  if (!matMulConfig) return [];
  // The original product keeps its XNNPACK fast path; our kernels route every product to it.
  const matMul = matMulConfig.kernelFunc as unknown as WasmKernelFunc;
  const ours: Record<(typeof FAST_WASM_KERNELS)[number], WasmKernelFunc> = {
    BatchMatMul: fastBatchMatMul(matMul),
    Conv2DBackpropFilter: conv2dBackpropFilter(matMul),
    Conv2DBackpropInput: conv2dBackpropInput(matMul),
    MaxPoolGrad: maxPoolGrad,
    AvgPoolGrad: avgPoolGrad,
    Slice: fastSlice(tf.getKernel('Slice', 'wasm').kernelFunc as unknown as WasmKernelFunc),
    Identity: sharedIdentity(tf.getKernel('Identity', 'wasm').kernelFunc as unknown as WasmKernelFunc),
    Cast: sharedCast(tf.getKernel('Cast', 'wasm').kernelFunc as unknown as WasmKernelFunc),
  };
  replaced = new Map();
  for (const name of FAST_WASM_KERNELS) {
    const existing = tf.getKernel(name, 'wasm');
    if (existing) {
      replaced.set(name, existing);
      tf.unregisterKernel(name, 'wasm');
    }
    tf.registerKernel({
      kernelName: name,
      backendName: 'wasm',
      kernelFunc: ours[name] as unknown as tf.KernelFunc,
      // If the backend is ever re-initialised, the original's setup (its wasm bindings, which
      // the wrapped BatchMatMul still calls) must run again.
      ...(existing?.setupFunc ? { setupFunc: existing.setupFunc } : {}),
    });
  }
  return [...FAST_WASM_KERNELS];
}

/** Puts tfjs-backend-wasm's own kernels back (for comparisons in benchmarks and tests). */
export function unregisterFastKernels(): void {
  if (!replaced) return;
  for (const name of FAST_WASM_KERNELS) {
    tf.unregisterKernel(name, 'wasm');
    const original = replaced.get(name);
    if (original) tf.registerKernel(original);
  }
  replaced = undefined;
}

/** Whether {@link registerFastKernels} is in effect. */
export function fastKernelsRegistered(): boolean {
  return replaced !== undefined;
}
