import type { Task } from '../tasks.js';

/**
 * Splits tasks into `workers + 1` contiguous shares in order: the main thread's first, then one per
 * worker. Sizes differ by at most one; the larger shares go to the workers, since the main thread
 * also copies parameters in and results out, but the main thread never idles while a worker works.
 */
export function splitTasks(tasks: readonly Task[], workers: number): Task[][] {
  const parts = workers + 1;
  const small = Math.floor(tasks.length / parts);
  const larger = tasks.length % parts;
  const shares: Task[][] = [];
  let at = 0;
  for (let p = 0; p < parts; p++) {
    // Part 0 is the main thread's; the last `larger` parts get one more (the first ones when small is 0).
    const size = small + (small === 0 ? (p < larger ? 1 : 0) : p >= parts - larger ? 1 : 0);
    shares.push(tasks.slice(at, at + size));
    at += size;
  }
  return shares;
}
