/**
 * @mtl/backend-blas — matrix products and convolutions of tfjs's wasm backend on the system's
 * OpenBLAS (all cores), through a small N-API addon that works in place on the wasm heap.
 *
 * Importing the package registers it with `@mtl/core` as the accelerator "blas": every
 * `useBestBackend()` that picks wasm enables it (and `useBestBackend` imports the package by itself
 * when it is installed). When the addon could not be built (no OpenBLAS, no compiler) the package
 * still loads, and `useBestBackend` reports why it is not used.
 */
import { registerAccelerator } from '@mtl/core/internal';
import { disableBlas, enableBlas } from './register.js';

export { enableBlas, disableBlas, blasStatus, blasAvailable, BLAS_KERNELS, DEFAULT_MIN_FLOPS, DEFAULT_MIN_SIDE, type BlasStatus, type EnableBlasOptions } from './register.js';
export { defaultThreads } from './threads.js';

registerAccelerator({
  name: 'blas',
  activate(choice) {
    if (choice.tfjsBackend !== 'wasm') return { active: false, detail: `BLAS kernels serve the wasm backend only (this is ${choice.tfjsBackend})` };
    const status = enableBlas();
    if (!status.enabled) return { active: false, detail: status.reason ?? 'not enabled' };
    const library = status.library?.split(' ').slice(0, 2).join(' ') ?? 'OpenBLAS';
    return { active: true, detail: `${library}, ${status.threads} threads (${status.threadsWhy}) for ${status.kernels.join(', ')} from ${Math.round(status.minFlops / 1e3)} kFLOP` };
  },
  deactivate: disableBlas,
});
