/**
 * Whether a worker thread has stopped, asked synchronously. The main thread waits for gradient
 * workers in `Atomics.wait`, with its event loop stopped, so the `exit` event of a worker that was
 * terminated (`worker.terminate()`, an out-of-memory kill) cannot reach it, and a terminated thread
 * runs no exit handler that could set the shared status word. What does answer synchronously is the
 * worker's event-loop clock: Node reads it under the worker's lock and reports an idle time of -1
 * once the thread is stopped (`eventLoopUtilization()` of a stopped worker).
 *
 * Before the main thread has seen the worker come online (a pool made with
 * `createGradientWorkersSync` and never awaited) this cannot tell, and answers false; the status
 * word and the timeout still apply then.
 */
import type { Worker } from 'node:worker_threads';

/** How often a waiting main thread looks at the workers' status (ms): short, so an exit is seen at once. */
export const POLL_MS = 20;

export function workerStopped(worker: Worker): boolean {
  try {
    return worker.performance.eventLoopUtilization().idle < 0;
  } catch {
    // A handle that is already gone.
    return true;
  }
}
