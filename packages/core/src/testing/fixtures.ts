import { inMemoryDataset, type MultiTaskDataset } from '../data.js';
import { SeededRandom } from '../random.js';
import { classificationTask, regressionTask, type Task } from '../tasks.js';

export interface ToyProblem {
  readonly tasks: readonly Task[];
  readonly train: MultiTaskDataset;
  readonly validation: MultiTaskDataset;
  readonly test: MultiTaskDataset;
  readonly inputSize: number;
}

/**
 * A small two-task problem for tests and examples: inputs x ~ N(0, I) in `inputSize` dimensions;
 * task `sign` classifies sign(w1·x) (2 classes), task `value` regresses w2·x + noise, with w2
 * correlated with w1 by `relatedness` (1: same direction, 0: orthogonal).
 */
export function toyTwoTaskProblem(options: { seed?: number; size?: number; inputSize?: number; relatedness?: number } = {}): ToyProblem {
  const rng = new SeededRandom(options.seed ?? 1);
  const inputSize = options.inputSize ?? 8;
  const size = options.size ?? 512;
  const rho = options.relatedness ?? 0.8;
  const w1 = Array.from({ length: inputSize }, () => rng.normal());
  const noise = Array.from({ length: inputSize }, () => rng.normal());
  const w2 = w1.map((v, i) => rho * v + Math.sqrt(1 - rho * rho) * noise[i]!);
  const make = (n: number): MultiTaskDataset => {
    const x = new Float32Array(n * inputSize);
    const sign = new Int32Array(n);
    const value = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let d1 = 0;
      let d2 = 0;
      for (let j = 0; j < inputSize; j++) {
        const v = rng.normal();
        x[i * inputSize + j] = v;
        d1 += w1[j]! * v;
        d2 += w2[j]! * v;
      }
      sign[i] = d1 > 0 ? 1 : 0;
      value[i] = d2 / Math.sqrt(inputSize) + 0.05 * rng.normal();
    }
    return inMemoryDataset({ x, inputShape: [inputSize], targets: { sign, value } });
  };
  return {
    tasks: [classificationTask('sign', { classes: 2 }), regressionTask('value')],
    train: make(size),
    validation: make(Math.max(64, Math.floor(size / 4))),
    test: make(Math.max(64, Math.floor(size / 4))),
    inputSize,
  };
}
