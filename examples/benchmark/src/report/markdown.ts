import type { BenchmarkResults } from '../results.js';
import { TRANSFERENCE_PAPER, columnTitle, formatCell, formatDeltaM, formatMetric, summaryColumns, summaryRows } from './summary.js';

/** results.md: per-task metrics, Δm vs single-task (mean ± std over seeds), wall time, parameters; failures; paper numbers for the transference preset. */
export function renderMarkdown(results: BenchmarkResults): string {
  const { config } = results;
  const columns = summaryColumns(results);
  const rows = summaryRows(results);
  const lines: string[] = [];
  lines.push(`# Benchmark: ${results.dataset}`, '');
  lines.push(
    `${config.architecture}, ${config.epochs} epochs, batch ${config.batchSize}, ${config.optimizer.kind} lr ${config.optimizer.learningRate}, seeds ${config.seeds.join(', ')}` +
      `${config.preset ? `, preset ${config.preset}` : ''}${config.quick ? ' (quick)' : ''}; sizes ${JSON.stringify(config.datasetOptions.sizes)}.`,
    `Test metrics, mean ± std over seeds. Δm (%): mean relative change against STL (${results.baseline ? 'positive is better' : 'STL not available: no Δm'}).`,
    '',
  );
  lines.push(`| method | family | ${columns.map(columnTitle).join(' | ')} | Δm (%) ↑ | wall time (s) | parameters |`);
  lines.push(`|---|---|${columns.map(() => '---:').join('|')}|---:|---:|---:|`);
  for (const r of rows) {
    const status = r.status === 'failed' ? ' ⚠' : '';
    lines.push(
      `| ${r.method}${status} | ${r.family} | ${r.cells.map((c, i) => formatCell(columns[i]!.metric, c, r.seeds)).join(' | ')} | ${formatDeltaM(r.deltaM, r.seeds)} | ${Number.isFinite(r.wallSeconds) ? r.wallSeconds.toFixed(1) : '—'} | ${Number.isFinite(r.params) ? r.params.toLocaleString('en-US') : '—'} |`,
    );
  }
  const failed = rows.filter((r) => r.status === 'failed');
  if (failed.length) {
    lines.push('', '## Failed', '');
    for (const r of failed) lines.push(`- **${r.method}**: ${r.error ?? 'failed'}`);
  }
  const paper = config.preset === 'transference' ? TRANSFERENCE_PAPER[results.dataset] : undefined;
  if (paper) {
    lines.push('', "## Beside the transference paper (Fifty et al. 2020, Tables 2 and 5; test accuracy %)", '');
    lines.push('| method | ours left | paper left | ours right | paper right |', '|---|---:|---:|---:|---:|');
    for (const r of rows) {
      const p = paper[r.method];
      const ours = (task: string) => {
        const i = columns.findIndex((c) => c.task === task && c.metric === 'accuracy');
        return i >= 0 && r.cells[i] ? formatMetric('accuracy', r.cells[i].mean) : '—';
      };
      lines.push(`| ${r.method} | ${ours('left')} | ${p ? p[0].toFixed(2) : '—'} | ${ours('right')} | ${p ? p[1].toFixed(2) : '—'} |`);
    }
    lines.push('', 'The paper trains on 100k MultiMNIST images for 100 epochs; see the README for how our sizes differ.');
  }
  return `${lines.join('\n')}\n`;
}
