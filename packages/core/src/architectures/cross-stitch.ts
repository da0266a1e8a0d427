import { tf } from '../tf.js';
import { SeededRandom } from '../random.js';
import { ComposedModel, type MultiTaskModel } from '../models/model.js';
import { describeArchitecture } from '../models/describe.js';
import { buildStages, mixedColumnsTrunk, resolveArchitecture, sliceHeads, type ArchitectureOptions } from './common.js';

/**
 * Cross-stitch networks (Misra, Shrivastava, Gupta, Hebert, "Cross-stitch Networks for Multi-task
 * Learning", CVPR 2016), as LibMTL's `Cross_stitch`: one copy of the backbone per task; between
 * stages, task t's next input is Σ_j α[i][t][j] · (task j's stage output), with α initialised to ones
 * as in LibMTL (the paper initialises near the identity). Every parameter, α included, reaches every
 * task's loss through the mixing, so all are shared. The shared representation z stacks the tasks'
 * last-stage features [batch, T, ...]; task t's head reads its slice.
 */
export function crossStitch(options: ArchitectureOptions): MultiTaskModel {
  const a = resolveArchitecture('cross-stitch', options, []);
  const T = a.tasks.length;
  return new ComposedModel(
    a.inputShape,
    (make, buffer) => {
      const context = { make, buffer, rng: new SeededRandom(a.seed) };
      const columns = a.taskNames.map((t) => buildStages(context, `columns/${t}`, a.inputShape, a.stages, undefined));
      const units = a.stages.slice(1).map((_, i) => make(`crossStitch/unit${i}`, tf.ones([T, T])));
      const trunk = mixedColumnsTrunk(columns, units, (i) => units[i - 1]!.variable);
      const heads = sliceHeads(context, a.tasks, columns[0]!.shapes.at(-1)!);
      return { trunk, heads };
    },
    { seed: a.seed, architecture: describeArchitecture('cross-stitch', { ...options, seed: a.seed }) },
  );
}
