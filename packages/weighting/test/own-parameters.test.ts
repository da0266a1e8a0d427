import { beforeAll, describe, expect, it } from 'vitest';
import { Trainer, adam, hardSharingMlp, momentum, sgd, useBestBackend, type Optimizer, type UpdateRule } from '@mtl/core';
import { toyTwoTaskProblem } from '@mtl/core/testing';
import { gradnorm, imtl, toUpdateRule, uncertaintyWeighting, type UwState } from '../src/index.js';
import { expectClose } from './helpers.js';

describe('UW / GradNorm / IMTL-L parameters: the trainer’s optimizer by default (LibMTL), a private one by option', () => {
  it('UW steps s with the optimizer passed in the input: SGD, momentum (PyTorch buffers), Adam, weight decay — by hand', () => {
    const w0 = Math.exp(0.5) / 2;
    const g = [-2 * w0 + 0.5, -0.5 * w0 + 0.5]; // ∂/∂s of L/(2e^s) + s/2 at s = −0.5, L = (2, 0.5)
    const uw = uncertaintyWeighting();
    const sgdStep = uw.weigh({ losses: [2, 0.5], optimizer: { kind: 'sgd', learningRate: 0.1 } });
    expectClose(sgdStep.state.logVariance, [-0.5 - 0.1 * g[0]!, -0.5 - 0.1 * g[1]!], 1e-12);
    // Weight decay 0.01 adds 0.01 s to the gradient.
    const wd = uw.weigh({ losses: [2, 0.5], optimizer: { kind: 'sgd', learningRate: 0.1, weightDecay: 0.01 } });
    expectClose(wd.state.logVariance, [-0.5 - 0.1 * (g[0]! - 0.005), -0.5 - 0.1 * (g[1]! - 0.005)], 1e-12);
    // Momentum: buffer b1 = g1, then b2 = 0.9 b1 + g2.
    const mom = { kind: 'momentum', learningRate: 0.1, momentum: 0.9 } as const;
    const m1 = uw.weigh({ losses: [2, 0.5], optimizer: mom });
    const s1 = m1.state.logVariance;
    const g2 = [2, 0.5].map((l, t) => -l / (2 * Math.exp(s1[t]!)) + 0.5);
    const m2 = uw.weigh({ losses: [2, 0.5], optimizer: mom }, m1.state);
    expectClose(m2.state.logVariance, s1.map((s, t) => s - 0.1 * (0.9 * g[t]! + g2[t]!)), 1e-12);
    // Adam's first step moves each s by −lr · sign(g) (m̂ / √v̂ = ±1, up to ε).
    const a1 = uw.weigh({ losses: [2, 0.5], optimizer: { kind: 'adam', learningRate: 0.01 } });
    expectClose(a1.state.logVariance, g.map((x) => -0.5 - 0.01 * (x / (Math.abs(x) + 1e-8))), 1e-12);
  });
  it('outside a trainer with no optimizer in the input: Adam 1e-3; a private optimizer ignores the trainer’s', () => {
    const plain = uncertaintyWeighting().weigh({ losses: [2, 0.5] }).state.logVariance;
    const w0 = Math.exp(0.5) / 2;
    // g = −L w0 + ½: negative for L = 2, positive for L = 0.5; Adam's first step is −lr · sign(g).
    expectClose(plain, [-0.5 + 1e-3, -0.5 - 1e-3], 1e-9);
    const own = uncertaintyWeighting({ optimizer: { type: 'sgd', learningRate: 0.1 } });
    const r = own.weigh({ losses: [2, 0.5], optimizer: { kind: 'sgd', learningRate: 5 } });
    expectClose(r.state.logVariance, [-0.5 - 0.1 * (-2 * w0 + 0.5), -0.5 - 0.1 * (-0.5 * w0 + 0.5)], 1e-12);
  });
  it('unknown or bad private optimizer options are INVALID_OPTION errors', () => {
    expect(() => uncertaintyWeighting({ optimizer: { type: 'rmsprop' as 'sgd' } })).toThrow(/optimizer.type/);
    expect(() => gradnorm({ optimizer: { learningRate: 0.1, lr: 3 } as never })).toThrow(/optimizer.lr/);
    expect(() => imtl({ optimizer: { learningRate: -1 } })).toThrow(/optimizer.learningRate/);
  });

  describe('inside a trainer', () => {
    beforeAll(async () => {
      await useBestBackend();
    });
    const { tasks, train } = toyTwoTaskProblem({ seed: 4, size: 96, inputSize: 5 });
    const run = async (rule: UpdateRule, optimizer: Optimizer): Promise<unknown> => {
      const model = hardSharingMlp({ inputSize: 5, tasks, trunk: [8], seed: 1 });
      const trainer = new Trainer({ model, tasks, optimizer, rule, batchSize: 16, seed: 2 });
      trainer.runSteps(train, 6);
      await trainer.fit(train, { epochs: 2 }); // GradNorm moves its logits from epoch 1 on
      const state = rule.getState!();
      trainer.dispose();
      model.dispose();
      return state;
    };
    it.each([
      ['sgd', () => sgd(0.05), { type: 'sgd', learningRate: 0.05 }],
      ['momentum', () => momentum(0.05, { momentum: 0.8 }), { type: 'momentum', learningRate: 0.05, momentum: 0.8 }],
      ['adam', () => adam(0.02, { weightDecay: 0.01 }), { type: 'adam', learningRate: 0.02, weightDecay: 0.01 }],
    ] as const)('%s: the default equals a private copy of the trainer’s optimizer, and differs from private Adam 1e-3', async (_, make, copy) => {
      const byTrainer = (await run(toUpdateRule(uncertaintyWeighting()), make())) as UwState;
      const byCopy = (await run(toUpdateRule(uncertaintyWeighting({ optimizer: copy })), make())) as UwState;
      expect(byTrainer.logVariance).toEqual(byCopy.logVariance);
      const privateAdam = (await run(toUpdateRule(uncertaintyWeighting({ optimizer: { type: 'adam', learningRate: 1e-3 } })), make())) as UwState;
      expect(privateAdam.logVariance).not.toEqual(byTrainer.logVariance);
    });
    it('GradNorm and IMTL-L follow the trainer’s optimizer too', async () => {
      for (const [make, copy] of [
        [() => toUpdateRule(gradnorm()), () => toUpdateRule(gradnorm({ optimizer: { type: 'sgd', learningRate: 0.05 } }))],
        [() => toUpdateRule(imtl()), () => toUpdateRule(imtl({ optimizer: { type: 'sgd', learningRate: 0.05 } }))],
      ] as const) {
        const byTrainer = (await run(make(), sgd(0.05))) as { logits?: number[]; scale?: number[] };
        expect(byTrainer).toEqual(await run(copy(), sgd(0.05)));
        expect((byTrainer.logits ?? byTrainer.scale)!.some((v) => v !== (byTrainer.logits ? 1 : 0))).toBe(true);
      }
    });
  });
});
