import { listMethods, createRule } from '@mtl/weighting';
import type { MethodAdapter } from './types.js';

/** Display names of the @mtl/weighting registry; a name not listed here shows as registered. */
const DISPLAY: Readonly<Record<string, string>> = {
  ew: 'EW',
  uw: 'UW',
  dwa: 'DWA',
  rlw: 'RLW',
  pcgrad: 'PCGrad',
  cagrad: 'CAGrad',
  mgda: 'MGDA',
  'mgda-ub': 'MGDA-UB',
  'nash-mtl': 'Nash-MTL',
  gradvac: 'GradVac',
  imtl: 'IMTL',
  'aligned-mtl': 'Aligned-MTL',
  upgrad: 'UPGrad',
  gradnorm: 'GradNorm',
  'uw-pcgrad': 'UW-PCGrad',
  scalarize: 'scalarize',
};

const ALIASES: Readonly<Record<string, readonly string[]>> = { ew: ['mtl', 'joint', 'equal'], 'nash-mtl': ['nash'] };

/**
 * Every method of the @mtl/weighting registry (loss weightings and gradient aggregators), one
 * adapter each: `createRule(name, { seed, ...options })` on one shared-trunk model.
 */
export function weightingAdapters(): MethodAdapter[] {
  return listMethods().map(({ name, kind }) => ({
    name: DISPLAY[name] ?? name,
    aliases: [name, ...(ALIASES[name] ?? [])],
    family: kind === 'weighting' ? 'loss weighting' : 'gradient aggregator',
    package: '@mtl/weighting',
    description: `@mtl/weighting "${name}" (${kind})`,
    // Aggregators take one backward pass per task (on the T x P Jacobian); weightings one in all.
    cost: kind === 'weighting' ? 1 : 4,
    async run(ctx) {
      const rule = createRule(name, { seed: ctx.job.seed, ...ctx.options });
      const { model, history } = await ctx.trainWithRule(rule);
      try {
        return { test: ctx.evaluateTest(model), params: model.parameters.reduce((s, p) => s + p.variable.size, 0), history };
      } finally {
        model.dispose(); // the trainer disposed the rule
      }
    },
  }));
}
