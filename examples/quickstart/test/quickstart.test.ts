import { describe, expect, it } from 'vitest';
import { useBestBackend } from '@mtl/core';
import { runQuickstart } from '../src/quickstart.js';

await useBestBackend();

describe('quickstart', () => {
  it('learns both tasks', async () => {
    const { test, fit } = await runQuickstart({ epochs: 4 });
    expect(fit.history).toHaveLength(4);
    expect(test['sign/accuracy']).toBeGreaterThan(0.9);
    expect(test['value/mse']).toBeLessThan(0.1);
  });
});
