import type { BenchmarkResults } from '../results.js';
import { buildCharts } from './charts.js';
import { renderSvg } from './render-svg.js';
import { TRANSFERENCE_PAPER, columnTitle, formatCell, formatDeltaM, formatMetric, summaryColumns, summaryRows } from './summary.js';

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * report.html: the summary table and every plot as inline SVG (rendered here, without a browser).
 * One self-contained file: no scripts, no external resources, so it opens from disk offline.
 */
export async function renderHtml(results: BenchmarkResults): Promise<string> {
  const charts = buildCharts(results);
  const figures: string[] = [];
  for (const chart of charts) {
    const svg = await renderSvg(chart.spec);
    figures.push(`<figure class="plot" id="${chart.id}"><h2>${escape(chart.title)}</h2>${svg}<figcaption>${escape(chart.caption)}</figcaption></figure>`);
  }
  const { config } = results;
  const columns = summaryColumns(results);
  const rows = summaryRows(results);
  const table = [
    '<table><thead><tr><th>method</th><th>family</th>',
    ...columns.map((c) => `<th>${escape(columnTitle(c))}</th>`),
    '<th>Δm (%) ↑</th><th>wall time (s)</th><th>parameters</th></tr></thead><tbody>',
    ...rows.map(
      (r) =>
        `<tr class="${r.status}"><td>${escape(r.method)}</td><td>${escape(r.family)}</td>${r.cells.map((c, i) => `<td>${escape(formatCell(columns[i]!.metric, c, r.seeds))}</td>`).join('')}` +
        `<td>${escape(formatDeltaM(r.deltaM, r.seeds))}</td><td>${Number.isFinite(r.wallSeconds) ? r.wallSeconds.toFixed(1) : '—'}</td><td>${Number.isFinite(r.params) ? r.params.toLocaleString('en-US') : '—'}</td></tr>`,
    ),
    '</tbody></table>',
  ].join('');
  const failed = rows.filter((r) => r.status === 'failed');
  const failures = failed.length ? `<section id="failures"><h2>Failed</h2><ul>${failed.map((r) => `<li><b>${escape(r.method)}</b>: ${escape(r.error ?? 'failed')}</li>`).join('')}</ul></section>` : '';
  const paper = config.preset === 'transference' ? TRANSFERENCE_PAPER[results.dataset] : undefined;
  const paperTable = paper
    ? `<section><h2>Beside the transference paper (Tables 2 and 5)</h2><table><thead><tr><th>method</th><th>ours left</th><th>paper left</th><th>ours right</th><th>paper right</th></tr></thead><tbody>${rows
        .map((r) => {
          const ours = (task: string) => {
            const i = columns.findIndex((c) => c.task === task && c.metric === 'accuracy');
            return i >= 0 && r.cells[i] ? formatMetric('accuracy', r.cells[i].mean) : '—';
          };
          const p = paper[r.method];
          return `<tr><td>${escape(r.method)}</td><td>${ours('left')}</td><td>${p ? p[0].toFixed(2) : '—'}</td><td>${ours('right')}</td><td>${p ? p[1].toFixed(2) : '—'}</td></tr>`;
        })
        .join('')}</tbody></table></section>`
    : '';
  const setup = `${escape(config.architecture)}, ${config.epochs} epochs, batch ${config.batchSize}, ${escape(config.optimizer.kind)} lr ${config.optimizer.learningRate}, seeds ${config.seeds.join(', ')}${config.preset ? `, preset ${escape(config.preset)}` : ''}${config.quick ? ' (quick)' : ''}; sizes ${escape(JSON.stringify(config.datasetOptions.sizes))}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>@mtl benchmark: ${escape(results.dataset)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font-family: sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: right; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
tr.failed td { color: #b00; }
figure.plot { margin: 2rem 0; }
figure.plot svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.85rem; }
</style></head>
<body>
<h1>@mtl benchmark: ${escape(results.dataset)}</h1>
<p>${setup}. Test metrics, mean ± std over seeds; Δm against ${results.baseline ? 'single-task learning (STL)' : 'nothing (STL was not run)'}.</p>
${table}
${failures}
${paperTable}
${figures.join('\n')}
</body></html>
`;
}
