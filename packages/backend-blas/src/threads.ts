import { availableParallelism } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import { MtlError } from '@mtl/core';
import type { BlasAddon } from './addon.js';

/**
 * How many threads OpenBLAS uses for one product. OpenBLAS's thread count is process-wide, shared
 * by the main thread and every worker thread of the process. So:
 * - `MTL_BLAS_THREADS=n` when set (n ≥ 1) is used as is;
 * - on the main thread: one thread per core (`os.availableParallelism()`, 2 on a 2-core machine):
 *   the products of a step use both cores;
 * - once a worker thread (core's gradient workers, ForkMerge's branch workers) enables the
 *   accelerator: 1, because the workers already run in parallel; 2 threads each for 2 workers plus
 *   the main thread would put 6 busy threads on 2 cores, and OpenBLAS's spinning threads then slow
 *   every product down.
 */
export function defaultThreads(): { threads: number; why: string } {
  const fromEnv = process.env['MTL_BLAS_THREADS']?.trim();
  if (fromEnv) {
    const threads = Number(fromEnv);
    if (!Number.isInteger(threads) || threads < 1) {
      throw new MtlError('INVALID_OPTION', `MTL_BLAS_THREADS=${JSON.stringify(fromEnv)} is not a positive integer`, {
        option: 'MTL_BLAS_THREADS',
        value: fromEnv,
      });
    }
    return { threads, why: 'MTL_BLAS_THREADS' };
  }
  if (!isMainThread) return { threads: 1, why: 'worker threads run in parallel already' };
  return { threads: availableParallelism(), why: 'one per core' };
}

/** Applies {@link defaultThreads} (a worker never raises the count the main thread set). */
export function applyThreads(addon: BlasAddon): { threads: number; why: string } {
  const wanted = defaultThreads();
  const threads = isMainThread || wanted.why === 'MTL_BLAS_THREADS' ? wanted.threads : Math.min(wanted.threads, addon.getThreads());
  addon.setThreads(threads);
  return { threads, why: wanted.why };
}
