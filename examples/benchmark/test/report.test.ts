import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config.js';
import { renderHtml } from '../src/report/html.js';
import { renderMarkdown } from '../src/report/markdown.js';
import type { BenchmarkResults, SeedResult } from '../src/results.js';

const CHROMIUM = '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) console.warn(`report.test.ts: skipping the headless-browser check: ${CHROMIUM} is not installed (apt-get install chromium; .ci/run installs it)`);

/** Results with every kind of record, so every chart of the report is drawn. */
function sampleResults(): BenchmarkResults {
  const config = resolveConfig({}, { quick: true, methods: ['STL', 'EW', 'group-update', 'IT-MTL', 'ForkMerge', 'CoNAL'], seeds: [0, 1], out: tmpdir() });
  const seed = (s: number, accuracy: number, extra: Partial<SeedResult> = {}): SeedResult => ({
    seed: s,
    deltaM: (accuracy - 0.8) * 100 + s,
    wallMs: 1000 + 500 * s,
    test: { left: { loss: 0.5, accuracy }, right: { loss: 0.6, accuracy: accuracy - 0.02 } },
    params: 22350,
    history: [1, 2, 3].map((e) => ({ epoch: e - 1, trainLoss: { left: 1 / e, right: 1.2 / e }, seconds: 1 })),
    ...extra,
  });
  const affinity = (kind: string) => ({ tasks: ['left', 'right'], matrix: [[0.02, -0.01], [0.005, 0.03]], kind });
  return {
    dataset: 'multimnist',
    config,
    targets: { left: { accuracy: 'higher' }, right: { accuracy: 'higher' } },
    baseline: 'STL',
    methods: {
      STL: { status: 'ok', family: 'baseline', seeds: [seed(0, 0.8), seed(1, 0.8)] },
      EW: { status: 'ok', family: 'loss weighting', seeds: [seed(0, 0.78), seed(1, 0.79)] },
      'group-update': { status: 'ok', family: 'method package', seeds: [seed(0, 0.81, { affinity: affinity('proximal'), groups: [{ step: 0, groups: [['left'], ['right']] }, { step: 100, groups: [['left', 'right']] }] })] },
      'IT-MTL': { status: 'ok', family: 'method package', seeds: [seed(0, 0.805, { affinity: affinity('lookahead') })] },
      ForkMerge: { status: 'ok', family: 'outer loop', seeds: [seed(0, 0.82, { lambdas: [0.2, 0.4, 0.6] }), seed(1, 0.83, { lambdas: [0, 0.2, 0.2] })] },
      CoNAL: { status: 'failed', error: 'package @mtl/conal is not installed', family: 'method package', seeds: [seed(0, 0.79, { architecture: { branchPoints: { left: 2, right: 3 }, parameters: 30000 } })] },
    },
  };
}

describe('report', () => {
  it('results.md lists every method with mean ± std, Δm and failures', () => {
    const md = renderMarkdown(sampleResults());
    expect(md).toContain('| EW | loss weighting | 78.50 ± 0.71 | 76.50 ± 0.71 |');
    expect(md).toMatch(/## Failed\n\n- \*\*CoNAL\*\*: package @mtl\/conal is not installed/);
  });

  it('the transference preset puts the paper\'s Table 2 beside our accuracies', () => {
    const results = sampleResults();
    const md = renderMarkdown({ ...results, config: { ...results.config, preset: 'transference' } });
    expect(md).toContain('| EW | 78.50 | 89.01 | 76.50 | 86.11 |');
    expect(md).toContain('| STL | 80.00 | 89.40 | 78.00 | 87.80 |');
    expect(renderMarkdown(results)).not.toContain('transference paper');
  });

  it.skipIf(!existsSync(CHROMIUM))(`renders in headless Chromium: every plot visible and non-empty, no console errors, no network${existsSync(CHROMIUM) ? '' : ' (skipped: /usr/bin/chromium is not installed; apt-get install chromium)'}`, async () => {
    const { chromium } = await import('playwright-core');
    const dir = mkdtempSync(join(tmpdir(), 'mtl-bench-report-'));
    const file = join(dir, 'report.html');
    writeFileSync(file, await renderHtml(sampleResults()));
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      const requests: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith('file:')) requests.push(r.url());
      });
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
      expect(await page.title()).toBe('@mtl benchmark: multimnist');
      const ids = await Promise.all((await page.locator('figure.plot').all()).map(async (f) => (await f.getAttribute('id')) ?? ''));
      expect(ids).toEqual(['loss-curves', 'delta-m', 'accuracy-vs-time', 'affinity-group-update', 'affinity-it-mtl', 'groups-group-update', 'forkmerge-lambdas', 'derived-architecture']);
      for (const id of ids) {
        const svg = page.locator(`#${id} svg`);
        await expect(svg.isVisible()).resolves.toBe(true);
        const box = await svg.boundingBox();
        expect(box, id).not.toBeNull();
        expect(box!.width, id).toBeGreaterThan(100);
        expect(box!.height, id).toBeGreaterThan(50);
        // Non-empty: marks were drawn (paths, rects or symbols inside the marks groups).
        const marks = await page.locator(`#${id} svg g.mark-line path, #${id} svg g.mark-rect path, #${id} svg g.mark-symbol path, #${id} svg g.mark-rule line, #${id} svg g.mark-text text`).count();
        expect(marks, id).toBeGreaterThan(0);
      }
      const rows = await page.locator('table tbody tr').count();
      expect(rows).toBe(6);
      expect(problems).toEqual([]);
      expect(requests).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
