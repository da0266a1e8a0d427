import { describe, expect, it } from 'vitest';
import { useBestBackend } from '@mtl/core';

describe('@mtl/__name__', () => {
  it('runs on a backend', async () => {
    const choice = await useBestBackend();
    expect(choice.tfjsBackend).toBeTruthy();
  });
});
