import { SeededRandom } from '@mtl/core';
import { invalidOption, requireFiniteNumber } from '@mtl/core/internal';
import type { CommonOptions, MethodInput } from './types.js';

/**
 * The uniform source a step uses: the step input's `random` if given (replay, the trainer's
 * seeded stream), else the method's `random` option, else its own stream seeded by `seed`.
 */
export function randomSource(options: CommonOptions): (input: MethodInput) => () => number {
  if (options.random !== undefined && typeof options.random !== 'function') invalidOption('random', options.random, 'a function returning numbers in [0, 1)');
  const own = options.random ?? (() => {
    const stream = new SeededRandom(options.seed === undefined ? 0 : requireFiniteNumber('seed', options.seed));
    return () => stream.next();
  })();
  return (input) => input.random ?? own;
}

/** Standard normal draw from uniforms (Box–Muller, two uniforms per draw, as core's SeededRandom). */
export function normalDraw(random: () => number): number {
  let u = 0;
  while (u === 0) u = random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Fisher–Yates permutation of 0..n−1 driven by `random` (same draws as core's `shuffle`). */
export function permutation(n: number, random: () => number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/** Gamma(shape, 1) draw (Marsaglia–Tsang; shape < 1 by the boost u^(1/shape)). */
export function gammaDraw(shape: number, random: () => number): number {
  if (shape < 1) {
    let u = 0;
    while (u === 0) u = random();
    return gammaDraw(shape + 1, random) * Math.pow(u, 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = normalDraw(random);
    const v0 = 1 + c * x;
    if (v0 <= 0) continue;
    const v = v0 * v0 * v0;
    let u = 0;
    while (u === 0) u = random();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}
