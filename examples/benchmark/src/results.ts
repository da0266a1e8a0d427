import type { Task } from '@mtl/core';
import { deltaM, type MetricDirections, type MetricTable } from '@mtl/metrics';
import type { BenchmarkConfig } from './config.js';
import type { JobOutput, JobResult } from './job.js';

/** One seed of one method in results.json. */
export type SeedResult = { readonly seed: number; readonly deltaM: number | null; readonly wallMs: number } & JobOutput;

export interface MethodResults {
  readonly status: 'ok' | 'failed';
  readonly error?: string;
  readonly family?: string;
  readonly seeds: readonly SeedResult[];
}

/** results.json. */
export interface BenchmarkResults {
  readonly dataset: string;
  readonly config: BenchmarkConfig;
  /** Tasks scored in the tables and Δm, with each metric's direction. */
  readonly targets: MetricDirections;
  /** The Δm baseline (`STL`), or null when it was not run or failed. */
  readonly baseline: string | null;
  readonly methods: Readonly<Record<string, MethodResults>>;
}

/** Directions of the scored metrics (every metric but the loss) of the target tasks. */
export function targetDirections(tasks: readonly Task[], targets: readonly string[]): MetricDirections {
  return Object.fromEntries(
    tasks.filter((t) => targets.includes(t.name)).map((t) => [t.name, Object.fromEntries(Object.entries(t.metrics).map(([m, metric]) => [m, metric.higherIsBetter ? 'higher' : 'lower']))]),
  );
}

/** The scored part of a test record: target tasks, metrics with a direction. */
export function scoredTable(test: JobOutput['test'], directions: MetricDirections): MetricTable {
  return Object.fromEntries(Object.entries(directions).map(([task, metrics]) => [task, Object.fromEntries(Object.keys(metrics).map((m) => [m, test[task]?.[m] ?? NaN]))]));
}

/** Mean over seeds of each scored metric. */
export function meanTable(tables: readonly MetricTable[], directions: MetricDirections): MetricTable {
  return Object.fromEntries(
    Object.entries(directions).map(([task, metrics]) => [task, Object.fromEntries(Object.keys(metrics).map((m) => [m, mean(tables.map((t) => t[task]![m]!))]))]),
  );
}

/**
 * Assembles results.json from the job results, in the configured method and seed order. Δm
 * (averaged within each task first, then over tasks; in %) of every seed is taken against the STL
 * mean over its seeds.
 */
export function assembleResults(config: BenchmarkConfig, results: readonly JobResult[], tasks: readonly Task[], targets: readonly string[], families: Readonly<Record<string, string>> = {}): BenchmarkResults {
  const directions = targetDirections(tasks, targets);
  const byMethod = new Map<string, JobResult[]>();
  for (const r of results) byMethod.set(r.method, [...(byMethod.get(r.method) ?? []), r]);
  const okOf = (method: string) => (byMethod.get(method) ?? []).filter((r): r is Extract<JobResult, { status: 'ok' }> => r.status === 'ok');
  const stl = okOf('STL');
  const stlComplete = config.methods.includes('STL') && stl.length === config.seeds.length;
  const baseline = stlComplete ? meanTable(stl.map((r) => scoredTable(r.test, directions)), directions) : undefined;

  const methods: Record<string, MethodResults> = {};
  for (const method of config.methods) {
    const jobs = config.seeds.map((seed) => (byMethod.get(method) ?? []).find((r) => r.seed === seed));
    const failed = jobs.filter((r): r is Extract<JobResult, { status: 'failed' }> => r?.status === 'failed');
    const missing = jobs.filter((r) => r === undefined).length;
    const seeds: SeedResult[] = okOf(method)
      .sort((a, b) => config.seeds.indexOf(a.seed) - config.seeds.indexOf(b.seed))
      .map(({ id: _id, method: _m, status: _s, seed, wallMs, ...output }) => ({
        seed,
        deltaM: baseline ? deltaM(scoredTable(output.test, directions), baseline, directions, { average: 'tasks' }) : null,
        wallMs,
        ...output,
      }));
    const errors = [...new Set(failed.map((f) => f.error))];
    if (missing > 0) errors.push(`${missing} job(s) did not run`);
    methods[method] = {
      status: errors.length ? 'failed' : 'ok',
      ...(errors.length ? { error: failed.length ? `${failed.map((f) => `seed ${f.seed}`).join(', ')}: ${errors.join('; ')}` : errors.join('; ') } : {}),
      ...(families[method] ? { family: families[method] } : {}),
      seeds,
    };
  }
  return { dataset: config.dataset, config, targets: directions, baseline: baseline ? 'STL' : null, methods };
}

export function mean(values: readonly number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}

/** Sample standard deviation (n − 1); 0 for a single value. */
export function std(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  return Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / (values.length - 1));
}

/** results.json without timings, for comparing two runs (resume equals an uninterrupted run). */
export function withoutTimings(results: BenchmarkResults): unknown {
  return JSON.parse(
    JSON.stringify(results, (key, value: unknown) => (key === 'wallMs' || key === 'seconds' || key === 'stepsPerSecond' || key === 'out' || key === 'jobs' ? undefined : value)),
  );
}
