import { SeededRandom, hardSharingMlp, inMemoryDataset, regressionTask, type MultiTaskDataset, type MultiTaskModel, type Task } from '@mtl/core';
import type { BranchSetup } from '../src/index.js';

export const INPUT = 32;
export const TRUNK = [128, 128];

/** Target regression plus an auxiliary on shared inputs: big enough that a step costs real compute. */
export function benchProblem(size: number, seed: number): { tasks: Task[]; data: MultiTaskDataset } {
  const rng = new SeededRandom(seed);
  const v = Array.from({ length: INPUT }, () => rng.normal() / Math.sqrt(INPUT));
  const x = new Float32Array(size * INPUT);
  const target = new Float32Array(size);
  const aux = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    let s = 0;
    for (let j = 0; j < INPUT; j++) {
      const value = rng.normal();
      x[i * INPUT + j] = value;
      s += value * v[j]!;
    }
    target[i] = Math.tanh(s) + 0.3 * rng.normal();
    aux[i] = Math.sin(s);
  }
  return { tasks: [regressionTask('target'), regressionTask('aux')], data: inMemoryDataset({ x, inputShape: [INPUT], targets: { target, aux } }) };
}

export function benchModel(tasks: readonly Task[]): MultiTaskModel {
  return hardSharingMlp({ inputSize: INPUT, tasks, trunk: TRUNK, seed: 1 });
}

/** Worker setup module for the parallel runs. */
export default function setup(): BranchSetup {
  const { tasks, data } = benchProblem(4096, 1);
  return { model: benchModel(tasks), tasks, train: data };
}
