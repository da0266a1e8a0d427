import { describe, expect, it } from 'vitest';
import { ParamSnapshot, SeededRandom, TrainingStepContext, adam, hardSharingMlp, momentum, regressionTask, sgd, tf, toBatch, disposeBatch, type Optimizer } from '@mtl/core';
import { stepGroup } from '../src/group-step.js';
import { twoClusterProblem } from './fixtures.js';
import './setup.js';

/** Every value of the optimizer's state (slots and step counts) for the parameters of `keys`. */
function optimizerState(optimizer: Optimizer, keys: readonly string[]): Record<string, number[]> {
  const snapshot = optimizer.snapshot();
  const out: Record<string, number[]> = {};
  for (const slot of snapshot.slots.keys) {
    if (keys.some((k) => slot.startsWith(`${k}::`))) out[slot] = Array.from(snapshot.slots.get(slot).dataSync());
  }
  for (const k of keys) out[`${k}#steps`] = [snapshot.steps[k] ?? 0];
  snapshot.slots.dispose();
  return out;
}

const paramValues = (params: readonly { key: string; variable: tf.Variable }[]) => Object.fromEntries(params.map((p) => [p.key, Array.from(p.variable.dataSync())]));

describe.each([
  ['sgd', () => sgd(0.05)],
  ['momentum', () => momentum(0.05, { momentum: 0.9 })],
  ['adam', () => adam(0.01)],
])("during a group's step other groups' heads and optimizer state stay put (%s)", (_label, makeOptimizer) => {
  it.each([1, 3])('moves the shared parameters and the group heads only (headLrScale %d)', (headLrScale) => {
    const { tasks, data, inputSize } = twoClusterProblem(5, 64);
    const model = hardSharingMlp({ inputSize, tasks, trunk: [6], seed: 2 });
    const optimizer = makeOptimizer();
    const batch = toBatch(data.gather(Int32Array.from({ length: 32 }, (_, i) => i)), model.inputShape, tasks);
    const context = (step: number) => new TrainingStepContext({ step, epoch: 0, model, tasks, batch, optimizer, random: new SeededRandom(1) });
    const outside = ['b1', 'b2'].flatMap((t) => model.taskParameters(t));
    const inside = [...model.sharedParameters, ...['a1', 'a2'].flatMap((t) => model.taskParameters(t))];
    // Give every parameter optimizer state first (moments are non-zero afterwards).
    tf.tidy(() => void stepGroup(context(0), { group: [0, 1, 2, 3], groupNorm: false, headLrScale: 1, inner: undefined }));
    const before = paramValues(outside);
    const stateBefore = optimizerState(optimizer, outside.map((p) => p.key));
    const insideBefore = ParamSnapshot.capture(inside);
    const insideStateBefore = optimizerState(optimizer, inside.map((p) => p.key));
    tf.tidy(() => void stepGroup(context(1), { group: [0, 1], groupNorm: false, headLrScale, inner: undefined }));
    expect(paramValues(outside)).toEqual(before);
    expect(optimizerState(optimizer, outside.map((p) => p.key))).toEqual(stateBefore);
    // …while the group's own parameters and state did move.
    const moved = inside.filter((p) => {
      const a = Array.from(insideBefore.get(p.key).dataSync());
      const b = Array.from(p.variable.dataSync());
      return a.some((v, i) => v !== b[i]);
    });
    expect(moved.map((p) => p.key)).toEqual(inside.map((p) => p.key));
    const insideStateAfter = optimizerState(optimizer, inside.map((p) => p.key));
    for (const p of inside) expect(insideStateAfter[`${p.key}#steps`]).toEqual([insideStateBefore[`${p.key}#steps`]![0]! + 1]);
    insideBefore.dispose();
    disposeBatch(batch);
    optimizer.dispose();
    model.dispose();
  });
});

describe('a non-finite loss stops the step before any update', () => {
  it('throws NON_FINITE_LOSS naming the task and leaves the parameters unchanged', () => {
    const tasks = [regressionTask('p'), regressionTask('q')];
    const model = hardSharingMlp({ inputSize: 2, tasks, trunk: [3], seed: 1 });
    const optimizer = sgd(0.1);
    const batch = toBatch({ size: 1, x: Float32Array.from([1, 2]), targets: { p: Float32Array.from([1]), q: Float32Array.from([NaN]) } }, model.inputShape, tasks);
    const ctx = new TrainingStepContext({ step: 0, epoch: 0, model, tasks, batch, optimizer, random: new SeededRandom(1) });
    const before = paramValues(model.parameters);
    const tensors = tf.memory().numTensors;
    let code: string | undefined;
    let task: unknown;
    try {
      tf.tidy(() => void stepGroup(ctx, { group: [0], groupNorm: false, headLrScale: 1, inner: undefined }));
    } catch (error) {
      code = (error as { code?: string }).code;
      task = (error as { details?: { task?: unknown } }).details?.task;
    }
    expect(code).toBe('NON_FINITE_LOSS');
    expect(task).toBe('q');
    expect(paramValues(model.parameters)).toEqual(before);
    expect(tf.memory().numTensors).toBe(tensors);
    disposeBatch(batch);
    model.dispose();
  });
});
