/**
 * A checkpoint write killed at every one of its file-system steps: each step in turn fails as a
 * kill would stop it (nothing after it happens), then loading must find an intact checkpoint —
 * the old one or the new one, never none — and the next save must clean up after the dead one.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as FsPromises from 'node:fs/promises';
import { afterAll, describe, expect, it, vi } from 'vitest';
import './setup.js';
import { ParamSnapshot, adam, disposeCheckpoint, loadLatestCheckpoint, saveCheckpoint, tf, type CheckpointState } from '../src/index.js';

const crash = vi.hoisted(() => ({ at: 0, count: 0 }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof FsPromises>();
  // Every call that changes the file system (or opens a file to write or sync) is a crash point.
  const step =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      if (crash.at > 0 && ++crash.count === crash.at) return Promise.reject(Object.assign(new Error('killed here'), { code: 'EKILLED' }));
      return fn(...args);
    };
  return { ...real, default: real, mkdir: step(real.mkdir), rm: step(real.rm), rename: step(real.rename), open: step(real.open), unlink: step(real.unlink), writeFile: step(real.writeFile) };
});

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function state(step: number, value: number): CheckpointState {
  const parameters = ParamSnapshot.fromTensors(new Map([['w', tf.fill([3], value)]]));
  const optimizer = adam(0.1).snapshot();
  return { epoch: step / 8, step, parameters, optimizer, trainer: { value } };
}

async function save(dir: string, step: number, value: number): Promise<void> {
  const s = state(step, value);
  try {
    await saveCheckpoint(dir, s, { keep: 2 });
  } finally {
    disposeCheckpoint(s);
  }
}

/** How many crash points a save into a directory that already has two checkpoints goes through. */
async function stepsOfOneSave(nextStep: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'mtl-crash-'));
  dirs.push(dir);
  await save(dir, 40, 1);
  await save(dir, 48, 2);
  crash.at = Number.MAX_SAFE_INTEGER;
  crash.count = 0;
  await save(dir, nextStep, 3);
  const count = crash.count;
  crash.at = 0;
  return count;
}

describe.each([
  ['again at the same step', 48],
  ['at a new step', 56],
])('a checkpoint write killed at any point, saving %s', (_, nextStep) => {
  it('always leaves an intact checkpoint (old or new), and the next save leaves no temporary entries', async () => {
    const points = await stepsOfOneSave(nextStep);
    expect(points).toBeGreaterThan(6);
    for (let at = 1; at <= points; at++) {
      const dir = mkdtempSync(join(tmpdir(), 'mtl-crash-'));
      dirs.push(dir);
      await save(dir, 40, 1);
      await save(dir, 48, 2);
      crash.at = at;
      crash.count = 0;
      await expect(save(dir, nextStep, 3), `crash point ${at}`).rejects.toMatchObject({ code: 'CHECKPOINT' });
      crash.at = 0;
      const loaded = await loadLatestCheckpoint(dir, { onWarning: () => undefined });
      expect(loaded, `crash point ${at}`).toBeDefined();
      const value = (loaded!.trainer as { value: number }).value;
      // The newest durable one: the new checkpoint once its directory is renamed into place, else the old.
      expect([2, 3], `crash point ${at}`).toContain(value);
      expect(Array.from(loaded!.parameters.get('w').dataSync()), `crash point ${at}`).toEqual([value, value, value]);
      disposeCheckpoint(loaded!);
      await save(dir, 64, 4);
      expect(readdirSync(dir).filter((n) => n.includes('.tmp-')), `crash point ${at}`).toEqual([]);
      const after = (await loadLatestCheckpoint(dir))!;
      expect((after.trainer as { value: number }).value).toBe(4);
      disposeCheckpoint(after);
    }
  });
});
