import { afterAll, describe, expect, it } from 'vitest';
import { describeBackend, useBestBackend, type BackendChoice } from '../src/index.js';
import { registerAccelerator } from '../src/internal.js';

/** A stand-in accelerator package: records what core asked of it. */
function fakeAccelerator(name: string) {
  const calls: string[] = [];
  return {
    calls,
    accelerator: {
      name,
      activate(choice: BackendChoice) {
        calls.push(`activate ${choice.tfjsBackend}`);
        if (name === 'broken') throw new Error('cannot start\nsecond line');
        return choice.tfjsBackend === 'wasm' ? { active: true, detail: 'fake kernels' } : { active: false, detail: `not for ${choice.tfjsBackend}` };
      },
      deactivate() {
        calls.push('deactivate');
      },
    },
  };
}

describe('accelerators', () => {
  afterAll(() => useBestBackend({ backend: 'wasm', accelerators: false }));

  it('reports an optional accelerator package that is not installed, without failing', async () => {
    const choice = await useBestBackend({ backend: 'cpu' });
    // Core does not depend on @mtl/backend-blas, so from core's own directory it is never found.
    expect(choice.accelerators).toContainEqual({ name: 'blas', active: false, detail: '@mtl/backend-blas is not installed' });
    expect(describeBackend(choice)).toContain('; accelerator blas: not used, @mtl/backend-blas is not installed');
  });

  it('activates a registered accelerator for each backend chosen, late registrations included, and removes it on request', async () => {
    const fake = fakeAccelerator('fake');
    const first = await useBestBackend({ backend: 'wasm' });
    expect(first.accelerators.some((a) => a.name === 'fake')).toBe(false);
    registerAccelerator(fake.accelerator); // imported after useBestBackend: serves the current backend now
    expect(fake.calls).toEqual(['activate wasm']);
    const wasm = await useBestBackend({ backend: 'wasm' });
    expect(wasm.accelerators).toContainEqual({ name: 'fake', active: true, detail: 'fake kernels' });
    expect(describeBackend(wasm)).toContain('; accelerator fake: fake kernels');
    const cpu = await useBestBackend({ backend: 'cpu' });
    expect(cpu.accelerators).toContainEqual({ name: 'fake', active: false, detail: 'not for cpu' });
    const off = await useBestBackend({ backend: 'wasm', accelerators: false });
    expect(off.accelerators).toContainEqual({ name: 'fake', active: false, detail: 'disabled by options.accelerators' });
    expect(fake.calls).toEqual(['activate wasm', 'activate wasm', 'activate cpu', 'deactivate']);
    process.env['MTL_ACCELERATORS'] = 'none';
    try {
      const env = await useBestBackend({ backend: 'wasm' });
      expect(env.accelerators).toContainEqual({ name: 'fake', active: false, detail: 'disabled by MTL_ACCELERATORS' });
    } finally {
      delete process.env['MTL_ACCELERATORS'];
    }
  });

  it('an accelerator that throws is removed and reported; the backend still starts', async () => {
    const broken = fakeAccelerator('broken');
    registerAccelerator(broken.accelerator);
    const choice = await useBestBackend({ backend: 'wasm' });
    expect(choice.tfjsBackend).toBe('wasm');
    expect(choice.accelerators).toContainEqual({ name: 'broken', active: false, detail: 'failed: cannot start' });
    expect(broken.calls.at(-1)).toBe('deactivate');
  });

  it('rejects a non-boolean accelerators option', async () => {
    await expect(useBestBackend({ accelerators: 'yes' as unknown as boolean })).rejects.toThrow(/accelerators/);
  });
});
