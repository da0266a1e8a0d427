import type { BenchmarkResults } from '../results.js';
import { mean, std } from '../results.js';

/** One row of the summary table: mean ± std over seeds of every scored metric, Δm, wall time, size. */
export interface SummaryRow {
  readonly method: string;
  readonly family: string;
  readonly status: 'ok' | 'failed';
  readonly error?: string;
  readonly seeds: number;
  readonly cells: readonly { readonly mean: number; readonly std: number }[];
  readonly deltaM?: { readonly mean: number; readonly std: number };
  readonly wallSeconds: number;
  readonly params: number;
}

export interface SummaryColumn {
  readonly task: string;
  readonly metric: string;
  readonly direction: 'higher' | 'lower';
}

export function summaryColumns(results: BenchmarkResults): SummaryColumn[] {
  return Object.entries(results.targets).flatMap(([task, metrics]) => Object.entries(metrics).map(([metric, direction]) => ({ task, metric, direction })));
}

export function summaryRows(results: BenchmarkResults): SummaryRow[] {
  const columns = summaryColumns(results);
  return Object.entries(results.methods).map(([method, r]) => {
    const cells = columns.map((c) => {
      const values = r.seeds.map((s) => s.test[c.task]?.[c.metric]).filter((v): v is number => typeof v === 'number');
      return { mean: mean(values), std: std(values) };
    });
    const deltas = r.seeds.map((s) => s.deltaM).filter((d): d is number => typeof d === 'number');
    return {
      method,
      family: r.family ?? '',
      status: r.status,
      ...(r.error ? { error: r.error } : {}),
      seeds: r.seeds.length,
      cells,
      ...(deltas.length ? { deltaM: { mean: mean(deltas), std: std(deltas) } } : {}),
      wallSeconds: mean(r.seeds.map((s) => s.wallMs)) / 1000,
      params: r.seeds[0]?.params ?? NaN,
    };
  });
}

/** Accuracy-like metrics (in [0, 1], higher is better) as percentages; others with 4 significant digits. */
export function formatMetric(metric: string, value: number): string {
  if (!Number.isFinite(value)) return '—';
  if (metric === 'accuracy') return (value * 100).toFixed(2);
  return Math.abs(value) >= 1000 ? value.toFixed(0) : value.toPrecision(4);
}

export function formatCell(metric: string, cell: { mean: number; std: number }, seeds: number): string {
  if (!Number.isFinite(cell.mean)) return '—';
  return seeds > 1 ? `${formatMetric(metric, cell.mean)} ± ${formatMetric(metric, cell.std)}` : formatMetric(metric, cell.mean);
}

export function columnTitle(c: SummaryColumn): string {
  return `${c.task} ${c.metric}${c.metric === 'accuracy' ? ' (%)' : ''} ${c.direction === 'higher' ? '↑' : '↓'}`;
}

export function formatDeltaM(d: { mean: number; std: number } | undefined, seeds: number): string {
  if (!d) return '—';
  const sign = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;
  return seeds > 1 ? `${sign(d.mean)} ± ${d.std.toFixed(2)}` : sign(d.mean);
}

/** The transference paper's Tables 2 and 5 (test accuracy %, left / right) for `--preset transference`. */
export const TRANSFERENCE_PAPER: Readonly<Record<string, Readonly<Record<string, readonly [number, number]>>>> = {
  multimnist: { STL: [89.4, 87.8], EW: [89.01, 86.11], PCGrad: [88.92, 86.61], 'IT-MTL': [89.12, 86.35], 'MGDA-UB': [89.38, 86.81], UW: [90.77, 88.36], 'IT-UW-PCGrad': [90.94, 88.61] },
  multifashion: { STL: [80.31, 78.63], EW: [78.09, 77.15], PCGrad: [77.19, 75.42], 'IT-MTL': [78.89, 78.22], 'MGDA-UB': [78.59, 77.08], UW: [80.82, 79.95], 'IT-UW-PCGrad': [81.1, 80.65] },
};
