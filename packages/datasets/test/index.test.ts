import { describe, expect, it } from 'vitest';
import { useBestBackend } from '@mtl/core';

describe('@mtl/datasets', () => {
  it('runs on a backend', async () => {
    const choice = await useBestBackend();
    expect(choice.tfjsBackend).toBeTruthy();
  });
});
