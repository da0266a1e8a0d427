import { describe, expect, it } from 'vitest';
import { SeededRandom, type Matrix } from '@mtl/core';
import { config, createAggregator, dbMtl, dualproj, excessMtl, fairgrad, famo, gls, graddrop, imtlL, krum, moco, modo, nashMtl, sdmgrad, stch, trimmedMean } from '../src/index.js';
import { dotRows, draws, expectClose, fromRows, randomMatrix, rowsOf, vnorm } from './helpers.js';

const dot = (a: readonly number[], b: readonly number[]): number => a.reduce((s, v, i) => s + v * b[i]!, 0);
const nrm = (a: readonly number[]): number => Math.sqrt(dot(a, a));
const softmaxRef = (x: readonly number[]): number[] => {
  const m = Math.max(...x);
  const e = x.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
/** LibMTL's `_projection2simplex`, literally. */
const simplexRef = (y: readonly number[]): number[] => {
  const m = y.length;
  const sorted = [...y].sort((a, b) => b - a);
  let tmpsum = 0;
  let tmax = (y.reduce((a, b) => a + b, 0) - 1) / m;
  for (let i = 0; i < m - 1; i++) {
    tmpsum += sorted[i]!;
    const t = (tmpsum - 1) / (i + 1);
    if (t > sorted[i + 1]!) {
      tmax = t;
      break;
    }
  }
  return y.map((v) => Math.max(v - tmax, 0));
};

describe('GLS (geometric mean of the losses)', () => {
  it('weights are ∂(Π L)^{1/T}/∂L_t: losses (1, 4) → (1, ¼); (2, 2, 2) → ⅓ each', () => {
    expectClose(gls().weigh({ losses: [1, 4] }).weights, [1, 0.25], 1e-12);
    expectClose(gls().weigh({ losses: [2, 2, 2] }).weights, [1 / 3, 1 / 3, 1 / 3], 1e-12);
    // Central finite difference of the geometric mean itself.
    const L = [0.7, 2.3, 1.1];
    const geo = (x: number[]) => Math.pow(x.reduce((a, b) => a * b, 1), 1 / 3);
    const fd = L.map((_, t) => (geo(L.map((v, s) => (s === t ? v + 1e-6 : v))) - geo(L.map((v, s) => (s === t ? v - 1e-6 : v)))) / 2e-6);
    expectClose(gls().weigh({ losses: L }).weights, fd, 1e-8);
    expect(createAggregator('geometric-mean').name).toBe('geometric-mean');
  });
  it('a non-positive loss is INVALID_DATA', () => {
    expect(() => gls().weigh({ losses: [1, 0] })).toThrow(/positive losses/);
  });
});

describe('STCH', () => {
  it('warm-up weights 1/L; the nadir is the mean over the warm-up epoch; then T softmax(log(L/z)/μ)_t / L_t, by hand', () => {
    const s = stch({ warmupEpochs: 0 });
    const a = s.weigh({ losses: [2, 4], epoch: 0 });
    expectClose(a.weights, [0.5, 0.25], 1e-12);
    const b = s.weigh({ losses: [4, 8], epoch: 0 }, a.state);
    expect(b.state.sums).toEqual([6, 12]);
    // Nadir (3, 6); losses (3, 12): L/z = (1, 2); μ = 1: loss 2 log(Σ L/z) → ∂/∂L_t = 2 (1/z_t) / 3.
    const c = s.weigh({ losses: [3, 12], epoch: 1 }, b.state);
    expectClose(c.weights, [2 / 9, 1 / 9], 1e-12);
    expect(c.state.nadir).toEqual([3, 6]);
  });
  it('smaller μ concentrates the weight on the worst normalised loss (the Tchebycheff max)', () => {
    const s = stch({ warmupEpochs: 0, mu: 0.01 });
    const st = s.weigh({ losses: [1, 1], epoch: 0 }).state;
    const w = s.weigh({ losses: [1.2, 2], epoch: 1 }, st).weights;
    expectClose(w, [0, 2 / 2], 1e-12);
  });
});

describe('FAMO', () => {
  it('weights z/(c D) and one Adam step on z ⊙ (δ − z·δ) after the update, by hand', () => {
    const f = famo();
    const r = f.weigh({ losses: [1, 3] });
    // z = (½, ½), c = ½ + ⅙ = ⅔ → w = (¾, ¼) (up to the 1e-8 in D).
    expectClose(r.weights, [0.75, 0.25], 1e-7);
    const next = f.afterStep!({ losses: [0.5, 3] }, r.state);
    // δ = (log 2, 0) (up to 1e-8), z·δ = ½ log 2, gradient (¼ log 2, −¼ log 2): Adam's first step −lr · sign.
    expectClose(next.logits, [-0.025, 0.025], 1e-6);
    const again = f.weigh({ losses: [1, 3] }, next);
    const z = softmaxRef([-0.025, 0.025]);
    const c = z[0]! / 1 + z[1]! / 3;
    expectClose(again.weights, [z[0]! / c, z[1]! / (3 * c)], 1e-7);
  });
});

describe('IMTL-L alone', () => {
  it('weights e^s, s stepped on e^s L − 1', () => {
    const m = imtlL({ optimizer: { type: 'sgd', learningRate: 0.1 } });
    const r = m.weigh({ losses: [2, 0.5] });
    expect(r.weights).toEqual([1, 1]);
    expectClose(r.state.scale, [-0.1, 0.05], 1e-12);
    expectClose(m.weigh({ losses: [2, 0.5] }, r.state).weights, [Math.exp(-0.1), Math.exp(0.05)], 1e-12);
  });
});

describe('DualProj', () => {
  it('by hand: g1 = (1, 0), g2 = (−2, 1): the mean (−½, ½) projects onto g1 · d = 0 → d = (0, ½), w = (1, ½)', () => {
    const r = dualproj({ regEps: 0 }).aggregate(fromRows([[1, 0], [-2, 1]]), { losses: [1, 1] });
    expectClose(r.weights, [1, 0.5], 1e-12);
    expectClose(r.direction, [0, 0.5], 1e-12);
  });
  it('never conflicts with a row (TorchJD’s property) and leaves an already non-conflicting mean unchanged', () => {
    const rng = new SeededRandom(41);
    for (let trial = 0; trial < 60; trial++) {
      const T = 2 + (trial % 6);
      const g = randomMatrix(rng, T, T + 4);
      const d = dualproj({ regEps: 0 }).aggregate(g, { losses: new Array<number>(T).fill(1) }).direction;
      for (let t = 0; t < T; t++) expect(dotRows(d, g, t)).toBeGreaterThan(-1e-9 * vnorm(d) * Math.sqrt(dotRows(g.data.subarray(t * g.cols, (t + 1) * g.cols), g, t)));
    }
    expectClose(dualproj({ regEps: 0 }).aggregate(fromRows([[1, 0], [0, 2]]), { losses: [1, 1] }).weights, [0.5, 0.5], 1e-12);
  });
});

describe('UPGrad and DualProj with tiny gradients (tr G Gᵀ < normEps)', () => {
  it('TorchJD / LibMTL zero the normalised Gramian and keep the ridge: the weights are u, the direction the mean (not 0)', () => {
    // ‖G‖²_F = 2e-6 + 1e-6 < 1e-4. With Ĝ = 0 + ε I, min vᵀ(ε I)v s.t. v ≥ u_t e_t is v = u_t e_t.
    const g = fromRows([[1e-3, 1e-3], [-1e-3, 0]]);
    for (const name of ['upgrad', 'dualproj']) {
      const r = createAggregator(name).aggregate(g, { losses: [1, 1] });
      expectClose(r.weights, [0.5, 0.5], 1e-15);
      expectClose(r.direction, [0, 5e-4], 1e-12);
    }
    expectClose(createAggregator('upgrad', { preference: [0.2, 0.8] }).aggregate(g, { losses: [1, 1] }).weights, [0.2, 0.8], 1e-15);
  });
});

describe('ConFIG', () => {
  it('by hand: g1 = (1, 0), g2 = (0, 2) → e = (1, 1)/√2, length 3/√2, update (1.5, 1.5)', () => {
    const r = config().aggregate(fromRows([[1, 0], [0, 2]]), { losses: [1, 1] });
    expectClose(r.direction, [1.5, 1.5], 1e-12);
    expectClose(r.weights, [1.5, 0.75], 1e-12);
  });
  it('equal cosine with every row, along a unit vector whose length is the sum of the projections (Equation 2)', () => {
    const rng = new SeededRandom(43);
    for (let trial = 0; trial < 40; trial++) {
      const T = 2 + (trial % 5);
      const g = randomMatrix(rng, T, T + 3, Array.from({ length: T }, () => 0.1 + 3 * rng.next()));
      const d = config().aggregate(g, { losses: new Array<number>(T).fill(1) }).direction;
      const rows = rowsOf(g);
      const cos = rows.map((r) => dot(r, Array.from(d)) / (nrm(r) * vnorm(d)));
      for (const c of cos) expect(Math.abs(c - cos[0]!)).toBeLessThan(1e-9);
      const e = Array.from(d, (v) => v / vnorm(d));
      expect(Math.abs(vnorm(d) - rows.reduce((s, r) => s + dot(r, e), 0))).toBeLessThan(1e-9 * vnorm(d));
    }
  });
});

describe('FairGrad', () => {
  it('α = 1 is the Nash bargaining equation (Nash-MTL without clipping); α = 2 on orthogonal rows: w_t = ‖g_t‖^{−4/3}', () => {
    const rng = new SeededRandom(44);
    for (let trial = 0; trial < 10; trial++) {
      const T = 2 + (trial % 4);
      const g = randomMatrix(rng, T, T + 2);
      expectClose(fairgrad().aggregate(g, { losses: new Array<number>(T).fill(1) }).weights, nashMtl({ maxNorm: 0 }).aggregate(g, { losses: new Array<number>(T).fill(1) }).weights, 1e-8);
    }
    // A = diag(1, 4): a w = w^{−1/2} → w = a^{−2/3}.
    const r = fairgrad({ alpha: 2 }).aggregate(fromRows([[1, 0], [0, 2]]), { losses: [1, 1] });
    expectClose(r.weights, [1, Math.pow(4, -2 / 3)], 1e-9); // up to the 1e-10 ridge
    expectClose(r.headWeights!, r.weights, 0);
  });
  it('G Gᵀ w = w^{−1/α} on random matrices (the root scipy’s least_squares looks for)', () => {
    const rng = new SeededRandom(45);
    for (const alpha of [0.5, 2, 5]) {
      for (let trial = 0; trial < 10; trial++) {
        const T = 2 + (trial % 4);
        const g = randomMatrix(rng, T, T + 3);
        const w = fairgrad({ alpha }).aggregate(g, { losses: new Array<number>(T).fill(1) }).weights;
        const rows = rowsOf(g);
        for (let i = 0; i < T; i++) {
          const lhs = rows.reduce((s, r, j) => s + dot(rows[i]!, r) * w[j]!, 0);
          expect(Math.abs(lhs - Math.pow(w[i]!, -1 / alpha))).toBeLessThan(1e-7 * Math.pow(w[i]!, -1 / alpha));
        }
      }
    }
  });
});

describe('ExcessMTL', () => {
  /** LibMTL's ExcessMTL.backward, literally, over steps. */
  function reference(gs: number[][][], eta: number): number[][] {
    let lossWeight = gs[0]!.map(() => 1);
    let gradSum: number[][] | null = null;
    let initial: number[] | null = null;
    const out: number[][] = [];
    for (const grads of gs) {
      const sums = (gradSum ??= grads.map((r) => r.map(() => 0)));
      const w = grads.map((gi, i) => {
        sums[i] = sums[i]!.map((h, k) => h + gi[k]! ** 2);
        const hi = sums[i].map((h) => Math.sqrt(h + 1e-7));
        return gi.reduce((s, v, k) => s + (v / hi[k]!) * v, 0);
      });
      if (initial === null) initial = w;
      else {
        const ratio = w.map((v, i) => v / initial![i]!);
        lossWeight = lossWeight.map((l, i) => l * Math.exp(ratio[i]! * eta));
        const s = lossWeight.reduce((a, b) => a + b, 0);
        lossWeight = lossWeight.map((l) => (l / s) * grads.length);
      }
      out.push([...lossWeight]);
    }
    return out;
  }
  it('equals LibMTL’s loop over four steps (weights 1 first, then exponentiated excess-risk ratios)', () => {
    const rng = new SeededRandom(46);
    for (const T of [2, 3, 5]) {
      const gs = Array.from({ length: 4 }, () => rowsOf(randomMatrix(rng, T, 6)));
      const ref = reference(gs, 0.5);
      const m = excessMtl({ robustStepSize: 0.5 });
      let state = m.initialState(T);
      gs.forEach((g, step) => {
        const r = m.aggregate(g, { losses: new Array<number>(T).fill(1) }, state);
        expectClose(r.weights, ref[step]!, 1e-12);
        expectClose(r.headWeights!, ref[step]!, 1e-12);
        state = r.state;
      });
      expect(state.weights).not.toEqual(new Array<number>(T).fill(1));
    }
  });
});

describe('DB-MTL', () => {
  it('equals LibMTL’s loop: log-loss gradients, EMA buffer, max-norm balancing; heads get 1/(L + 1e-8)', () => {
    const rng = new SeededRandom(47);
    for (const [T, beta, sigma] of [[2, 0.9, 0], [3, 0.5, 0.5], [4, 0.9, 0]] as const) {
      const m = dbMtl({ beta, betaSigma: sigma });
      let state = m.initialState(T);
      let buffer = Array.from({ length: T }, () => new Array<number>(7).fill(0));
      for (let step = 1; step <= 3; step++) {
        const g = rowsOf(randomMatrix(rng, T, 7));
        const losses = Array.from({ length: T }, () => 0.2 + 2 * rng.next());
        const batch = g.map((r, t) => r.map((v) => v / (losses[t]! + 1e-8)));
        const f = beta / Math.pow(step, sigma);
        buffer = batch.map((r, t) => r.map((v, k) => v + f * (buffer[t]![k]! - v)));
        const u = buffer.map(nrm);
        const alpha = u.map((n) => Math.max(...u) / (n + 1e-8));
        const expected = buffer[0]!.map((_, k) => buffer.reduce((s, r, t) => s + alpha[t]! * r[k]!, 0));
        const r = m.aggregate(g, { losses }, state);
        expectClose(r.direction, expected, 1e-12);
        expectClose(r.headWeights!, losses.map((l) => 1 / (l + 1e-8)), 1e-15);
        state = r.state;
      }
    }
  });
});

describe('MoCo', () => {
  it('equals LibMTL’s loop: tracked normalised gradients y, softmax update of λ, direction yᵀλ', () => {
    const rng = new SeededRandom(48);
    for (const T of [2, 3, 5]) {
      const opts = { beta: 0.5, betaSigma: 0.5, gamma: 0.1, gammaSigma: 0.5, rho: 0.2 };
      const m = moco(opts);
      let state = m.initialState(T);
      let y = Array.from({ length: T }, () => new Array<number>(5).fill(0));
      let lambda = new Array<number>(T).fill(1 / T);
      for (let step = 1; step <= 3; step++) {
        const g = rowsOf(randomMatrix(rng, T, 5));
        const losses = Array.from({ length: T }, () => 0.2 + 2 * rng.next());
        const gn = g.map((r, t) => r.map((v) => (v / (nrm(r) + 1e-8)) * losses[t]!));
        y = y.map((r, t) => r.map((v, k) => v - (opts.beta / step ** opts.betaSigma) * (v - gn[t]![k]!)));
        const yy = y.map((a) => y.map((b) => dot(a, b)));
        lambda = softmaxRef(lambda.map((l, i) => l - (opts.gamma / step ** opts.gammaSigma) * (yy[i]!.reduce((s, v, j) => s + v * lambda[j]!, 0) + opts.rho * l)));
        const expected = y[0]!.map((_, k) => y.reduce((s, r, t) => s + lambda[t]! * r[k]!, 0));
        const r = m.aggregate(g, { losses }, state);
        expectClose(r.direction, expected, 1e-12);
        expectClose(r.weights, lambda, 1e-12);
        state = r.state;
      }
    }
  });
});

describe('GradDrop', () => {
  it('by hand: columns of one sign keep everything; a split column keeps the positive or the negative part by its draw', () => {
    const g = fromRows([
      [1, -1],
      [1, 1],
    ]);
    // Column 0: purity ≈ 1 > U → the positive entries (both). Column 1: purity ½; U = 0.3 → positives, U = 0.7 → negatives.
    expectClose(graddrop().aggregate(g, { losses: [1, 1], random: draws([0.5, 0.3]) }).direction, [2, 1], 1e-12);
    expectClose(graddrop().aggregate(g, { losses: [1, 1], random: draws([0.5, 0.7]) }).direction, [2, -1], 1e-12);
    // leak 0.25: a dropped entry still passes a quarter.
    expectClose(graddrop({ leak: 0.25 }).aggregate(g, { losses: [1, 1], random: draws([0.5, 0.3]) }).direction, [2, 1 - 0.25], 1e-12);
  });
  it('equals TorchJD’s loop (with LibMTL’s 1e-7) on random matrices for the same draws', () => {
    const rng = new SeededRandom(49);
    for (let trial = 0; trial < 20; trial++) {
      const T = 2 + (trial % 4);
      const g = randomMatrix(rng, T, 9);
      const u = Array.from({ length: 9 }, () => rng.next());
      const leak = Array.from({ length: T }, () => rng.next() * 0.5);
      const rows = rowsOf(g);
      const P = rows[0]!.map((_, k) => 0.5 * (1 + rows.reduce((s, r) => s + r[k]!, 0) / (rows.reduce((s, r) => s + Math.abs(r[k]!), 0) + 1e-7)));
      const expected = new Array<number>(9).fill(0);
      rows.forEach((r, i) => r.forEach((v, k) => (expected[k] = expected[k]! + (leak[i]! + (1 - leak[i]!) * ((P[k]! > u[k]! && v > 0) || (P[k]! < u[k]! && v < 0) ? 1 : 0)) * v)));
      expectClose(graddrop({ leak }).aggregate(g, { losses: new Array<number>(T).fill(1), random: draws(u) }).direction, expected, 1e-12);
    }
  });
});

describe('MoDo and SDMGrad (three gradient samples)', () => {
  const three = (rng: SeededRandom, T: number): Matrix[] => [0, 1, 2].map(() => randomMatrix(rng, T, 6));
  it('MoDo equals LibMTL’s update: λ ← Π(λ − γ(G₀(G₁ᵀλ) + ρλ)), direction G₂ᵀλ', () => {
    const rng = new SeededRandom(50);
    for (const T of [2, 3, 5]) {
      const m = modo({ gamma: 0.05, rho: 0.1 });
      let state = m.initialState(T);
      let lambda = new Array<number>(T).fill(1 / T);
      for (let step = 0; step < 3; step++) {
        const [g0, g1, g2] = three(rng, T).map(rowsOf);
        const v = g1![0]!.map((_, k) => g1!.reduce((s, r, t) => s + r[k]! * lambda[t]!, 0));
        lambda = simplexRef(lambda.map((l, t) => l - 0.05 * (dot(g0![t]!, v) + 0.1 * l)));
        const r = m.aggregateSamples!([g0!, g1!, g2!], { losses: new Array<number>(T).fill(1) }, state);
        expectClose(r.weights, lambda, 1e-12);
        expectClose(r.direction, g2![0]!.map((_, k) => g2!.reduce((s, row, t) => s + row[k]! * lambda[t]!, 0)), 1e-12);
        state = r.state;
      }
    }
  });
  it('SDMGrad equals LibMTL’s update: 20 projected momentum-SGD steps on w, direction (ζᵀw + λ ζ̄)/(1 + λ)', () => {
    const rng = new SeededRandom(51);
    for (const T of [2, 3, 5]) {
      const lam = 0.3;
      const m = sdmgrad();
      let state = m.initialState(T);
      let w = new Array<number>(T).fill(1 / T);
      for (let step = 0; step < 3; step++) {
        const [zeta, xi1, xi2] = three(rng, T).map(rowsOf);
        let GG = xi1!.map((a) => xi2!.map((b) => dot(a, b)));
        const scale = GG.reduce((s, r, i) => s + Math.sqrt(Math.max(r[i]!, 0)), 0) / T;
        GG = GG.map((r) => r.map((v) => v / (scale ** 2 + 1e-8)));
        const Gg = GG.map((r) => r.reduce((a, b) => a + b, 0) / T);
        let buf: number[] | null = null;
        for (let i = 0; i < 20; i++) {
          const grad = GG.map((r, a) => r.reduce((s, v, b) => s + v * w[b]!, 0) + lam * Gg[a]!);
          buf = buf ? buf.map((b, a) => 0.5 * b + grad[a]!) : grad;
          w = simplexRef(w.map((v, a) => v - 5 * buf![a]!));
        }
        const g0 = zeta![0]!.map((_, k) => zeta!.reduce((s, r) => s + r[k]!, 0) / T);
        const gw = zeta![0]!.map((_, k) => zeta!.reduce((s, r, t) => s + r[k]! * w[t]!, 0));
        const r = m.aggregateSamples!([zeta!, xi1!, xi2!], { losses: new Array<number>(T).fill(1) }, state);
        expectClose(r.direction, gw.map((v, k) => (v + lam * g0[k]!) / (1 + lam)), 1e-10);
        state = r.state;
      }
    }
  });
  it('aggregate(G) uses G for all three samples; aggregateSamples checks the count and shapes', () => {
    const g = fromRows([[1, 0], [0, 2]]);
    expect(Array.from(modo().aggregate(g, { losses: [1, 1] }).direction)).toEqual(Array.from(modo().aggregateSamples!([g, g, g], { losses: [1, 1] }).direction));
    expect(() => modo().aggregateSamples!([g, g], { losses: [1, 1] })).toThrow(/3 Jacobians/);
    expect(() => sdmgrad().aggregateSamples!([g, g, fromRows([[1], [2]])], { losses: [1, 1] })).toThrow(/differ in shape/);
  });
});

describe('Krum and TrimmedMean (TorchJD’s robust aggregators)', () => {
  it('Krum by hand: an outlier row is never selected; nSelected averages the best-scored rows', () => {
    // Rows 0–2 near (1, 0), row 3 far. f = 0, T = 4: each score sums the 2 smallest distances.
    const g = fromRows([[1, 0], [1.1, 0], [0.9, 0.1], [10, 10]]);
    const one = krum().aggregate(g, { losses: [1, 1, 1, 1] });
    // Distances: d01 = 0.1, d02 = √0.02 ≈ 0.1414, d12 = √0.05 ≈ 0.2236; scores 0.2414, 0.3236, 0.3650 (+ row 3 far).
    expect(one.weights).toEqual([1, 0, 0, 0]);
    const two = krum({ nSelected: 2 }).aggregate(g, { losses: [1, 1, 1, 1] });
    expect(two.weights).toEqual([0.5, 0.5, 0, 0]);
    expectClose(two.direction, [1.05, 0], 1e-12);
  });
  it('TrimmedMean by hand: per column the extremes are dropped', () => {
    const g = fromRows([[1, 100], [2, -3], [3, 0], [50, 1]]);
    expectClose(trimmedMean({ trimNumber: 1 }).aggregate(g, { losses: [1, 1, 1, 1] }).direction, [2.5, 0.5], 1e-12);
    expectClose(trimmedMean().aggregate(g, { losses: [1, 1, 1, 1] }).direction, [14, 24.5], 1e-12);
  });
});
