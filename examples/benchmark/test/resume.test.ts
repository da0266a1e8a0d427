import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withoutTimings, type BenchmarkResults } from '../src/results.js';
import { runCli, startCli } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const read = (out: string) => JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as BenchmarkResults;

describe('resume', () => {
  it('a run killed mid-way (one job done, one mid-epoch with a checkpoint) continues and ends with the results of an uninterrupted run', async () => {
    const base = mkdtempSync(join(tmpdir(), 'mtl-bench-resume-'));
    const config = join(base, 'config.json');
    writeFileSync(config, JSON.stringify({ datasetOptions: { sizes: { train: 512, validation: 128, test: 128 } } }));
    // One job at a time, in order: EW, UW, DWA.
    const args = (out: string) => ['--quick', '--methods', 'EW,UW,DWA', '--epochs', '5', '--jobs', '1', '--config', config, '--out', out];

    const whole = join(base, 'whole');
    const reference = await runCli(args(whole));
    expect(reference.code, reference.output).toBe(0);

    const cut = join(base, 'cut');
    const first = startCli(args(cut));
    // Wait until EW is done and UW has written a checkpoint, then kill the whole process group (as a crash would).
    const uwCheckpoint = join(cut, 'checkpoints', 'uw--seed0', 'model', 'latest.json');
    const deadline = Date.now() + 120_000;
    while (!(existsSync(join(cut, 'jobs', 'ew--seed0.json')) && existsSync(uwCheckpoint)) && Date.now() < deadline) await sleep(10);
    process.kill(-first.child.pid!, 'SIGKILL');
    await first.done;
    expect(existsSync(uwCheckpoint), 'UW had a checkpoint when killed').toBe(true);
    expect(existsSync(join(cut, 'jobs', 'uw--seed0.json')), 'UW had not finished when killed').toBe(false);
    expect(existsSync(join(cut, 'results.json'))).toBe(false);

    const second = await runCli(args(cut));
    expect(second.code, second.output).toBe(0);
    expect(second.output).toMatch(/resuming: 1 of 3 jobs already done/);
    expect(second.output).toMatch(/UW seed 0: resumed at epoch [1-4]/);
    expect(second.output).not.toMatch(/start EW/);
    expect(withoutTimings(read(cut))).toEqual(withoutTimings(read(whole)));
  }, 300_000);
});
