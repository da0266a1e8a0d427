import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_METHODS } from '../src/methods/index.js';
import type { BenchmarkResults } from '../src/results.js';
import { buildJobs, resolveConfig } from '../src/config.js';
import type { JobResult } from '../src/job.js';
import { PACKAGE_DIR, runCli, startCli } from './helpers.js';

describe('pnpm benchmark --quick, end to end', () => {
  it('runs every default method on tiny data and writes results.json, results.md and report.html with plots', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mtl-bench-quick-'));
    const { code, output } = await runCli(['--quick', '--out', out, '--jobs', '2']);
    expect(code, output).toBe(0);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as BenchmarkResults;
    expect(results.dataset).toBe('multimnist');
    expect(Object.keys(results.methods)).toEqual([...DEFAULT_METHODS]);
    for (const [name, method] of Object.entries(results.methods)) {
      if (method.status === 'failed') {
        // Only the methods of packages written alongside the benchmark may fail (missing or unfinished), and they say why.
        expect(['group-update', 'IT-MTL', 'CoNAL'], name).toContain(name);
        expect(method.error, name).toMatch(/\w{5}/);
        continue;
      }
      expect(method.seeds, name).toHaveLength(1);
      const seed = method.seeds[0]!;
      expect(Object.keys(seed.test).sort(), name).toEqual(['left', 'right']);
      // A fraction of the 128 quick test images: in [0, 1] and a whole number of correct images.
      const accuracy = seed.test.left!.accuracy!;
      expect(accuracy, name).toBeGreaterThanOrEqual(0);
      expect(accuracy, name).toBeLessThanOrEqual(1);
      expect(Math.abs(accuracy * 128 - Math.round(accuracy * 128)), name).toBeLessThan(1e-6);
      expect(seed.history, name).toHaveLength(2);
      expect(typeof seed.deltaM, name).toBe('number');
      expect(seed.params, name).toBeGreaterThan(1000);
    }
    for (const name of ['STL', 'EW', 'UW', 'DWA', 'RLW', 'PCGrad', 'CAGrad', 'MGDA', 'Nash-MTL', 'ForkMerge']) expect(results.methods[name]!.status, name).toBe('ok');
    expect(results.methods.ForkMerge!.seeds[0]!.lambdas).toHaveLength(2);
    // STL is the baseline: its Δm against itself (one seed) is 0.
    expect(results.methods.STL!.seeds[0]!.deltaM).toBeCloseTo(0, 10);
    // Two single-task networks: more parameters than one shared network, fewer than two full copies' worth plus nothing.
    expect(results.methods.STL!.seeds[0]!.params).toBeGreaterThan(results.methods.EW!.seeds[0]!.params);
    expect(results.methods.STL!.seeds[0]!.params).toBeLessThan(2 * results.methods.EW!.seeds[0]!.params);
    const md = readFileSync(join(out, 'results.md'), 'utf8');
    for (const name of DEFAULT_METHODS) expect(md).toContain(`| ${name}`);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    for (const id of ['loss-curves', 'delta-m', 'accuracy-vs-time', 'forkmerge-lambdas']) expect(html).toContain(`id="${id}"`);
    expect(html.match(/<svg/g)!.length).toBeGreaterThanOrEqual(4);
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(existsSync(join(out, 'jobs', 'ew--seed0.json'))).toBe(true);
    expect((JSON.parse(readFileSync(join(out, 'jobs.json'), 'utf8')) as unknown[]).length).toBe(DEFAULT_METHODS.length);
  }, 300_000);

  it('a method that fails is reported with its reason; the others complete', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mtl-bench-fail-'));
    const config = join(out, 'config.json');
    await import('node:fs/promises').then((fs) => fs.writeFile(config, JSON.stringify({ methodOptions: { ForkMerge: { noSuchOption: 1 } } })));
    const { code, output } = await runCli(['--quick', '--methods', 'EW,ForkMerge', '--out', out, '--config', config]);
    expect(code, output).toBe(0);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as BenchmarkResults;
    expect(results.methods.EW!.status).toBe('ok');
    expect(results.methods.ForkMerge!.status).toBe('failed');
    expect(results.methods.ForkMerge!.error).toMatch(/unknown ForkMerge option "noSuchOption"/);
    expect(readFileSync(join(out, 'results.md'), 'utf8')).toMatch(/## Failed[\s\S]*ForkMerge/);
  }, 300_000);

  it('a worker process that dies (killed, out of memory) fails its job with the reason; the other job completes', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mtl-bench-crash-'));
    const config = join(out, 'config.json');
    writeFileSync(config, JSON.stringify({ datasetOptions: { sizes: { train: 512, validation: 128, test: 128 } } }));
    const run = startCli(['--quick', '--methods', 'EW,UW', '--epochs', '25', '--jobs', '2', '--config', config, '--out', out]);
    // Once both are training (each has written a checkpoint), kill one worker (the workers are the CLI's child processes).
    const deadline = Date.now() + 120_000;
    const seen = new Set<string>();
    while (seen.size < 2 && Date.now() < deadline) {
      for (const id of ['ew--seed0', 'uw--seed0']) if (existsSync(join(out, 'checkpoints', id, 'model', 'latest.json'))) seen.add(id);
      await new Promise((r) => setTimeout(r, 10));
    }
    const children = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(run.child.pid)], { encoding: 'utf8' }).trim().split('\n');
    const workers = children.filter((line) => line.includes('worker.ts')).map((line) => Number.parseInt(line, 10));
    expect(workers.length, children.join('\n')).toBe(2);
    process.kill(workers[0]!, 'SIGKILL');
    const { code, output } = await run.done;
    expect(code, output).toBe(0);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as BenchmarkResults;
    const statuses = Object.values(results.methods).map((m) => m.status).sort();
    expect(statuses).toEqual(['failed', 'ok']);
    const failed = Object.values(results.methods).find((m) => m.status === 'failed')!;
    expect(failed.error).toMatch(/worker process ended without a result \(signal SIGKILL\)/);
  }, 300_000);

  it('a job runs alone from its JSON description (src/job-cli.ts: spec on stdin, result on stdout), as another executor would run it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtl-bench-job-'));
    const config = resolveConfig({}, { quick: true, methods: ['EW'], out: dir });
    const [spec] = buildJobs(config);
    const child = spawn(process.execPath, ['--conditions=@mtl/source', '--import', 'tsx', fileURLToPath(new URL('../src/job-cli.ts', import.meta.url))], { cwd: PACKAGE_DIR, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin.end(JSON.stringify(spec));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout) as JobResult;
    expect(result).toMatchObject({ id: 'ew--seed0', method: 'EW', seed: 0, status: 'ok' });
    expect(Object.keys((result as Extract<JobResult, { status: 'ok' }>).test)).toEqual(['left', 'right']);
    expect(JSON.parse(stderr.trim().split('\n').at(-1)!)).toMatchObject({ id: 'ew--seed0', epochs: 2 });
  }, 300_000);

  it('an unknown method stops at once with the list of methods, before any job runs', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mtl-bench-unknown-'));
    const { code, output } = await runCli(['--quick', '--methods', 'EW,Magic', '--out', out]);
    expect(code).toBe(2);
    expect(output).toMatch(/unknown method "Magic"; available: STL, EW/);
    expect(existsSync(join(out, 'jobs'))).toBe(false);
  }, 300_000);
});
