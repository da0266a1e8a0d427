import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import './setup.js';
import { MtlError, ParamSnapshot, hardSharingMlp, inMemoryDataset, weightedSum, type MultiTaskModel } from '@mtl/core';
import { forkMerge, type ForkMergeOptions, type ForkMergeResult } from '../src/index.js';
import { auxProblem, type AuxProblemOptions } from './fixtures/synthetic.js';

const problem: AuxProblemOptions = { kind: 'helps', seed: 5, trainSize: 96, noise: 1.0, inputSize: 8 };
const p = auxProblem(problem);
const build = (): MultiTaskModel => hardSharingMlp({ inputSize: p.inputSize, tasks: p.tasks, trunk: [4], head: [], seed: 0 });
const base = { tasks: p.tasks, train: p.train, validation: p.validation, target: 'target', batchSize: 16, progress: false, optimizer: { kind: 'adam', learningRate: 0.01 } } as const;

async function caught(run: Promise<unknown>): Promise<MtlError> {
  try {
    await run;
  } catch (error) {
    expect(error).toBeInstanceOf(MtlError);
    return error as MtlError;
  }
  throw new Error('expected the run to fail');
}

describe('branch workers that fail', () => {
  const setupModule = new URL('./fixtures/faulty-worker-setup.ts', import.meta.url);
  const rule = () => weightedSum();

  it('a hanging worker fails the run with WORKER_FAILED naming branch and round, within the timeout', async () => {
    const m = build();
    const started = Date.now();
    const error = await caught(
      forkMerge({ ...base, model: m, interval: 4, rounds: 3, rule, workers: { setupModule, setupArgs: { problem, fault: 'hang', branch: 'all', atStep: 6 }, timeoutMs: 4000 } }),
    );
    expect(error.code).toBe('WORKER_FAILED');
    expect(error.details).toMatchObject({ branch: 'all', round: 1, timeoutMs: 4000 });
    expect(error.message).toMatch(/branch "all" did not finish training 4 steps within 4000 ms/);
    expect(Date.now() - started).toBeLessThan(60_000);
    m.dispose();
  });

  it('a worker that exits is WORKER_FAILED with its exit code, branch and round', async () => {
    const m = build();
    const error = await caught(forkMerge({ ...base, model: m, interval: 4, rounds: 3, rule, workers: { setupModule, setupArgs: { problem, fault: 'exit', branch: 'target', atStep: 9 } } }));
    expect(error.code).toBe('WORKER_FAILED');
    expect(error.details).toMatchObject({ branch: 'target', round: 2, exitCode: 9 });
    m.dispose();
  });
});

describe('a serial branch that diverges', () => {
  it('names the branch and round in the trainer error', async () => {
    const m = build();
    const error = await caught(forkMerge({ ...base, model: m, interval: 4, rounds: 2, optimizer: { kind: 'sgd', learningRate: 1e30 } }));
    expect(error.code).toMatch(/NON_FINITE/);
    expect(error.details).toMatchObject({ branch: 'target', round: 0 });
    expect(error.message).toMatch(/branch "target", round 0/);
    m.dispose();
  });
});

