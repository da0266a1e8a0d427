import { describe, expect, it } from 'vitest';
import { renderCsv, renderJson, renderMarkdown, type MetricDirections, type ResultRow } from '../src/index.js';
import { code } from './helpers.js';

const directions: MetricDirections = { left: { acc: 'higher' }, right: { err: 'lower' } };
const rows: ResultRow[] = [
  { method: 'STL', results: { left: { acc: 0.8 }, right: { err: 0.2 } } },
  { method: 'EW, "joint"', results: { left: { acc: 0.88 }, right: { err: 0.25 } } },
];
// EW vs STL: left +0.1, right −0.25 → Δm = −7.5 %.

describe('results tables', () => {
  it('renders Markdown with directions and Δm', () => {
    expect(renderMarkdown(rows, { directions, baseline: 'STL', digits: 2 })).toBe(
      [
        '| method | left acc ↑ | right err ↓ | Δm (%) ↑ |',
        '|---|---:|---:|---:|',
        '| STL | 0.80 | 0.20 | +0.00 |',
        '| EW, "joint" | 0.88 | 0.25 | -7.50 |',
      ].join('\n'),
    );
  });

  it('renders CSV with quoting', () => {
    expect(renderCsv(rows, { directions, baseline: 'STL', digits: 3 })).toBe(
      'method,left/acc,right/err,delta_m_percent\nSTL,0.800,0.200,0.000\n"EW, ""joint""",0.880,0.250,-7.500\n',
    );
  });

  it('renders JSON at full precision', () => {
    const parsed = JSON.parse(renderJson(rows, { directions, baseline: 'STL' })) as {
      columns: { task: string; metric: string; direction: string }[];
      rows: { method: string; values: number[]; deltaM: number }[];
    };
    expect(parsed.columns).toEqual([
      { task: 'left', metric: 'acc', direction: 'higher' },
      { task: 'right', metric: 'err', direction: 'lower' },
    ]);
    expect(parsed.rows[1]!.values).toEqual([0.88, 0.25]);
    expect(parsed.rows[1]!.deltaM).toBeCloseTo(-7.5, 10);
  });

  it('plain tables need no directions', () => {
    expect(renderMarkdown(rows.slice(0, 1), { digits: 1 })).toBe('| method | left acc | right err |\n|---|---:|---:|\n| STL | 0.8 | 0.2 |');
  });

  it('mismatched rows and bad options are typed errors', () => {
    const missing: ResultRow = { method: 'MGDA', results: { left: { acc: 0.9 } } };
    expect(code(() => renderMarkdown([...rows, missing]))).toBe('SHAPE_MISMATCH');
    expect(() => renderCsv([...rows, missing])).toThrow(/"MGDA" has no value for task "right", metric "err"/);
    expect(code(() => renderMarkdown(rows, { baseline: 'STL' }))).toBe('INVALID_OPTION');
    expect(code(() => renderMarkdown(rows, { directions, baseline: 'nope' }))).toBe('INVALID_OPTION');
    expect(code(() => renderMarkdown([rows[0]!, rows[0]!]))).toBe('INVALID_OPTION');
    expect(code(() => renderJson([]))).toBe('EMPTY_DATA');
  });
});
