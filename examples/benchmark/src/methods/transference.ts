import type { MethodAdapter } from './types.js';

export const itMtl: MethodAdapter = {
  name: 'IT-MTL',
  family: 'method package',
  package: '@mtl/transference',
  description: 'IT-MTL: per step, the candidate update with the largest lookahead transference (Fifty et al. 2020)',
  async run(ctx) {
    await ctx.importPackage('@mtl/transference');
    throw new Error('@mtl/transference has no benchmark adapter yet');
  },
};
