import { invalidOption } from './errors.js';

/** The full state of a {@link SeededRandom}, small enough to store in a checkpoint. */
export type RandomState = readonly [number, number, number, number];

/**
 * A seeded pseudo-random stream (sfc32). Its whole state is four 32-bit words, so a checkpoint
 * can store it and a resumed run draws exactly what the uninterrupted run would have drawn.
 */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number | RandomState) {
    if (typeof seed === 'number') {
      if (!Number.isFinite(seed)) invalidOption('seed', seed, 'a finite number');
      const [a, b, c, d] = expandSeed(seed);
      this.a = a;
      this.b = b;
      this.c = c;
      this.d = d;
      for (let i = 0; i < 12; i++) this.nextUint32();
    } else {
      [this.a, this.b, this.c, this.d] = seed;
    }
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal draw (Box-Muller; no cached second draw, so the state stays four words). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T>(items: T[] | Int32Array | Uint32Array): typeof items {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }

  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    this.shuffle(p);
    return p;
  }

  /** An independent stream derived from this one and a label; this stream is not advanced. */
  fork(label: string): SeededRandom {
    let h = 2166136261;
    for (const ch of label) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
    return new SeededRandom([this.a ^ h, this.b, this.c ^ Math.imul(h, 0x9e3779b1), this.d] as const);
  }

  getState(): RandomState {
    return [this.a, this.b, this.c, this.d];
  }

  setState(state: RandomState): void {
    [this.a, this.b, this.c, this.d] = state;
  }
}

function expandSeed(seed: number): [number, number, number, number] {
  // splitmix32 spreads nearby seeds apart.
  let s = Math.floor(seed) >>> 0;
  const out: number[] = [];
  for (let i = 0; i < 4; i++) {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    out.push((z ^ (z >>> 16)) >>> 0);
  }
  return out as [number, number, number, number];
}
