import { describe, expect, it } from 'vitest';
import './setup.js';
import {
  computeTaskGradients,
  createArchitecture,
  disposeBatch,
  disposeTaskGradients,
  hardSharingConv,
  inMemoryDataset,
  mlpStages,
  regressionTask,
  Trainer,
  sgd,
  tf,
  toBatch,
  type MultiTaskModel,
  type Task,
} from '../src/index.js';
import { parameterSpaceGradientsPerTaskForward, recordedPassOf, sharedGradientsFromDirection, trainingPass } from '../src/gradients.js';
import { recordForward } from '../src/recorded-forward.js';
import { SeededRandom } from '../src/random.js';

const tasks: Task[] = [regressionTask('a'), regressionTask('b', { size: 2 }), regressionTask('c')];

function batchFor(inputShape: number[], seed: number, n = 5) {
  const rng = new SeededRandom(seed);
  const size = inputShape.reduce((a, b) => a * b, 1);
  const ds = inMemoryDataset({
    x: Array.from({ length: n * size }, () => rng.normal()),
    inputShape,
    targets: Object.fromEntries(tasks.map((t) => [t.name, Array.from({ length: n * (t.name === 'b' ? 2 : 1) }, () => rng.normal())])),
  });
  return toBatch(ds.gather(Array.from({ length: n }, (_, i) => i)), inputShape, tasks);
}

/** Counts the model's trunk forwards: each call of `represent`. */
function countingRepresent(model: MultiTaskModel): { calls: () => number } {
  let calls = 0;
  const represent = model.represent.bind(model);
  (model as { represent: MultiTaskModel['represent'] }).represent = (x, options) => {
    calls++;
    return represent(x, options);
  };
  return { calls: () => calls };
}

const models: [string, number[], () => MultiTaskModel][] = [
  ['hps MLP', [3], () => createArchitecture('hps', { inputShape: [3], tasks, stages: mlpStages([4, 3], 'tanh'), seed: 2 })],
  [
    'hps conv + BatchNorm + dropout',
    [4, 4, 1],
    () =>
      createArchitecture('hps', {
        inputShape: [4, 4, 1],
        tasks,
        seed: 1,
        stages: [[{ type: 'conv', filters: 2, kernelSize: 3, padding: 'same', activation: 'relu', pool: 2 }, { type: 'batchNorm' }, { type: 'dropout', rate: 0.3 }]],
      }),
  ],
  ['LeNet-style hardSharingConv', [12, 12, 1], () => hardSharingConv({ inputShape: [12, 12, 1], tasks, conv: [{ filters: 2, kernelSize: 3, pool: 2 }], dense: [4], seed: 4 })],
  ['cgc (task-specific experts: subset sharing)', [3], () => createArchitecture('cgc', { inputShape: [3], tasks, stages: mlpStages([4], 'tanh'), seed: 3 })],
  ['mmoe', [3], () => createArchitecture('mmoe', { inputSize: 3, tasks, experts: 2, expertUnits: [3], tower: [2], seed: 1 })],
];

