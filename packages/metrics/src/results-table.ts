import { MtlError } from '@mtl/core';
import { invalidOption, isArray } from '@mtl/core/internal';
import { deltaM, type DeltaMOptions } from './relative-performance.js';
import { alignTables, directionOf, tableColumns, tableValue, type MetricColumn, type MetricDirections, type MetricTable } from './metric-table.js';
import { formatSigned } from './format.js';

/** One method's results: a row of a results table. */
export interface ResultRow {
  readonly method: string;
  readonly results: MetricTable;
}

export interface ResultsTableOptions {
  /** Metric directions; shown as ↑/↓ in headers and needed for the Δm column. */
  readonly directions?: MetricDirections;
  /** Name of the row to compare against: adds a `Δm (%)` column (requires `directions`). */
  readonly baseline?: string;
  /** How Δm averages several metrics of one task (see {@link deltaM}). */
  readonly deltaAverage?: DeltaMOptions['average'];
  /** Decimal places in Markdown and CSV. Default 4. */
  readonly digits?: number;
}

/** A results table with its columns checked and Δm computed: what every renderer draws. */
export interface ResultsTable {
  readonly columns: readonly (MetricColumn & { readonly direction?: 'higher' | 'lower' })[];
  readonly rows: readonly { readonly method: string; readonly values: readonly number[]; readonly deltaM?: number }[];
}

/**
 * Checks that every row has exactly the columns of the first (SHAPE_MISMATCH naming the method,
 * task and metric otherwise) and computes Δm against the baseline row.
 */
export function buildResultsTable(rows: readonly ResultRow[], options: ResultsTableOptions = {}): ResultsTable {
  if (!isArray(rows) || rows.length === 0) throw new MtlError('EMPTY_DATA', 'a results table needs at least one row', {});
  const first = rows[0]!;
  const columns = tableColumns(first.results, `results of "${first.method}"`);
  const seen = new Set<string>();
  for (const row of rows) {
    if (typeof row.method !== 'string' || row.method === '') invalidOption('method', row.method, 'a non-empty method name');
    if (seen.has(row.method)) invalidOption('method', row.method, 'unique method names');
    seen.add(row.method);
    alignTables(row.results, first.results, { table: `results of "${row.method}"`, reference: `results of "${first.method}"` });
  }
  const directions = options.directions;
  let baseline: ResultRow | undefined;
  if (options.baseline !== undefined) {
    baseline = rows.find((r) => r.method === options.baseline);
    if (!baseline) invalidOption('baseline', options.baseline, `the name of a row (${rows.map((r) => r.method).join(', ')})`);
    if (!directions) invalidOption('directions', directions, 'metric directions when a baseline is set');
  }
  return {
    columns: columns.map((c) => (directions ? { ...c, direction: directionOf(directions, c) } : c)),
    rows: rows.map((row) => {
      const values = columns.map((c) => tableValue(row.results, c, `results of "${row.method}"`));
      if (!baseline || !directions) return { method: row.method, values };
      return { method: row.method, values, deltaM: deltaM(row.results, baseline.results, directions, { average: options.deltaAverage ?? 'metrics' }) };
    }),
  };
}

/** A Markdown (GitHub) table: one row per method, one column per task/metric, ↑/↓ when directions are known. */
export function renderMarkdown(rows: readonly ResultRow[], options: ResultsTableOptions = {}): string {
  const table = buildResultsTable(rows, options);
  const digits = digitsOf(options);
  const header = ['method', ...table.columns.map((c) => `${c.task} ${c.metric}${arrow(c.direction)}`)];
  const hasDelta = options.baseline !== undefined;
  if (hasDelta) header.push('Δm (%) ↑');
  const escape = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    `| ${header.map(escape).join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...table.rows.map((r) => {
      const cells = [escape(r.method), ...r.values.map((v) => v.toFixed(digits))];
      if (hasDelta) cells.push(formatSigned(r.deltaM!, 2));
      return `| ${cells.join(' | ')} |`;
    }),
  ];
  return lines.join('\n');
}

/** CSV (RFC 4180 quoting) with columns `method,<task>/<metric>,...[,delta_m_percent]`. */
export function renderCsv(rows: readonly ResultRow[], options: ResultsTableOptions = {}): string {
  const table = buildResultsTable(rows, options);
  const digits = digitsOf(options);
  const quote = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const hasDelta = options.baseline !== undefined;
  const header = ['method', ...table.columns.map((c) => `${c.task}/${c.metric}`), ...(hasDelta ? ['delta_m_percent'] : [])];
  const lines = [header.map(quote).join(',')];
  for (const r of table.rows) {
    lines.push([quote(r.method), ...r.values.map((v) => v.toFixed(digits)), ...(hasDelta ? [r.deltaM!.toFixed(digits)] : [])].join(','));
  }
  return lines.join('\n') + '\n';
}

/** JSON of {@link buildResultsTable}'s result (full precision), pretty-printed. */
export function renderJson(rows: readonly ResultRow[], options: ResultsTableOptions = {}): string {
  return JSON.stringify(buildResultsTable(rows, options), null, 2);
}

function digitsOf(options: ResultsTableOptions): number {
  const digits = options.digits ?? 4;
  if (!Number.isInteger(digits) || digits < 0 || digits > 12) invalidOption('digits', digits, 'an integer in [0, 12]');
  return digits;
}

function arrow(direction: 'higher' | 'lower' | undefined): string {
  return direction === 'higher' ? ' ↑' : direction === 'lower' ? ' ↓' : '';
}

