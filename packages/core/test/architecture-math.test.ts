import { describe, expect, it } from 'vitest';
import './setup.js';
import { createArchitecture, tf, type LayerSpec, type MultiTaskModel } from '../src/index.js';
import { smoothStep } from '../src/architectures/dselect-k.js';

const linear: LayerSpec[][] = [[{ type: 'dense', units: 2, activation: 'linear' }], [{ type: 'dense', units: 2, activation: 'linear' }]];
const tasks = [{ name: 'a', outputSize: 1 }, { name: 'b', outputSize: 1 }];
const set = (model: MultiTaskModel, key: string, values: number[][] | number[]) =>
  tf.tidy(() => model.parameters.find((p) => p.key === key)!.variable.assign(tf.tensor(values, model.parameters.find((p) => p.key === key)!.variable.shape)));

/** Column t: stage 0 multiplies by s_t, stage 1 is the identity; biases 0. */
function columns(model: MultiTaskModel, scales: readonly number[]) {
  ['a', 'b'].forEach((t, i) => {
    set(model, `columns/${t}/stage0/dense0/kernel`, [[scales[i]!, 0], [0, scales[i]!]]);
    set(model, `columns/${t}/stage1/dense0/kernel`, [[1, 0], [0, 1]]);
  });
}

describe('cross-stitch', () => {
  it("mixes the columns between stages with α: z_t = Σ_j α[t][j] · s_j x", () => {
    const model = createArchitecture('cross-stitch', { inputShape: [2], tasks, stages: linear });
    columns(model, [1, 2]);
    set(model, 'crossStitch/unit0', [[0.5, 0.25], [1, -1]]);
    const x = tf.tensor2d([[1, 3]]);
    const z = tf.tidy(() => model.represent(x).arraySync() as number[][][]);
    expect(z[0]![0]).toEqual([0.5 * 1 + 0.25 * 2, 3 * (0.5 + 0.25 * 2)]); // task a
    expect(z[0]![1]).toEqual([1 - 2, 3 * (1 - 2)]); // task b
    x.dispose();
    model.dispose();
  });
});

describe('LTB', () => {
  it('in evaluation each task takes the argmax branch of its logits', () => {
    const model = createArchitecture('ltb', { inputShape: [2], tasks, stages: linear });
    columns(model, [1, 5]);
    set(model, 'ltb/alpha0', [[0, 3], [2, 1]]); // a branches from b's column, b from a's
    const x = tf.tensor2d([[1, 2]]);
    const z = tf.tidy(() => model.represent(x).arraySync() as number[][][]);
    expect(z[0]![0]).toEqual([5, 10]);
    expect(z[0]![1]).toEqual([1, 2]);
    // Training draws hard Gumbel samples: one-hot, so each row is one column's output.
    const t = tf.tidy(() => model.represent(x, { training: true, seed: 4 }).arraySync() as number[][][]);
    for (const row of t[0]!) expect([JSON.stringify([5, 10]), JSON.stringify([1, 2])]).toContain(JSON.stringify(row));
    x.dispose();
    model.dispose();
  });
});

describe('DSelect-k', () => {
  it('smooth step: 0 and 1 outside ±γ/2, the cubic inside', () => {
    const t = tf.tensor1d([-3, -1, 0, 0.5, 1, 3]);
    const s = Array.from(tf.tidy(() => smoothStep(t, 2).dataSync()));
    const cubic = (v: number) => (-2 / 8) * v ** 3 + (3 / 4) * v + 0.5;
    [0, 0, 0.5, cubic(0.5), 1, 1].forEach((v, i) => expect(s[i]!).toBeCloseTo(v, 6));
    t.dispose();
  });

  it('with 4 experts the expert weights of each example sum to 1 and are the selectors mixed by softmax(w)', () => {
    const model = createArchitecture('dselect-k', { inputShape: [2], tasks, stages: [[{ type: 'dense', units: 1, activation: 'linear' }]], experts: 4, selected: 2, gamma: 2 });
    // Expert e outputs e (kernel 0, bias e) so the mixed representation is Σ_e α_e e.
    for (let e = 0; e < 4; e++) {
      set(model, `experts/${e}/stage0/dense0/kernel`, [[0], [0]]);
      set(model, `experts/${e}/stage0/dense0/bias`, [e]);
    }
    // Selector logits independent of x: z = bias, w = bias.
    set(model, 'selectors/a/z/kernel', [[0, 0, 0, 0], [0, 0, 0, 0]]);
    set(model, 'selectors/a/z/bias', [2, -2, 0.5, 0]); // selector 0 → bits (1, 0) = expert 2; selector 1 → S(0.5), S(0)
    set(model, 'selectors/a/w/kernel', [[0, 0], [0, 0]]);
    set(model, 'selectors/a/w/bias', [Math.log(3), 0]); // softmax → 0.75, 0.25
    set(model, 'out/a/kernel', [[1]]);
    set(model, 'out/a/bias', [0]);
    const s1 = [(-2 / 8) * 0.125 + (3 / 4) * 0.5 + 0.5, 0.5]; // S_2(0.5), S_2(0)
    const r1 = [0, 1, 2, 3].map((e) => ((e >> 1) & 1 ? s1[0]! : 1 - s1[0]!) * (e & 1 ? s1[1]! : 1 - s1[1]!));
    const alpha = [0, 1, 2, 3].map((e) => 0.75 * (e === 2 ? 1 : 0) + 0.25 * r1[e]!);
    expect(alpha.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const x = tf.tensor2d([[1, -1]]);
    const y = tf.tidy(() => model.forward(x)['a']!.dataSync()[0]!);
    expect(y).toBeCloseTo(alpha.reduce((sum, w, e) => sum + w * e, 0), 5);
    x.dispose();
    model.dispose();
  });
});

describe('CGC', () => {
  it("a task's representation is its gate's mixture of [shared experts, its own experts]", () => {
    const model = createArchitecture('cgc', { inputShape: [1], tasks, stages: [[{ type: 'dense', units: 1, activation: 'linear' }]], experts: { shared: 1, specific: 1 } });
    set(model, 'experts/shared/0/stage0/dense0/kernel', [[2]]);
    set(model, 'experts/a/0/stage0/dense0/kernel', [[-1]]);
    set(model, 'gates/a/kernel', [[0, 0]]);
    set(model, 'gates/a/bias', [Math.log(4), 0]); // softmax → 0.8 shared, 0.2 own
    set(model, 'out/a/kernel', [[1]]);
    const x = tf.tensor2d([[3]]);
    expect(tf.tidy(() => model.forward(x)['a']!.dataSync()[0]!)).toBeCloseTo(0.8 * 6 + 0.2 * -3, 5);
    x.dispose();
    model.dispose();
  });
});
