import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { JobProgress, JobResult, JobSpec } from './job.js';
import type { WorkerMessage } from './worker-protocol.js';

export interface ExecutorEvents {
  onStart?(job: JobSpec): void;
  onProgress?(progress: JobProgress): void;
  /** Called as each job ends, in completion order (persist it here: a later job may never end). */
  onResult?(result: JobResult): void | Promise<void>;
}

export interface ExecutorOptions extends ExecutorEvents {
  /** Jobs run at once, each in its own process. */
  readonly concurrency: number;
  readonly signal?: AbortSignal;
}

/**
 * Runs jobs in separate worker processes (`child_process.fork`, one process per job, each with its
 * own tfjs), `concurrency` at a time. A worker that dies without a result (crash, out of memory,
 * killed) yields a `failed` result with the exit reason and its last stderr lines; the other jobs go on.
 * The jobs are plain JSON, so another executor (a distributed engine) can take this one's place.
 */
export async function runJobsInWorkers(jobs: readonly JobSpec[], options: ExecutorOptions): Promise<JobResult[]> {
  const results: JobResult[] = [];
  const queue = [...jobs];
  const running = new Set<ChildProcess>();
  const abort = () => {
    for (const child of running) child.kill('SIGTERM');
  };
  options.signal?.addEventListener('abort', abort, { once: true });
  const lane = async () => {
    for (;;) {
      if (options.signal?.aborted) return;
      const job = queue.shift();
      if (!job) return;
      options.onStart?.(job);
      const result = await runInChild(job, options, running);
      if (options.signal?.aborted) return;
      results.push(result);
      await options.onResult?.(result);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, jobs.length)) }, lane));
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
  return results;
}

function workerEntry(): { path: string; execArgv: string[] } {
  const here = import.meta.url;
  const typescript = here.endsWith('.ts');
  const path = fileURLToPath(new URL(`./worker.${typescript ? 'ts' : 'js'}`, here));
  if (!typescript) return { path, execArgv: [] };
  const tsx = pathToFileURL(createRequire(here).resolve('tsx')).href;
  return { path, execArgv: ['--conditions=@mtl/source', '--import', tsx] };
}

function runInChild(job: JobSpec, events: ExecutorEvents, running: Set<ChildProcess>): Promise<JobResult> {
  const started = performance.now();
  const { path, execArgv } = workerEntry();
  return new Promise((resolve) => {
    const child = fork(path, [], { execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json' });
    running.add(child);
    let result: JobResult | undefined;
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
    });
    child.on('message', (message: WorkerMessage) => {
      if (message.type === 'progress') events.onProgress?.(message.progress);
      else if (message.type === 'result') result = message.result;
    });
    child.on('error', (error) => {
      stderr += `\n${error.message}`;
    });
    child.on('exit', (code, signal) => {
      running.delete(child);
      if (result) return resolve(result);
      const lastLines = stderr.trim().split('\n').slice(-3).join(' | ');
      resolve({
        id: job.id,
        method: job.method,
        seed: job.seed,
        status: 'failed',
        error: `worker process ended without a result (${signal ? `signal ${signal}` : `exit code ${code}`})${lastLines ? `: ${lastLines}` : ''}`,
        wallMs: performance.now() - started,
      });
    });
    child.send({ type: 'run', job });
  });
}
