import type { JobProgress, JobResult } from './job.js';

/** Messages a worker process sends its parent. */
export type WorkerMessage = { readonly type: 'progress'; readonly progress: JobProgress } | { readonly type: 'result'; readonly result: JobResult };
