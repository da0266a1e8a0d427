/**
 * Whether a worker thread has stopped, asked synchronously. The main thread waits for gradient
 * workers in `Atomics.wait`, with its event loop stopped, so the `exit` event of a worker that was
 * terminated (`worker.terminate()`, an out-of-memory kill) cannot reach it, and a terminated thread
 * runs no exit handler that could set the shared status word. What does answer synchronously is the
 * worker's event-loop clock: Node reads it under the worker's lock and reports an idle time of -1
 * once the thread is stopped (`eventLoopUtilization()` of a stopped worker).
 *
 * `eventLoopUtilization()` answers zeros until the main thread has seen the worker come online (a
 * pool made with `createGradientWorkersSync` and never awaited); the native handle behind it
 * (`loopIdleTime()`, Node's own `kHandle`) is then asked directly. Where neither exists this answers
 * false, and the status word and the timeout still apply.
 */
import type { Worker } from 'node:worker_threads';

/** How often a waiting main thread looks at the workers' status (ms): short, so an exit is seen at once. */
export const POLL_MS = 20;

interface WorkerHandle {
  loopIdleTime?(): number;
}

export function workerStopped(worker: Worker): boolean {
  try {
    const elu = worker.performance.eventLoopUtilization();
    if (elu.idle < 0) return true;
    if (elu.idle > 0 || elu.active > 0) return false;
    const handle = nativeHandle(worker);
    // No handle any more: Node dropped it at the worker's exit.
    if (handle === null) return true;
    return typeof handle?.loopIdleTime === 'function' ? handle.loopIdleTime() < 0 : false;
  } catch {
    return true;
  }
}

function nativeHandle(worker: Worker): WorkerHandle | null | undefined {
  const symbol = Object.getOwnPropertySymbols(worker).find((s) => s.description === 'kHandle');
  return symbol === undefined ? undefined : ((worker as unknown as Record<symbol, WorkerHandle | null>)[symbol] ?? null);
}
