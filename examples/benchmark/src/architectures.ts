import { hardSharingConv, hardSharingMlp, mmoe, type MultiTaskDataset, type MultiTaskModel, type Task } from '@mtl/core';
import { flattenInputs } from '@mtl/datasets';
import type { BenchmarkData } from './data.js';
import { unknownName } from './errors.js';

/** A model family by name: how to view the data (images or flat vectors) and how to build the model. */
export interface ArchitectureEntry {
  readonly name: string;
  readonly description: string;
  /** Images stay `[h, w, c]` for conv models; MLPs see flat vectors. */
  readonly input: 'image' | 'flat';
  build(options: { inputShape: readonly number[]; tasks: readonly Task[]; seed: number }): MultiTaskModel;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const imageShape = (shape: readonly number[], name: string): [number, number, number] => {
  if (shape.length !== 3) throw unknownName(`architecture for ${shape.length}-D inputs`, name, ['mlp', 'mmoe', 'linear-bottleneck']);
  return shape as [number, number, number];
};

const ENTRIES: readonly ArchitectureEntry[] = [
  {
    name: 'lenet',
    description: 'LeNet hard sharing (Sener & Koltun): conv 10@5x5, pool, conv 20@5x5, pool, dense 50 shared; linear heads',
    input: 'image',
    build: ({ inputShape, tasks, seed }) => hardSharingConv({ inputShape: imageShape(inputShape, 'lenet'), tasks, seed }),
  },
  {
    name: 'lenet-9x9',
    description: 'LeNet of Lin et al. (ParetoMTL) for 36x36 inputs: conv 10@9x9, pool, conv 20@5x5, pool, dense 50 shared',
    input: 'image',
    build: ({ inputShape, tasks, seed }) =>
      hardSharingConv({
        inputShape: imageShape(inputShape, 'lenet-9x9'),
        tasks,
        seed,
        conv: [
          { filters: 10, kernelSize: 9, pool: 2 },
          { filters: 20, kernelSize: 5, pool: 2 },
        ],
        dense: [50],
      }),
  },
  {
    name: 'mlp',
    description: 'MLP hard sharing: shared trunk 128-64 (ReLU), linear heads',
    input: 'flat',
    build: ({ inputShape, tasks, seed }) => hardSharingMlp({ inputSize: size(inputShape), tasks, trunk: [128, 64], seed }),
  },
  {
    name: 'mmoe',
    description: 'multi-gate mixture of experts: 4 experts of 32 units, towers of 16',
    input: 'flat',
    build: ({ inputShape, tasks, seed }) => mmoe({ inputSize: size(inputShape), tasks, seed }),
  },
  {
    name: 'linear-bottleneck',
    description: 'one shared linear unit and linear heads (the auxiliary-transfer guarantee is about this model)',
    input: 'flat',
    build: ({ inputShape, tasks, seed }) => hardSharingMlp({ inputSize: size(inputShape), tasks, trunk: [1], activation: 'linear', seed }),
  },
];

export function listArchitectures(): readonly ArchitectureEntry[] {
  return ENTRIES;
}

export function architectureEntry(name: string): ArchitectureEntry {
  const entry = ENTRIES.find((e) => e.name === name);
  if (!entry) throw unknownName('architecture', name, ENTRIES.map((e) => e.name));
  return entry;
}

/** The data as the architecture reads it (flat vectors for MLPs on image data). */
export function viewFor(entry: ArchitectureEntry, data: BenchmarkData): BenchmarkData {
  if (entry.input === 'image' && data.kind !== 'image') throw unknownName(`architecture for vector data`, entry.name, ['mlp', 'mmoe', 'linear-bottleneck']);
  if (entry.input === 'image' || data.kind === 'vector') return data;
  const flat = (d: MultiTaskDataset) => flattenInputs(d);
  return { ...data, train: flat(data.train), validation: flat(data.validation), test: flat(data.test) };
}

/** Number of trainable values of a model. */
export function parameterCount(model: MultiTaskModel): number {
  return model.parameters.reduce((sum, p) => sum + p.variable.size, 0);
}