describe('per-task gradients from one recorded forward', () => {
  for (const [label, inputShape, build] of models) {
    it(`${label}: bit-identical to one tf.variableGrads pass per task, with one trunk forward instead of T`, () => {
      const batch = batchFor(inputShape, 7);
      const model = build();
      const forward = { training: true, seed: 11 };
      const reference = parameterSpaceGradientsPerTaskForward(model, tasks, batch, forward);
      const counter = countingRepresent(model);
      const before = tf.memory().numTensors;
      const recorded = computeTaskGradients(model, tasks, batch, 'parameters', { forward });
      expect(counter.calls()).toBe(1);
      expect(Array.from(recorded.jacobian.dataSync())).toEqual(Array.from(reference.jacobian.dataSync()));
      expect(Array.from(recorded.losses.dataSync())).toEqual(Array.from(reference.losses.dataSync()));
      for (const task of tasks) {
        const ours = recorded.taskSpecific.get(task.name)!;
        const theirs = reference.taskSpecific.get(task.name)!;
        expect([...ours.keys()]).toEqual([...theirs.keys()]);
        for (const [key, g] of theirs) expect(Array.from(ours.get(key)!.dataSync())).toEqual(Array.from(g.dataSync()));
      }
      disposeTaskGradients(recorded);
      // Nothing but the returned tensors was left behind (the tape's saved tensors are freed).
      expect(tf.memory().numTensors).toBe(before);
      disposeTaskGradients(reference);
      disposeBatch(batch);
      model.dispose();
    });
  }

  it('inside another gradient computation it runs one forward per task (the outer tape must see them) and still agrees', () => {
    const batch = batchFor([3], 3);
    const model = models[0]![2]();
    const forward = trainingPass(model, { training: true, seed: 1 });
    const reference = parameterSpaceGradientsPerTaskForward(model, tasks, batch, forward);
    const counter = countingRepresent(model);
    let nested: number[] = [];
    tf.tidy(() => {
      const x = tf.variable(tf.scalar(1), true, 'outer-x');
      tf.variableGrads(() => {
        const g = computeTaskGradients(model, tasks, batch, 'parameters', { forward });
        nested = Array.from(g.jacobian.dataSync());
        const out = tf.mul<tf.Scalar>(x, tf.sum(g.losses));
        disposeTaskGradients(g);
        return out;
      }, [x]);
      x.dispose();
    });
    expect(counter.calls()).toBe(tasks.length);
    expect(nested).toEqual(Array.from(reference.jacobian.dataSync()));
    disposeTaskGradients(reference);
    disposeBatch(batch);
    model.dispose();
  });

  it('a forward that throws frees the tape and leaves the engine ready for the next gradient', () => {
    const w = tf.variable(tf.tensor1d([1, 2, 3]), true, 'rf-w');
    const before = tf.memory().numTensors;
    expect(() =>
      recordForward(() => {
        tf.sum(tf.mul(tf.exp(w), w));
        throw new Error('task "b" has no target');
      }),
    ).toThrow(/no target/);
    expect(tf.memory().numTensors).toBe(before);
    // The engine records again normally afterwards.
    const { grads } = tf.variableGrads(() => tf.sum<tf.Scalar>(tf.square(w)), [w]);
    expect(Array.from(grads['rf-w']!.dataSync())).toEqual([2, 4, 6]);
    tf.dispose(grads);
    w.dispose();
  });

  it('each output gets its own gradient from the one tape: d/dw of sum(w²) and of sum(exp(w))', () => {
    const w = tf.variable(tf.tensor1d([0, 1, 2]), true, 'rf-w2');
    const unrelated = tf.variable(tf.tensor1d([5]), true, 'rf-u');
    const recorded = recordForward(() => [tf.sum<tf.Scalar>(tf.square(w)), tf.sum<tf.Scalar>(tf.exp(w))])!;
    const [square] = recorded.gradients(recorded.outputs[0]!, [w, unrelated]);
    const [exp] = recorded.gradients(recorded.outputs[1]!, [w]);
    const [again, none] = recorded.gradients(recorded.outputs[1]!, [w, unrelated]);
    expect(Array.from(again!.dataSync())).toEqual(Array.from(exp!.dataSync()));
    expect(Array.from(square!.dataSync())).toEqual([0, 2, 4]);
    Array.from(exp!.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(Math.exp(i), 5));
    expect(none).toBeNull();
    recorded.dispose();
    expect(() => recorded.gradients(recorded.outputs[0]!, [w])).toThrow(/after dispose/);
    tf.dispose([square!, exp!, again!, ...recorded.outputs, w, unrelated]);
  });

  it('representation space: the trunk backward of a direction reuses the recorded trunk forward, bit-identical to running it again', () => {
    const batch = batchFor([3], 5);
    const model = models[0]![2]();
    const forward = { training: true, seed: 2 };
    const counter = countingRepresent(model);
    const before = tf.memory().numTensors;
    const g = computeTaskGradients(model, tasks, batch, 'representation', { forward });
    expect(counter.calls()).toBe(1);
    const direction = tf.sum<tf.Tensor1D>(g.jacobian, 0);
    const fromTape = sharedGradientsFromDirection(model, batch, g, direction, { forward });
    const doubled = tf.mul<tf.Tensor1D>(direction, 2);
    const second = sharedGradientsFromDirection(model, batch, g, doubled, { forward });
    expect(counter.calls()).toBe(1);
    // Another batch object, or another seed: the kept tape is of another pass, so the trunk runs again.
    const rerun = sharedGradientsFromDirection(model, { ...batch }, g, direction, { forward });
    expect(counter.calls()).toBe(2);
    for (const [key, t] of rerun) {
      expect(Array.from(fromTape.get(key)!.dataSync())).toEqual(Array.from(t.dataSync()));
      Array.from(second.get(key)!.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(2 * t.dataSync()[i]!, 5));
    }
    // After an assignment to a trunk variable the tape is of other values: run again.
    const w = model.sharedParameters[0]!.variable;
    const scaled = tf.mul(w, 1.5);
    w.assign(scaled);
    scaled.dispose();
    tf.dispose([...sharedGradientsFromDirection(model, batch, g, direction, { forward }).values()]);
    expect(counter.calls()).toBe(3);
    tf.dispose([direction, doubled, ...fromTape.values(), ...second.values(), ...rerun.values()]);
    disposeTaskGradients(g);
    expect(tf.memory().numTensors).toBe(before);
    // Inside a tidy, the tape's tensors go with the tidy's.
    tf.tidy(() => {
      const inner = computeTaskGradients(model, tasks, batch, 'representation', { forward });
      sharedGradientsFromDirection(model, batch, inner, tf.sum<tf.Tensor1D>(inner.jacobian, 0), { forward });
      for (const m of inner.taskSpecific.values()) tf.dispose([...m.values()]);
    });
    expect(tf.memory().numTensors).toBe(before);
    disposeBatch(batch);
    model.dispose();
  });

  it('a loss weighting (losses, then weightedLossGradients) runs one forward, and its gradients equal a fresh weighted pass', () => {
    const rng = new SeededRandom(9);
    const n = 8;
    const data = inMemoryDataset({
      x: Array.from({ length: n * 3 }, () => rng.normal()),
      inputShape: [3],
      targets: Object.fromEntries(tasks.map((t) => [t.name, Array.from({ length: n * (t.name === 'b' ? 2 : 1) }, () => rng.normal())])),
    });
    const model = models[0]![2]();
    let forwards = 0;
    const forward = model.forward.bind(model);
    (model as { forward: MultiTaskModel['forward'] }).forward = (x, options) => {
      forwards++;
      return forward(x, options);
    };
    const weights = [0.3, 0.7, 0];
    const seen: { forwards: number; ours: Map<string, number[]>; reference: Map<string, number[]> }[] = [];
    const probe = {
      name: 'weighting-probe',
      step(ctx: Parameters<NonNullable<ConstructorParameters<typeof Trainer>[0]['rule']>['step']>[0]) {
        const before = forwards;
        const losses = ctx.losses();
        const grads = ctx.weightedLossGradients(weights);
        const used = forwards - before;
        // Reference: tfjs's own weighted pass at the same parameters (the MLP has no dropout or BatchNorm).
        const { grads: reference } = tf.variableGrads(() => {
          const outputs = forward(ctx.batch.x, { training: true, seed: 0 });
          return tf.addN(tasks.map((t, i) => tf.mul(t.loss(outputs[t.name]!, ctx.batch.targets[t.name]!), weights[i]!))) as tf.Scalar;
        }, ctx.model.parameters.filter((p) => p.tasks === undefined || p.tasks.some((t) => t !== 'c')).map((p) => p.variable));
        expect(losses.every(Number.isFinite)).toBe(true);
        seen.push({
          forwards: used,
          ours: new Map([...grads].map(([k, g]) => [k, Array.from(g.dataSync())])),
          reference: new Map(ctx.model.parameters.filter((p) => reference[p.variable.name]).map((p) => [p.key, Array.from(reference[p.variable.name]!.dataSync())])),
        });
        tf.dispose(Object.values(reference));
        ctx.applyGradients(grads);
        return { weights };
      },
    };
    const trainer = new Trainer({ model, tasks, optimizer: sgd(0.1), rule: probe, batchSize: 4, seed: 3 });
    const before = tf.memory().numTensors;
    trainer.runSteps(data, 3);
    expect(tf.memory().numTensors).toBe(before);
    for (const step of seen) {
      expect(step.forwards).toBe(1);
      // Task c has weight 0: its head gets no entry, every other parameter the weighted gradient.
      const cHead = model.taskParameters('c').map((p) => p.key);
      for (const key of cHead) expect(step.ours.has(key)).toBe(false);
      for (const [key, values] of step.ours) {
        const expected = step.reference.get(key)!;
        values.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
      }
      expect(step.ours.size).toBe(model.parameters.length - cHead.length);
    }
    trainer.dispose();
    model.dispose();
  });

  it('representation space without forward options: the direction goes back through the pass the Jacobian was taken on (same dropout mask)', () => {
    const batch = batchFor([4, 4, 1], 6);
    const model = models[1]![2](); // conv + BatchNorm + dropout 0.3
    const counter = countingRepresent(model);
    const g = computeTaskGradients(model, tasks, batch, 'representation');
    const direction = tf.sum<tf.Tensor1D>(g.jacobian, 0);
    const ours = sharedGradientsFromDirection(model, batch, g, direction);
    expect(counter.calls()).toBe(1);
    // The same pass run again explicitly: the seed the Jacobian drew is model.nextSeed's previous value.
    const rerun = sharedGradientsFromDirection(model, { ...batch }, g, direction, { forward: recordedPassOf(g) });
    for (const [key, t] of rerun) expect(Array.from(ours.get(key)!.dataSync())).toEqual(Array.from(t.dataSync()));
    tf.dispose([direction, ...ours.values(), ...rerun.values()]);
    disposeTaskGradients(g);
    disposeBatch(batch);
    model.dispose();
  });
});
