import { afterEach, describe, expect, it } from 'vitest';
import { MtlError, currentBackend, describeBackend, tf, useBestBackend } from '../src/index.js';

const saved = process.env['MTL_BACKEND'];
afterEach(() => {
  if (saved === undefined) delete process.env['MTL_BACKEND'];
  else process.env['MTL_BACKEND'] = saved;
});

describe('backend selection', () => {
  it('picks the fastest available backend and says why, skipping absent optional peers', async () => {
    delete process.env['MTL_BACKEND'];
    const lines: string[] = [];
    const choice = await useBestBackend({ log: (l) => lines.push(l) });
    // tfjs-node(-gpu) cannot install on this project's machines: they are reported as skipped.
    expect(['tfjs-node-gpu', 'tfjs-node', 'wasm']).toContain(choice.candidate);
    if (choice.candidate === 'wasm') {
      expect(choice.skipped.map((s) => s.candidate)).toEqual(['tfjs-node-gpu', 'tfjs-node']);
      expect(choice.reason).toMatch(/installs from npm alone/);
    }
    expect(tf.getBackend()).toBe(choice.tfjsBackend);
    expect(currentBackend()).toBe(choice);
    expect(lines).toEqual([describeBackend(choice)]);
  });

  it('honours MTL_BACKEND and never falls back from an explicit request', async () => {
    process.env['MTL_BACKEND'] = 'cpu';
    const cpu = await useBestBackend();
    expect(cpu).toMatchObject({ candidate: 'cpu', tfjsBackend: 'cpu', reason: 'requested by MTL_BACKEND' });
    expect(tf.getBackend()).toBe('cpu');

    process.env['MTL_BACKEND'] = 'gpu-please';
    await expect(useBestBackend()).rejects.toThrow(/MTL_BACKEND="gpu-please" is not a backend; use one of tfjs-node-gpu, tfjs-node, wasm, cpu/);

    process.env['MTL_BACKEND'] = 'tfjs-node-gpu';
    const error = await useBestBackend().catch((e: unknown) => e);
    if (tf.getBackend() !== 'tensorflow') {
      expect(error).toBeInstanceOf(MtlError);
      expect((error as MtlError).code).toBe('BACKEND_UNAVAILABLE');
      expect((error as MtlError).message).toMatch(/"tfjs-node-gpu" was requested but could not start/);
    }
  });
});

describe('process error handling after activation', () => {
  const script = new URL('./fixtures/throws-after-backend.ts', import.meta.url).pathname;
  it.each(['wasm', 'cpu'])('leaves uncaught errors and the exit code to the program (%s)', async (backend) => {
    const { spawnSync } = await import('node:child_process');
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=@mtl/source', script, backend], { encoding: 'utf8', timeout: 60_000 });
    // Node's own report of an uncaught error: exit code 1, headed by the program's file, not the wasm glue (code 7).
    expect(child.status).toBe(1);
    expect(child.stderr.split('\n')[0]).toContain('throws-after-backend.ts');
    expect(child.stderr).not.toContain('tfjs-backend-wasm.js');
    expect(child.stderr).toContain('the program failed on its own');
  });
});
