/**
 * NumPy's legacy `RandomState(seed).standard_normal` stream: MT19937 seeded by `init_genrand`, 53-bit
 * doubles from two 32-bit words, and the polar Box-Muller method that caches its second value. Affinity
 * Propagation uses it for scikit-learn's degeneracy noise, so `seed` means what `random_state` means
 * there and near-ties are broken exactly as scikit-learn breaks them.
 */
export class NumpyRandomState {
  private readonly mt = new Uint32Array(624);
  private index = 624;
  private cachedGauss: number | undefined;

  constructor(seed: number) {
    const mt = this.mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      // 1812433253 · prev + i (mod 2³²), split to stay exact in doubles.
      mt[i] = ((((prev & 0xffff0000) >>> 16) * 1812433253) << 16) + (prev & 0x0000ffff) * 1812433253 + i;
    }
  }

  /** `genrand_int32`. */
  nextUint32(): number {
    if (this.index >= 624) this.twist();
    let y = this.mt[this.index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** `random_sample`: (a >> 5, b >> 6) as a 53-bit fraction in [0, 1). */
  nextDouble(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** `legacy_gauss`. */
  standardNormal(): number {
    if (this.cachedGauss !== undefined) {
      const value = this.cachedGauss;
      this.cachedGauss = undefined;
      return value;
    }
    let x1: number;
    let x2: number;
    let r2: number;
    do {
      x1 = 2 * this.nextDouble() - 1;
      x2 = 2 * this.nextDouble() - 1;
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1 || r2 === 0);
    const f = Math.sqrt((-2 * Math.log(r2)) / r2);
    this.cachedGauss = f * x1;
    return f * x2;
  }

  private twist(): void {
    const mt = this.mt;
    for (let i = 0; i < 624; i++) {
      const y = (mt[i]! & 0x80000000) | (mt[(i + 1) % 624]! & 0x7fffffff);
      mt[i] = mt[(i + 397) % 624]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.index = 0;
  }
}
