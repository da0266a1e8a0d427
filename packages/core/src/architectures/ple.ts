import { SeededRandom } from '../random.js';
import { ComposedModel, type Module, type MultiTaskModel } from '../models/model.js';
import { describeArchitecture } from '../models/describe.js';
import type { Layer } from '../models/layers.js';
import { gateLayer, mixExperts, outputLayer, resolveArchitecture, runLayers, sizeOf, type ArchitectureOptions } from './common.js';
import { expertCounts, expertNets, type ExpertCounts } from './experts.js';

export interface PleOptions extends ArchitectureOptions {
  readonly experts?: ExpertCounts;
}

/**
 * Progressive Layered Extraction (Tang, Liu, Zhao, Gong, RecSys 2020), as LibMTL's `PLE`: the
 * backbone's stages are extraction levels; at level i, task t's representation h_t goes through the
 * shared experts' and t's own experts' stage i and is mixed by t's gate at that level,
 * h_t ← Σ_e softmax(dense(flatten(h_t)))_e · expert_e^i(h_t). As in LibMTL there is no separate
 * shared-gate path (the paper's shared experts also get their own gated input). Since every task's
 * path starts from the input, z is the input itself; the shared experts' parameters are shared by
 * every task and live on the head paths. BatchNorm inside the shared experts moves its running
 * statistics once per batch (on the first task's pass), like every core BatchNorm.
 */
export function ple(options: PleOptions): MultiTaskModel {
  const a = resolveArchitecture('ple', options, ['experts']);
  const counts = expertCounts(options.experts);
  return new ComposedModel(
    a.inputShape,
    (make, buffer) => {
      const context = { make, buffer, rng: new SeededRandom(a.seed) };
      const shared = expertNets(context, 'experts/shared', counts.shared, a, undefined);
      const inputs = [a.inputShape, ...shared[0]!.shapes.slice(0, -1)];
      const trunk: Module = { parameters: [], apply: (x) => x };
      const heads: Record<string, Module> = {};
      for (const task of a.tasks) {
        const own = expertNets(context, `experts/${task.name}`, counts.specific, a, task.name);
        const gates = a.stages.map((_, i) => gateLayer(context, `gates/${task.name}/level${i}`, sizeOf(inputs[i]!), counts.shared + counts.specific, task.name));
        const out = outputLayer(context, task, shared[0]!.shapes.at(-1)!);
        const layers: Layer[] = [...shared.flatMap((e) => e.layers), ...own.flatMap((e) => e.layers), ...gates, out];
        heads[task.name] = {
          parameters: layers.flatMap((l) => l.parameters),
          buffers: layers.flatMap((l) => l.buffers ?? []),
          apply: (z, _x, ctx) => {
            let h = z;
            a.stages.forEach((_, i) => {
              const experts = [...shared, ...own].map((e) => runLayers(e.stages[i]!, h, ctx));
              h = mixExperts(experts, gates[i]!.apply(h));
            });
            return out.apply(h);
          },
        };
      }
      return { trunk, heads };
    },
    { seed: a.seed, architecture: describeArchitecture('ple', { ...options, seed: a.seed }) },
  );
}
