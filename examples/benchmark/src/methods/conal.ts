import type { MultiTaskModel, OptimizerConfig, Task, TrainerCallback, MultiTaskDataset, EpochLog } from '@mtl/core';
import type { HistoryEntry } from '../job.js';
import { badOption } from '../errors.js';
import type { MethodAdapter, MethodContext } from './types.js';

type BlockSpec = { kind: 'dense'; units: number; activation?: string } | { kind: 'conv'; filters: number; kernelSize: number; pool?: number };

interface ConalArchitecture {
  readonly branchPoints: Readonly<Record<string, number>>;
  readonly groups: readonly (readonly string[])[];
  readonly nodes: readonly unknown[];
  readonly parameterCounts: { readonly searchSpace: number; readonly derived: number; readonly allShared: number };
}

/** What this adapter uses of @mtl/conal (typed here, so the app type-checks whatever state that package is in). */
interface ConalPackage {
  readonly conalSearch: (options: Record<string, unknown>) => { architecture: ConalArchitecture };
  readonly conalProSearch: (options: Record<string, unknown>) => { architecture: ConalArchitecture };
  readonly retrain: (options: {
    architecture: ConalArchitecture;
    tasks: readonly Task[];
    train: MultiTaskDataset;
    validation?: MultiTaskDataset;
    epochs: number;
    batchSize: number;
    optimizer: OptimizerConfig;
    seed: number;
    callbacks?: readonly TrainerCallback[];
  }) => Promise<{ model: MultiTaskModel; history: readonly EpochLog[] }>;
}

/** The benchmark's architectures as CoNAL backbones (the modules between branch points). */
const BACKBONES: Readonly<Record<string, readonly BlockSpec[]>> = {
  lenet: [
    { kind: 'conv', filters: 10, kernelSize: 5, pool: 2 },
    { kind: 'conv', filters: 20, kernelSize: 5, pool: 2 },
    { kind: 'dense', units: 50 },
  ],
  'lenet-9x9': [
    { kind: 'conv', filters: 10, kernelSize: 9, pool: 2 },
    { kind: 'conv', filters: 20, kernelSize: 5, pool: 2 },
    { kind: 'dense', units: 50 },
  ],
  mlp: [
    { kind: 'dense', units: 128 },
    { kind: 'dense', units: 64 },
  ],
  'linear-bottleneck': [{ kind: 'dense', units: 1, activation: 'linear' }],
};

/**
 * CoNAL (@mtl/conal): search the branch points over the benchmark architecture's modules
 * (`searchEpochs`, default a quarter of the epochs, at least 1), derive the tree, retrain it from
 * scratch for the benchmark's epochs with the package's default rule (RLW). The derived tree
 * (branch points, subgroups, modules, parameters) goes into the results. The search and retraining
 * keep no checkpoints of their own: a killed CoNAL job starts over, deterministically.
 * `CoNAL-Pro` runs the package's stage-wise search (§2.4) instead.
 */
function conalAdapter(name: string, search: 'conalSearch' | 'conalProSearch', description: string): MethodAdapter {
  return {
    name,
    family: 'architecture search',
    package: '@mtl/conal',
    description,
    cost: 4,
    async run(ctx: MethodContext) {
      const conalPackage = await ctx.importPackage<ConalPackage>('@mtl/conal');
      const blocks = BACKBONES[ctx.job.architecture];
      if (!blocks) throw badOption('architecture', `${name} has no backbone for architecture "${ctx.job.architecture}"; available: ${Object.keys(BACKBONES).join(', ')}`);
      const { searchEpochs, ...searchOptions } = ctx.options as { searchEpochs?: number } & Record<string, unknown>;
      const { tasks, train, validation } = ctx.data;
      const epochs = ctx.job.training.epochs;
      ctx.progress({ epoch: 0, epochs, step: 0, stepsPerEpoch: 1, fraction: 0, phase: 'searching the architecture' });
      const { architecture } = conalPackage[search]({
        inputShape: train.inputShape,
        tasks,
        blocks,
        train,
        validation,
        epochs: searchEpochs ?? Math.max(1, Math.round(epochs / 4)),
        batchSize: ctx.job.training.batchSize,
        weightOptimizer: ctx.optimizerConfig,
        seed: ctx.job.seed,
        ...searchOptions,
      });
      const report: TrainerCallback = {
        onEpochEnd: (log) => ctx.progress({ epoch: log.epoch + 1, epochs, step: 1, stepsPerEpoch: 1, fraction: 0.2 + (0.8 * (log.epoch + 1)) / epochs, phase: 'retraining' }),
      };
      const { model, history } = await conalPackage.retrain({ architecture, tasks, train, validation, epochs, batchSize: ctx.job.training.batchSize, optimizer: ctx.optimizerConfig, seed: ctx.job.seed, callbacks: [report] });
      try {
        const entries: HistoryEntry[] = history.map((h) => ({ epoch: h.epoch, trainLoss: h.trainLoss, ...(h.validation ? { validation: h.validation } : {}), seconds: h.seconds }));
        return {
          test: ctx.evaluateTest(model),
          params: architecture.parameterCounts.derived,
          history: entries,
          architecture: {
            branchPoints: architecture.branchPoints,
            modules: architecture.nodes.length,
            parameters: architecture.parameterCounts.derived,
            description: JSON.stringify({ groups: architecture.groups, nodes: architecture.nodes }),
          },
        };
      } finally {
        model.dispose();
      }
    },
  };
}

export const conal = conalAdapter('CoNAL', 'conalSearch', 'conflict-noticed architecture learning: search branch points, derive a tree, retrain (Yue et al., AAAI 2023)');
export const conalPro = conalAdapter('CoNAL-Pro', 'conalProSearch', 'CoNAL-Pro: stage-wise branch-point search from the last shared module backwards, subgroups allowed (§2.4)');
