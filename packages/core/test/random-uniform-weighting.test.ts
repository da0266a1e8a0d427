import { describe, expect, it } from 'vitest';
import { SeededRandom, Trainer, lossWeightingRule, randomUniformWeighting, sgd } from '../src/index.js';
import { checkUpdateRuleConformance, toyTwoTaskProblem } from '../src/testing/index.js';
import { hardSharingMlp } from '../src/index.js';
import './setup.js';

describe('randomUniformWeighting (CoNAL Eq. 3)', () => {
  it('divides one U[0,1) draw per task, in task order, by their sum', () => {
    const draws = [0.2, 0.6, 0.2];
    let i = 0;
    const { weights } = randomUniformWeighting().weigh({ losses: [5, 1, 3], step: 0, epoch: 0, random: () => draws[i++]! }, null);
    expect(weights).toEqual([0.2, 0.6, 0.2]);
    expect(i).toBe(3);
    i = 0;
    const two = [0.1, 0.3];
    const w = randomUniformWeighting().weigh({ losses: [1, 1], step: 0, epoch: 0, random: () => two[i++]! }, null).weights;
    expect(w[0]).toBeCloseTo(0.25, 12);
    expect(w[1]).toBeCloseTo(0.75, 12);
  });

  it('equal weights when every draw is 0', () => {
    expect(randomUniformWeighting().weigh({ losses: [1, 2], step: 0, epoch: 0, random: () => 0 }, null).weights).toEqual([0.5, 0.5]);
  });

  it('weights are non-negative, sum to 1, and replay from the seeded stream', () => {
    const rng = new SeededRandom(3);
    const replay = new SeededRandom(3);
    for (let s = 0; s < 50; s++) {
      const { weights } = randomUniformWeighting().weigh({ losses: [1, 1, 1, 1], step: s, epoch: 0, random: () => rng.next() }, null);
      expect(weights.every((w) => w >= 0)).toBe(true);
      expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      const d = [replay.next(), replay.next(), replay.next(), replay.next()];
      const sum = d.reduce((a, b) => a + b, 0);
      weights.forEach((w, t) => expect(w).toBe(d[t]! / sum));
    }
  });

  it('trains through lossWeightingRule and reports its weights', () => {
    const problem = toyTwoTaskProblem({ size: 64 });
    const model = hardSharingMlp({ inputSize: problem.inputSize, tasks: problem.tasks, trunk: [8] });
    const trainer = new Trainer({ model, tasks: problem.tasks, optimizer: sgd(0.05), rule: lossWeightingRule(randomUniformWeighting()), batchSize: 16 });
    const stats = trainer.runSteps(problem.train, 3);
    for (const s of stats) expect(Object.values(s.weights!).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    trainer.dispose();
    model.dispose();
  });

  it('as a rule (the default of CoNAL retraining) passes the update-rule conformance checks', () => {
    const report = checkUpdateRuleConformance(() => lossWeightingRule(randomUniformWeighting()));
    expect(report.passed.length).toBeGreaterThan(5);
  });
});
