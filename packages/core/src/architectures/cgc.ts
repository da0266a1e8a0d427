import { tf } from '../tf.js';
import { SeededRandom } from '../random.js';
import { ComposedModel, type Module, type MultiTaskModel } from '../models/model.js';
import { describeArchitecture } from '../models/describe.js';
import { gateLayer, mixExperts, outputLayer, expertSlices, resolveArchitecture, runLayers, sizeOf, type ArchitectureOptions } from './common.js';
import { expertCounts, expertNets, type ExpertCounts } from './experts.js';

export interface CgcOptions extends ArchitectureOptions {
  readonly experts?: ExpertCounts;
}

/**
 * Customized Gate Control (Tang, Liu, Zhao, Gong, "Progressive Layered Extraction (PLE): A Novel
 * Multi-Task Learning (MTL) Model for Personalized Recommendations", RecSys 2020), as LibMTL's `CGC`:
 * shared experts and per-task experts, each the whole backbone; task t's representation is
 * Σ_e g_t(x)_e · expert_e(x) over [shared experts, t's experts], g_t = softmax(dense(flatten(x))).
 * z stacks the shared experts' outputs; task-specific experts and gates are in the heads.
 */
export function cgc(options: CgcOptions): MultiTaskModel {
  const a = resolveArchitecture('cgc', options, ['experts']);
  const counts = expertCounts(options.experts);
  const inputSize = sizeOf(a.inputShape);
  return new ComposedModel(
    a.inputShape,
    (make, buffer) => {
      const context = { make, buffer, rng: new SeededRandom(a.seed) };
      const shared = expertNets(context, 'experts/shared', counts.shared, a, undefined);
      const trunk: Module = {
        parameters: shared.flatMap((e) => e.layers.flatMap((l) => l.parameters)),
        buffers: shared.flatMap((e) => e.layers.flatMap((l) => l.buffers ?? [])),
        apply: (x, _x, ctx) => tf.stack(shared.map((e) => runLayers(e.layers, x, ctx)), 1),
      };
      const featureShape = shared[0]!.shapes.at(-1)!;
      const heads: Record<string, Module> = {};
      for (const task of a.tasks) {
        const own = expertNets(context, `experts/${task.name}`, counts.specific, a, task.name);
        const gate = gateLayer(context, `gates/${task.name}`, inputSize, counts.shared + counts.specific, task.name);
        const out = outputLayer(context, task, featureShape);
        heads[task.name] = {
          parameters: [...own.flatMap((e) => e.layers.flatMap((l) => l.parameters)), ...gate.parameters, ...out.parameters],
          buffers: own.flatMap((e) => e.layers.flatMap((l) => l.buffers ?? [])),
          apply: (z, x, ctx) => {
            const experts = [...expertSlices(z), ...own.map((e) => runLayers(e.layers, x, ctx))];
            return out.apply(mixExperts(experts, gate.apply(x)));
          },
        };
      }
      return { trunk, heads };
    },
    { seed: a.seed, architecture: describeArchitecture('cgc', { ...options, seed: a.seed }) },
  );
}