describe('bad input fails before any training', () => {
  const targets = (n: number) => ({ target: new Float32Array(n), aux: new Float32Array(n) });
  it('checks the validation set as the trainer checks training data', async () => {
    const m = build();
    const wrongWidth = inMemoryDataset({ x: new Float32Array(4 * (p.inputSize + 1)), inputShape: [p.inputSize + 1], targets: targets(4) });
    expect((await caught(forkMerge({ ...base, model: m, validation: wrongWidth, interval: 4, rounds: 1 }))).message).toMatch(/validation data/);
    const missing = inMemoryDataset({ x: new Float32Array(4 * p.inputSize), inputShape: [p.inputSize], targets: { target: new Float32Array(4) } });
    const error = await caught(forkMerge({ ...base, model: m, validation: missing, interval: 4, rounds: 1 }));
    expect(error.message).toMatch(/aux/);
    m.dispose();
  });

  it('rejects unknown and misspelled options, duplicate branch names and a NaN score function by name', async () => {
    const m = build();
    const typo = await caught(forkMerge({ ...base, model: m, interval: 4, rounds: 1, restoreBest: true } as unknown as ForkMergeOptions));
    expect(typo.details).toMatchObject({ option: 'restoreBest' });
    const workerTypo = await caught(forkMerge({ ...base, model: m, interval: 4, rounds: 1, workers: { setupModule: 'x.js', timeout: 5 } } as unknown as ForkMergeOptions));
    expect(workerTypo.details).toMatchObject({ option: 'workers.timeout' });
    const twins = await caught(forkMerge({ ...base, model: m, interval: 4, rounds: 1, branches: [{ name: 'b', weights: { target: 1 } }, { name: 'b', weights: { target: 1, aux: 1 } }] }));
    expect(twins.details).toMatchObject({ option: 'branches', value: 'b' });
    const nan = await caught(forkMerge({ ...base, model: m, interval: 4, rounds: 1, score: () => Number.NaN }));
    expect(nan.details).toMatchObject({ option: 'score' });
    expect(nan.message).toMatch(/round 0/);
    const orphan = await caught(forkMerge({ ...base, model: m, interval: 4, rounds: 1, resume: true }));
    expect(orphan.details).toMatchObject({ option: 'resume' });
    m.dispose();
  });
});

describe('checkpoints and resume', () => {
  const options = (m: MultiTaskModel, extra: Partial<ForkMergeOptions> = {}): ForkMergeOptions => ({ ...base, model: m, interval: 5, rounds: 4, branches: 'each-auxiliary', ...extra });
  const values = (m: MultiTaskModel) => Array.from(ParamSnapshot.capture(m).flatten());

  it.each([
    ['the paper protocol', {}],
    ["the authors' protocol", { branchCheckpoint: 'best', finalModel: 'best', search: 'greedy' }],
  ] as const)('a run killed after a round and resumed equals the uninterrupted run (%s)', async (_name, protocol) => {
    const dir = mkdtempSync(join(tmpdir(), 'mtl-forkmerge-run-'));
    try {
      const straight = build();
      const expected = await forkMerge(options(straight, protocol));

      const crashed = build();
      const crash = new Error('killed after round 1');
      await expect(
        forkMerge(
          options(crashed, {
            ...protocol,
            checkpoint: { dir },
            onRound: (r) => {
              if (r.round === 1) throw crash;
            },
          }),
        ),
      ).rejects.toBe(crash);

      const resumed = build();
      const result: ForkMergeResult = await forkMerge(options(resumed, { ...protocol, checkpoint: { dir }, resume: true }));
      expect(result.resumedAfterRound).toBe(1);
      expect(result.lambdas).toEqual(expected.lambdas);
      expect(result.weights).toEqual(expected.weights);
      expect(result.score).toBe(expected.score);
      expect(values(resumed)).toEqual(values(straight));
      for (const m of [straight, crashed, resumed]) m.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('resume with an empty folder starts afresh and says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtl-forkmerge-empty-'));
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const m = build();
      const result = await forkMerge(options(m, { rounds: 1, checkpoint: { dir }, resume: true }));
      expect(result.resumedAfterRound).toBeUndefined();
      await new Promise((r) => setImmediate(r));
      expect(warnings.some((w) => /no run in/.test(w))).toBe(true);
      m.dispose();
    } finally {
      process.off('warning', onWarning);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('progress', () => {
  it('prints a line per round start and merge with λ, score, elapsed and ETA', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _e, done) {
        lines.push(...String(chunk).trim().split('\n'));
        done();
      },
    });
    const events: string[] = [];
    const m = build();
    await forkMerge({ ...base, model: m, interval: 4, rounds: 2, progress: { stream }, onProgress: (e) => events.push(`${e.phase}${e.round}`) });
    expect(events).toEqual(['train0', 'search0', 'merged0', 'train1', 'search1', 'merged1']);
    expect(lines[0]).toMatch(/^forkmerge round 1\/2: training target, all for 4 steps \| 0:\d\d elapsed$/);
    expect(lines[1]).toMatch(/^forkmerge round 1\/2: merged target \+ all with λ \d\.\d\d, score -?[\d.e-]+ \| train [\d.]+s, search \d+ candidates [\d.]+s \| 0:\d\d elapsed, ETA 0:\d\d$/);
    expect(lines).toHaveLength(4);
    m.dispose();
  });
});
