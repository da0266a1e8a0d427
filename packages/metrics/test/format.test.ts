import { describe, expect, it } from 'vitest';
import { MtlError } from '@mtl/core';
import { formatDelta } from '../src/index.js';

describe('formatDelta', () => {
  it('rounds for display only, always with a sign', () => {
    expect(formatDelta(17.500000000000007)).toBe('+17.50%');
    expect(formatDelta(-3.14159, { digits: 1 })).toBe('-3.1%');
    expect(formatDelta(0)).toBe('+0.00%');
    // A tiny negative value that rounds to zero is not shown as "-0.00%".
    expect(formatDelta(-0.0004)).toBe('+0.00%');
  });

  it('rejects values and options it cannot format', () => {
    expect(() => formatDelta(Number.NaN)).toThrow(MtlError);
    expect(() => formatDelta(1, { digits: -1 })).toThrow(/digits/);
  });
});
