import { describe, expect, it } from 'vitest';
import { auxiliaryTransferCase, syntheticRelatedness } from '../src/index.js';
import { errorCode, fingerprint } from './helpers.js';

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]! / n;
    mb += b[i]! / n;
  }
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, v, i) => s + v * b[i]!, 0);

/** Least squares w = argmin ‖Xw − y‖² by Gaussian elimination on the normal equations. */
function leastSquares(x: Float32Array, y: ArrayLike<number>, n: number, d: number): Float64Array {
  const a = Array.from({ length: d }, () => new Float64Array(d + 1));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      for (let k = 0; k < d; k++) a[j]![k]! += x[i * d + j]! * x[i * d + k]!;
      a[j]![d]! += x[i * d + j]! * y[i]!;
    }
  }
  for (let col = 0; col < d; col++) {
    let pivot = col;
    for (let r = col + 1; r < d; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r;
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    for (let r = 0; r < d; r++) {
      if (r === col) continue;
      const f = a[r]![col]! / a[col]![col]!;
      for (let k = col; k <= d; k++) a[r]![k]! -= f * a[col]![k]!;
    }
  }
  return Float64Array.from({ length: d }, (_, j) => a[j]![d]! / a[j]![j]!);
}

describe('synthetic controllable relatedness (MMoE)', () => {
  const sizes = { train: 2000, validation: 10, test: 10 };

  it('weights have norm c and cosine p', () => {
    const set = syntheticRelatedness({ correlation: 0.3, inputSize: 16, scale: 2, sizes });
    const [w1, w2] = set.weights;
    expect(Math.sqrt(dot(w1, w1))).toBeCloseTo(2, 10);
    expect(Math.sqrt(dot(w2, w2))).toBeCloseTo(2, 10);
    expect(dot(w1, w2) / 4).toBeCloseTo(0.3, 10);
  });

  it('label correlation follows the parameter', () => {
    const corr = [0, 0.5, 0.9, 1].map((p) => {
      const set = syntheticRelatedness({ correlation: p, inputSize: 16, sizes, seed: 1 });
      const t = set.train.gather(Array.from({ length: 2000 }, (_, i) => i)).targets;
      return pearson(t.task1!, t.task2!);
    });
    expect(Math.abs(corr[0]!)).toBeLessThan(0.1);
    expect(corr[1]!).toBeGreaterThan(corr[0]!);
    expect(corr[2]!).toBeGreaterThan(corr[1]!);
    expect(corr[3]!).toBeGreaterThan(0.98);
  });

  it('is seeded and checks options', () => {
    const a = syntheticRelatedness({ inputSize: 8, sizes, seed: 4 });
    expect(fingerprint(a.train)).toBe(fingerprint(syntheticRelatedness({ inputSize: 8, sizes, seed: 4 }).train));
    expect(fingerprint(a.train)).not.toBe(fingerprint(syntheticRelatedness({ inputSize: 8, sizes, seed: 5 }).train));
    expect(errorCode(() => syntheticRelatedness({ correlation: 1.5 }))).toBe('INVALID_OPTION');
    expect(errorCode(() => syntheticRelatedness({ inputSize: 1 }))).toBe('INVALID_OPTION');
  });
});

describe('auxiliary transfer cases (ForkMerge weak/strong negative transfer)', () => {
  it('"hurts": with a width-1 shared layer, every λ > 0 worsens the target (population)', () => {
    const set = auxiliaryTransferCase('hurts', { sizes: { train: 500, validation: 10, test: 10 } });
    const { target, auxiliary } = set.weights;
    const cos = dot(target, auxiliary);
    expect(cos).toBeCloseTo(0.5, 10);
    // Top eigenvector of M = w_t w_tᵀ + λ w_a w_aᵀ in the basis (w_t, w_⊥): [[1 + λc², λcs], [λcs, λs²]].
    const s = Math.sqrt(1 - cos * cos);
    const excess = (lambda: number) => {
      const a = 1 + lambda * cos * cos;
      const b = lambda * cos * s;
      const d = lambda * s * s;
      const top = (a + d) / 2 + Math.sqrt(((a - d) / 2) ** 2 + b * b);
      const v = [b, top - a];
      const norm = Math.hypot(v[0]!, v[1]!);
      return 1 - (v[0]! / norm) ** 2; // 1 − (vᵀw_t)², population excess target loss
    };
    for (const lambda of [0.01, 0.1, 0.5, 1, 2, 10]) expect(excess(lambda)).toBeGreaterThan(0);
    expect(excess(1)).toBeCloseTo(1 - Math.cos(Math.PI / 6) ** 2, 10); // equal weights: v bisects the 60° angle
    // The labels follow the weights with the stated noise.
    const batch = set.train.gather(Array.from({ length: 500 }, (_, i) => i));
    let sq = 0;
    for (let i = 0; i < 500; i++) sq += (batch.targets.target![i]! - dot(target, batch.x.subarray(i * 20, (i + 1) * 20))) ** 2;
    expect(Math.sqrt(sq / 500)).toBeCloseTo(0.05, 2);
  });

  it('"helps": the auxiliary direction beats single-task least squares on test data', () => {
    const set = auxiliaryTransferCase('helps', { seed: 3 });
    const d = 20;
    const train = set.train.gather(Array.from({ length: set.train.size }, (_, i) => i));
    const test = set.test.gather(Array.from({ length: set.test.size }, (_, i) => i));
    const testError = (predict: (x: Float32Array) => number) => {
      let s = 0;
      for (let i = 0; i < test.size; i++) s += (test.targets.target![i]! - predict(test.x.subarray(i * d, (i + 1) * d))) ** 2;
      return s / test.size;
    };
    // Single task: least squares on the 40 noisy target labels.
    const wStl = leastSquares(train.x, train.targets.target!, train.size, d);
    const stl = testError((x) => dot(wStl, x));
    // Shared direction from the auxiliary labels (λ → ∞), then one target head weight.
    const v = leastSquares(train.x, train.targets.auxiliary!, train.size, d);
    const z = Array.from({ length: train.size }, (_, i) => dot(v, train.x.subarray(i * d, (i + 1) * d)));
    const head = dot(z, train.targets.target!) / dot(z, z);
    const mtl = testError((x) => head * dot(v, x));
    expect(mtl).toBeLessThan(stl);
    // Both include the irreducible noise σ² = 4; the excess shrinks severalfold.
    expect(mtl - 4).toBeLessThan((stl - 4) / 3);
  });

  it('rejects angles outside (0°, 90°)', () => {
    expect(errorCode(() => auxiliaryTransferCase('hurts', { angle: 90 }))).toBe('INVALID_OPTION');
    expect(errorCode(() => auxiliaryTransferCase('maybe' as 'hurts'))).toBe('INVALID_OPTION');
  });
});
