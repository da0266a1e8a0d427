import type { UpdateRule } from '@mtl/core';
import { createAggregator, createWeighting, listMethods } from '@mtl/weighting';
import type { MethodAdapter, MethodContext } from './types.js';

/** What this adapter uses of @mtl/transference (typed here, so the app type-checks whatever state that package is in). */
interface TransferencePackage {
  readonly itMtl: (options: Record<string, unknown>) => UpdateRule;
  readonly withAffinity: (rule: UpdateRule, options: Record<string, unknown>) => UpdateRule & { affinity(): number[][]; readonly tasks: readonly string[]; readonly measurements: number };
}

/** Options of the adapter itself; the rest goes to `itMtl`. */
const AFFINITY_KEYS = ['affinityEvery', 'affinityFirstOrder'] as const;

/**
 * IT-MTL (@mtl/transference), wrapped in `withAffinity` so the run measures the lookahead affinity
 * as it goes (every `affinityEvery` = 10 steps, TAG's CelebA setting) and records its average
 * over training. Candidates in `methodOptions` may be 'sum', 'each-task', { tasks } or the registry
 * name of an @mtl/weighting aggregator ("pcgrad"); `weighting` may name a loss weighting ("uw").
 */
function itMtlAdapter(name: string, description: string, defaults: (seed: number) => Record<string, unknown>, aliases: readonly string[] = []): MethodAdapter {
  return {
    name,
    aliases,
    family: 'lookahead selection',
    package: '@mtl/transference',
    description,
    cost: 6,
    async run(ctx: MethodContext) {
      const { itMtl, withAffinity } = await ctx.importPackage<TransferencePackage>('@mtl/transference');
      const { affinityEvery = 10, affinityFirstOrder = false, ...rest } = ctx.options as { affinityEvery?: number; affinityFirstOrder?: boolean } & Record<string, unknown>;
      const options = { ...defaults(ctx.job.seed), ...resolveNames(rest, ctx.job.seed) };
      const rule = withAffinity(itMtl(options), { every: affinityEvery, firstOrder: affinityFirstOrder });
      const { model, history } = await ctx.trainWithRule(rule);
      try {
        return {
          test: ctx.evaluateTest(model),
          params: model.parameters.reduce((s, p) => s + p.variable.size, 0),
          history,
          ...(rule.measurements > 0 ? { affinity: { tasks: [...rule.tasks], matrix: rule.affinity(), kind: 'lookahead' } } : {}),
        };
      } finally {
        model.dispose();
      }
    },
  };
}

/** JSON names of @mtl/weighting methods in `candidates` / `weighting` as the objects itMtl takes. */
function resolveNames(options: Record<string, unknown>, seed: number): Record<string, unknown> {
  const out: Record<string, unknown> = { ...options };
  for (const key of AFFINITY_KEYS) delete out[key];
  const aggregators = listMethods().filter((m) => m.kind === 'aggregator').map((m) => m.name);
  if (Array.isArray(options.candidates)) {
    out.candidates = options.candidates.map((c: unknown) => (typeof c === 'string' && aggregators.includes(c) ? createAggregator(c, { seed }) : c));
  }
  if (typeof options.weighting === 'string') out.weighting = createWeighting(options.weighting, { seed });
  return out;
}

export const itMtl = itMtlAdapter('IT-MTL', 'per step, the candidate update with the largest lookahead transference (Fifty et al. 2020); lookahead affinity measured as it trains', () => ({}), ['it-mtl', 'transference']);

/** The transference paper's IT-UW-PCGrad: UW-weighted losses, candidates: the UW sum and UW-PCGrad. */
export const itUwPcgrad = itMtlAdapter(
  'IT-UW-PCGrad',
  'IT-MTL on uncertainty-weighted losses choosing between their sum and PCGrad (the paper\'s best MultiMNIST method)',
  (seed) => ({ weighting: createWeighting('uw', { seed }), candidates: ['sum', createAggregator('pcgrad', { seed })] }),
);
