/**
 * Resume equals the uninterrupted run in every configuration the trainer accepts: early stopping
 * off / on with restoreBest / on without it × a rule with state or without × gradient workers or
 * not. A child process trains and is SIGKILLed in the middle of an epoch (after its best epoch);
 * a fresh trainer and model here resume from what it left on disk. No timing is involved.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from './setup.js';
import { createGradientWorkers, type GradientWorkers } from '../src/index.js';
import { problemModel, problemTasks } from './fixtures/parallel-problem.js';
import { EPOCHS, KILL_EPOCH, problem, run, setupModule, type ResumeConfig } from './fixtures/resume-problem.js';

const child = fileURLToPath(new URL('./fixtures/resume-child.ts', import.meta.url));
const dirs: string[] = [];
let pool: GradientWorkers;
let poolModel: ReturnType<typeof problemModel>;

beforeAll(async () => {
  const tasks = problemTasks(problem.tasks);
  poolModel = problemModel(problem, tasks);
  pool = await createGradientWorkers({ setupModule, setupArgs: problem, model: poolModel, tasks, workers: 2 });
});
afterAll(async () => {
  await pool.close();
  poolModel.dispose();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

/** Runs the child until it kills itself; resolves with its exit signal. */
function killedChild(dir: string, config: ResumeConfig): Promise<NodeJS.Signals | null> {
  return new Promise((resolve, reject) => {
    const proc = execFile(process.execPath, ['--import', 'tsx', '--conditions=@mtl/source', child, backend.candidate, dir, JSON.stringify(config)], { timeout: 240_000 }, (error) => {
      if (error && !error.killed && error.signal !== 'SIGKILL') reject(new Error(`the child failed: ${error.message}`));
    });
    proc.on('exit', (_code, signal) => resolve(signal));
  });
}

const configs: ResumeConfig[] = (['off', 'restore-best', 'keep-last'] as const).flatMap((early) =>
  [false, true].flatMap((statefulRule) => [false, true].map((workers) => ({ early, statefulRule, workers }))),
);

describe('kill and resume', () => {
  it.each(configs.map((c) => [`early stopping ${c.early}, ${c.statefulRule ? 'stateful' : 'stateless'} rule, ${c.workers ? 'with' : 'without'} gradient workers`, c] as const))(
    '%s: the resumed run ends exactly as the uninterrupted one',
    async (_, config) => {
      const straightDir = mkdtempSync(join(tmpdir(), 'mtl-resume-straight-'));
      const killedDir = mkdtempSync(join(tmpdir(), 'mtl-resume-killed-'));
      dirs.push(straightDir, killedDir);
      const options = config.workers ? { pool } : {};
      const [signal, straight] = await Promise.all([killedChild(killedDir, config), run(config, { dir: straightDir, ...options })]);
      expect(signal).toBe('SIGKILL');
      const resumed = await run(config, { dir: killedDir, resume: true, ...options });
      expect(resumed.resumedFrom).toMatchObject({ epoch: KILL_EPOCH });
      if (config.early !== 'off') {
        // Meaningful only if the best epoch lies before the kill and training went on after it.
        expect(straight.bestEpoch).toBeLessThan(KILL_EPOCH);
        expect(straight.epochs.length).toBeGreaterThan(KILL_EPOCH);
        expect(straight.stoppedEarly).toBe(true);
      } else {
        expect(straight.epochs).toHaveLength(EPOCHS);
      }
      expect(resumed.steps).toBe(straight.steps);
      expect(resumed.epochs).toEqual(straight.epochs);
      expect(resumed.validation).toEqual(straight.validation);
      expect([resumed.stoppedEarly, resumed.bestEpoch, resumed.bestScore]).toEqual([straight.stoppedEarly, straight.bestEpoch, straight.bestScore]);
      expect(resumed.parameters).toEqual(straight.parameters);
    },
    300_000,
  );
});
