import { beforeAll, describe, expect, it } from 'vitest';
import { Trainer, hardSharingMlp, sgd, tf, useBestBackend, type UpdateRule } from '@mtl/core';
import { UNTOUCHED_CHECK, checkAggregatorConformance, checkUpdateRuleConformance, toyTwoTaskProblem } from '@mtl/core/testing';
import { compose, createAggregator, createRule, listMethods, mgda, pcgrad, toUpdateRule, uncertaintyWeighting } from '../src/index.js';

const { tasks, train, validation } = toyTwoTaskProblem({ seed: 3, size: 192, inputSize: 6, relatedness: 0.6 });

async function trains(rule: UpdateRule): Promise<void> {
  const model = hardSharingMlp({ inputSize: 6, tasks, trunk: [16], seed: 1 });
  const trainer = new Trainer({ model, tasks, optimizer: sgd(0.05), rule, batchSize: 32, seed: 2, checkLeaks: true });
  const before = trainer.evaluate(validation);
  await trainer.fit(train, { epochs: 1 });
  const tensorsAfterOne = tf.memory().numTensors;
  const result = await trainer.fit(train, { epochs: 4, validation });
  expect(tf.memory().numTensors).toBe(tensorsAfterOne);
  const after = result.history.at(-1)!.validation!;
  expect(after['loss']!).toBeLessThan(before['loss']!);
  const state = rule.getState?.() ?? null;
  expect(JSON.parse(JSON.stringify(state))).toEqual(state); // checkpointable
  model.dispose();
}

describe('methods as trainer rules', () => {
  beforeAll(async () => {
    await useBestBackend();
  });
  it('loss weighting (DWA) trains without leaking tensors', async () => {
    await trains(createRule('dwa'));
  });
  it('aggregator (PCGrad, seeded) trains without leaking tensors', async () => {
    await trains(createRule('pcgrad', { seed: 4 }));
  });
  it('MGDA-UB on the representation trains', async () => {
    await trains(toUpdateRule(mgda({ space: 'representation' })));
  });
  it('UW-PCGrad (composition with head weights) and IMTL train', async () => {
    await trains(toUpdateRule(compose(uncertaintyWeighting({ optimizer: { learningRate: 0.01 } }), pcgrad({ seed: 1 }))));
    await trains(createRule('imtl'));
  });
});

describe("@mtl/core's conformance checks", () => {
  beforeAll(async () => {
    await useBestBackend();
  });
  // scalarize has a fixed task count (its weights); the checks vary T, so it gets its own case.
  // Krum needs T ≥ 3 (f + 3 with f = 0), so it is checked on 3 and 5 tasks and has no 2-task training run.
  it.each(listMethods().map((m) => m.name).filter((n) => n !== 'scalarize'))('%s passes the aggregator checks', (name) => {
    expect(checkAggregatorConformance(createAggregator(name, { seed: 1 }), name === 'krum' ? { tasks: [3, 5] } : {}).passed.length).toBeGreaterThan(0);
  });
  it('scalarize passes the aggregator checks for its task count', () => {
    expect(checkAggregatorConformance(createAggregator('scalarize', { weights: [0.3, 0.7] }), { tasks: [2] }).passed.length).toBeGreaterThan(0);
  });
  // Every registered method as a trainer rule (scalarize needs its weights: 2 tasks here).
  it.each(listMethods().map((m) => m.name).filter((n) => n !== 'krum'))('%s passes the update-rule checks', (name) => {
    const options = name === 'scalarize' ? { weights: [0.3, 0.7] } : { seed: 1 };
    expect(checkUpdateRuleConformance(() => createRule(name, options), { steps: 20 }).passed).toEqual(expect.arrayContaining(['no tensor leaks', UNTOUCHED_CHECK]));
  });
  it('FAMO learns its logits from the losses after each update (afterStep with ctx.evaluateLosses())', () => {
    const rule = createRule('famo');
    const model = hardSharingMlp({ inputSize: 6, tasks, trunk: [16], seed: 1 });
    const trainer = new Trainer({ model, tasks, optimizer: sgd(0.05), rule, batchSize: 32, seed: 2 });
    trainer.runSteps(train, 4);
    const state = rule.getState!() as { logits: number[]; previousLosses: number[] | null; optimizer: { t: number } };
    expect(state.optimizer.t).toBe(4);
    expect(state.previousLosses).toBeNull();
    expect(state.logits.some((v) => v !== 0)).toBe(true);
    trainer.dispose();
    model.dispose();
  });
  it.each([
    ['nash-mtl', { gramian: true }],
    ['upgrad', { gramian: true }],
    ['mgda-ub', { representationForm: 'batch-sum' }],
  ] as const)('%s %j (Gramian / batch-summed rule forms) passes the update-rule checks', (name, options) => {
    expect(checkUpdateRuleConformance(() => createRule(name, options), { steps: 12 }).passed).toEqual(expect.arrayContaining(['no tensor leaks', UNTOUCHED_CHECK]));
  });
});
