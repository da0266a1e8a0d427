import { describe, expect, it } from 'vitest';
import { tf, useBestBackend } from '@mtl/core';

describe('@mtl/__name__', () => {
  it('runs on a backend', async () => {
    const choice = await useBestBackend();
    expect(tf.getBackend()).toBe(choice.tfjsBackend);
    const sum = tf.add(tf.tensor1d([1, 2]), 1);
    expect(Array.from(sum.dataSync())).toEqual([2, 3]);
    tf.dispose(sum);
  });
});
