import { mkdir, readFile, rename, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { architectureEntry, viewFor } from './architectures.js';
import { buildJobs, type BenchmarkConfig } from './config.js';
import { buildData } from './data.js';
import { runJobsInWorkers } from './executor.js';
import type { JobResult, JobSpec } from './job.js';
import { findMethod } from './methods/index.js';
import { silentProgress, type ProgressView } from './progress.js';
import { assembleResults, type BenchmarkResults } from './results.js';
import { renderMarkdown } from './report/markdown.js';
import { renderHtml } from './report/html.js';

export interface RunOptions {
  readonly progress?: ProgressView;
  readonly signal?: AbortSignal;
}

/** What a finished job leaves in `<out>/jobs/<id>.json`: its spec (to tell a changed config) and its result. */
interface StoredJob {
  readonly spec: JobSpec;
  readonly result: JobResult;
}

/**
 * Runs a benchmark into `config.out`: every (method, seed) job not already completed there (a job
 * whose stored spec equals the new one and that succeeded is skipped; failed jobs run again), in
 * worker processes, then writes results.json, results.md and report.html. A job killed mid-way
 * resumes from its last epoch checkpoint in `<out>/checkpoints/<id>/`.
 */
export async function runBenchmark(config: BenchmarkConfig, options: RunOptions = {}): Promise<BenchmarkResults> {
  const progress = options.progress ?? silentProgress;
  const jobsDir = join(config.out, 'jobs');
  await mkdir(jobsDir, { recursive: true });
  // Build the data once here: a missing dataset fails at once, and the workers hit the disk cache.
  const data = viewFor(architectureEntry(config.architecture), buildData(config.dataset, config.datasetOptions));
  const families = Object.fromEntries(config.methods.map((m) => [m, findMethod(m).family]));

  const jobs = buildJobs(config);
  // Every job of the run as plain JSON, for other executors (src/job-cli.ts runs one).
  await writeAtomic(join(config.out, 'jobs.json'), `${JSON.stringify(jobs, null, 2)}\n`);
  const done = new Map<string, JobResult>();
  for (const job of jobs) {
    const stored = await readStored(join(jobsDir, `${job.id}.json`));
    if (stored && stored.result.status === 'ok' && sameJob(stored.spec, job)) done.set(job.id, stored.result);
  }
  // Longest first, so the last jobs to finish are short ones (less idle time at the end).
  const cost = (j: JobSpec) => findMethod(j.method).cost ?? 1;
  const pending = jobs.filter((j) => !done.has(j.id)).sort((a, b) => cost(b) - cost(a));
  progress.begin(jobs.length, done.size);
  try {
    await runJobsInWorkers(pending, {
      concurrency: config.jobs,
      ...(options.signal ? { signal: options.signal } : {}),
      onStart: (job) => progress.start(job),
      onProgress: (p) => progress.progress(p),
      onResult: async (result) => {
        const spec = jobs.find((j) => j.id === result.id)!;
        await writeAtomic(join(jobsDir, `${result.id}.json`), JSON.stringify({ spec, result } satisfies StoredJob));
        done.set(result.id, result);
        progress.finish(result);
      },
    });
  } finally {
    progress.end();
  }
  if (options.signal?.aborted) throw new Error('benchmark interrupted; run the same command again to continue');
  // Finished jobs remove their checkpoints; drop the folder once nothing is left in it.
  await rmdir(join(config.out, 'checkpoints')).catch(() => {});
  const results = assembleResults(config, jobs.map((j) => done.get(j.id)).filter((r): r is JobResult => r !== undefined), data.tasks, data.targets, families);
  await writeAtomic(join(config.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeAtomic(join(config.out, 'results.md'), renderMarkdown(results));
  await writeAtomic(join(config.out, 'report.html'), await renderHtml(results));
  return results;
}

/** Same job, compared as JSON (the stored spec went through JSON) and wherever the output folder now is. */
function sameJob(stored: JobSpec, job: JobSpec): boolean {
  const plain = ({ checkpointDir: _dir, ...rest }: JobSpec) => JSON.parse(JSON.stringify(rest)) as unknown;
  return isDeepStrictEqual(plain(stored), plain(job));
}

async function readStored(path: string): Promise<StoredJob | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as StoredJob;
  } catch {
    return undefined;
  }
}

/** Write to a temporary file and rename, so a kill never leaves a half-written file behind. */
async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}
