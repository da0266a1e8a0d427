import { MtlError } from '@mtl/core';
import { alignTables, directionOf, tableValue, type MetricDirections, type MetricTable } from './metric-table.js';

/**
 * Signed relative change of every metric against a baseline: `(−1)^l (M − B) / |B|`, with
 * `l = 1` when lower is better, so a positive number always means "better than the baseline".
 * Dividing by |B| keeps the sign meaningful for negative baselines. Not a percentage.
 */
export function relativeChanges(method: MetricTable, baseline: MetricTable, directions: MetricDirections): Record<string, Record<string, number>> {
  const columns = alignTables(method, baseline, { table: 'method results', reference: 'baseline results' });
  const out: Record<string, Record<string, number>> = {};
  for (const column of columns) {
    const m = tableValue(method, column, 'method results');
    const b = tableValue(baseline, column, 'baseline results');
    if (b === 0) {
      throw new MtlError('INVALID_DATA', `baseline of task "${column.task}", metric "${column.metric}" is 0; relative change is undefined`, { ...column });
    }
    const sign = directionOf(directions, column) === 'lower' ? -1 : 1;
    (out[column.task] ??= {})[column.metric] = (sign * (m - b)) / Math.abs(b);
  }
  return out;
}

export interface DeltaMOptions {
  /**
   * How several metrics of one task are averaged: `'metrics'` (default) takes the plain mean over
   * every metric of every task, as Maninis et al. 2019 and the MTAN / Nash-MTL papers; `'tasks'`
   * averages within each task first, then over tasks (LibMTL's Δp, CoNAL's Δ_I).
   */
  readonly average?: 'metrics' | 'tasks';
}

/**
 * Δm (Maninis et al., CVPR 2019): mean relative improvement over single-task baselines, in percent.
 * Positive is better. With one metric per task both averaging modes agree.
 */
export function deltaM(method: MetricTable, baseline: MetricTable, directions: MetricDirections, options: DeltaMOptions = {}): number {
  const average = options.average ?? 'metrics';
  if (average !== 'metrics' && average !== 'tasks') {
    throw new MtlError('INVALID_OPTION', `option "average" must be "metrics" or "tasks", got ${JSON.stringify(average)}`, { option: 'average', value: average });
  }
  const changes = relativeChanges(method, baseline, directions);
  const perTask = Object.values(changes).map((metrics) => Object.values(metrics));
  if (average === 'metrics') {
    const all = perTask.flat();
    return (100 * all.reduce((a, b) => a + b, 0)) / all.length;
  }
  return (100 * perTask.reduce((sum, values) => sum + values.reduce((a, b) => a + b, 0) / values.length, 0)) / perTask.length;
}

/**
 * LibMTL's Δp: average the relative improvement within each task, then over tasks, in percent.
 * Same as `deltaM(..., { average: 'tasks' })`.
 */
export function deltaP(method: MetricTable, baseline: MetricTable, directions: MetricDirections): number {
  return deltaM(method, baseline, directions, { average: 'tasks' });
}

/**
 * Δ_I (CoNAL, Yue et al. AAAI 2023): `100% × (1/m) Σ_t (1/m_t) Σ_j (−1)^{p_tj} (M_tj − B_tj) / B_tj`.
 * The paper's text takes the single-task baseline as B; our spec compares against hard parameter
 * sharing. Pass whichever table you mean as `baseline`. The formula equals {@link deltaP}.
 */
export function deltaI(method: MetricTable, baseline: MetricTable, directions: MetricDirections): number {
  return deltaM(method, baseline, directions, { average: 'tasks' });
}
