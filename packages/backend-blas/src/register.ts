import { MtlError, tf } from '@mtl/core';
import { anyValue, checkOptions, describeValue } from '@mtl/core/internal';
import { loadAddon, type BlasAddon } from './addon.js';
import { applyThreads } from './threads.js';
import { blasBatchMatMul, blasFusedMatMul, type Crossover } from './kernels/mat-mul.js';
import { blasConv2D, blasConv2DBackpropFilter, blasConv2DBackpropInput } from './kernels/conv2d.js';
import { blasMaxPool, blasMaxPoolGrad } from './kernels/pool.js';
import { blasSum } from './kernels/reduce.js';
import { blasAdd } from './kernels/elementwise.js';
import { clearIm2colCache } from './kernels/im2col-cache.js';
import type { WasmKernelFunc } from './kernels/wasm-heap.js';

/**
 * The wasm kernels {@link enableBlas} replaces: the products on OpenBLAS, then the memory-bound
 * kernels of a conv step that tfjs-wasm (or core's JS fallback) runs slowly: max pooling (tiling
 * windows) and its gradient, sums over leading axes (bias gradients) and bias adds. (Identity and
 * same-dtype Cast without a copy are core's wasm kernels: they help every wasm user, BLAS or not.)
 */
export const BLAS_KERNELS = [
  'BatchMatMul',
  '_FusedMatMul',
  'Conv2D',
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'MaxPool',
  'MaxPoolGrad',
  'Sum',
  'Add',
] as const;

/**
 * Below this many floating-point operations a product stays on the wasm kernel it replaces. Measured
 * on a 2-core AMD EPYC (bench/crossover.ts): BLAS wins from about 2·64³ FLOPs on square products
 * (the N-API call and OpenBLAS's thread wake-up cost a few microseconds; XNNPACK's one thread is
 * quick on tiny products).
 */
export const DEFAULT_MIN_FLOPS = 2 * 48 ** 3;
/** Plain products with a side under this stay on XNNPACK (a 10-class head's product). */
export const DEFAULT_MIN_SIDE = 16;

export interface BlasStatus {
  /** Whether the BLAS kernels are registered on the wasm backend now. */
  readonly enabled: boolean;
  /** Why not, when the addon is absent or failed to load. */
  readonly reason?: string;
  /** OpenBLAS's build description (version, CPU kernel, thread model). */
  readonly library?: string;
  readonly threads?: number;
  readonly threadsWhy?: string;
  readonly kernels: readonly string[];
  readonly minFlops: number;
  readonly minSide: number;
}

/** The kernels that were registered before ours, restored by {@link disableBlas}. */
let replaced: Map<string, tf.KernelConfig> | undefined;
let state: BlasStatus = { enabled: false, kernels: [], minFlops: DEFAULT_MIN_FLOPS, minSide: DEFAULT_MIN_SIDE };

export interface EnableBlasOptions {
  /** Products (and convolutions) below this many FLOPs stay on the wasm kernels; default {@link DEFAULT_MIN_FLOPS}. */
  readonly minFlops?: number;
  /** Untransposed, unbatched products with a side under this stay on XNNPACK; default {@link DEFAULT_MIN_SIDE}. */
  readonly minSide?: number;
}

/**
 * Registers the OpenBLAS kernels on tfjs's wasm backend, wrapping the kernels registered there now
 * (core's fast kernels after `useBestBackend`), which keep serving small products. Idempotent.
 * When the addon is absent it registers nothing and says why in `reason`: everything keeps running
 * on the plain wasm kernels. `useBestBackend` calls this for you when it picks wasm.
 */
export function enableBlas(options: EnableBlasOptions = {}): BlasStatus {
  const minFlops = options.minFlops ?? state.minFlops;
  const minSide = options.minSide ?? state.minSide;
  for (const [name, value] of [['minFlops', minFlops], ['minSide', minSide]] as const) {
    if (!Number.isFinite(value) || value < 0) {
      throw new MtlError('INVALID_OPTION', `enableBlas: ${name} must be a non-negative number, got ${describeValue(value)}`, { option: name, value });
    }
  }
  checkOptions(options, { minFlops: anyValue, minSide: anyValue }, 'enableBlas');
  const load = loadAddon();
  if (!('addon' in load)) return (state = { enabled: false, reason: load.reason, kernels: [], minFlops, minSide });
  if (replaced && minFlops === state.minFlops && minSide === state.minSide) return state;
  if (replaced) disableBlas();
  const originals = new Map<string, tf.KernelConfig>();
  for (const name of BLAS_KERNELS) {
    const existing = tf.getKernel(name, 'wasm');
    if (existing) originals.set(name, existing);
  }
  if (!originals.has('BatchMatMul')) {
    return (state = { enabled: false, reason: 'the wasm backend is not loaded (call `await useBestBackend()` first)', kernels: [], minFlops, minSide });
  }
  const { threads, why } = applyThreads(load.addon);
  const kernels = install(load.addon, originals, { minFlops, minSide });
  replaced = originals;
  state = { enabled: true, library: load.addon.config(), threads, threadsWhy: why, kernels, minFlops, minSide };
  return state;
}

function install(addon: BlasAddon, originals: Map<string, tf.KernelConfig>, crossover: Crossover): string[] {
  const { minFlops } = crossover;
  const fallback = (name: string) => originals.get(name)?.kernelFunc as unknown as WasmKernelFunc | undefined;
  const makers: Record<(typeof BLAS_KERNELS)[number], (f: WasmKernelFunc) => WasmKernelFunc> = {
    BatchMatMul: (f) => blasBatchMatMul(addon, f, crossover),
    _FusedMatMul: (f) => blasFusedMatMul(addon, f, crossover),
    Conv2D: (f) => blasConv2D(addon, f, minFlops),
    Conv2DBackpropFilter: (f) => blasConv2DBackpropFilter(addon, f, minFlops),
    Conv2DBackpropInput: (f) => blasConv2DBackpropInput(addon, f, minFlops),
    MaxPool: (f) => blasMaxPool(addon, f),
    MaxPoolGrad: (f) => blasMaxPoolGrad(addon, f),
    Sum: (f) => blasSum(addon, f),
    Add: (f) => blasAdd(addon, f),
  };
  const installed: string[] = [];
  for (const name of BLAS_KERNELS) {
    const original = originals.get(name);
    const f = fallback(name);
    // A kernel the wasm backend lacks (core registers the conv gradients) keeps no fallback: skip it.
    if (!original || !f) continue;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({
      kernelName: name,
      backendName: 'wasm',
      kernelFunc: makers[name](f) as unknown as tf.KernelFunc,
      // The fallback's wasm bindings are set up by its setupFunc when the backend (re)initialises.
      ...(original.setupFunc ? { setupFunc: original.setupFunc } : {}),
    });
    installed.push(name);
  }
  return installed;
}

/** Puts back the kernels {@link enableBlas} replaced (for comparisons, and `useBestBackend({ accelerators: false })`). */
export function disableBlas(): void {
  clearIm2colCache();
  if (!replaced) return;
  for (const [name, original] of replaced) {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(original);
  }
  replaced = undefined;
  state = { ...state, enabled: false, kernels: [] };
}

/** What {@link enableBlas} did last. */
export function blasStatus(): BlasStatus {
  return state;
}

/** Whether the addon is built and loads (independently of whether the kernels are registered). */
export function blasAvailable(): { available: true; library: string } | { available: false; reason: string } {
  const load = loadAddon();
  return 'addon' in load ? { available: true, library: load.addon.config() } : { available: false, reason: load.reason };
}
