import type { MethodAdapter } from './types.js';

export const conal: MethodAdapter = {
  name: 'CoNAL',
  family: 'method package',
  package: '@mtl/conal',
  description: 'conflict-noticed architecture learning (Yue et al., AAAI 2023)',
  async run(ctx) {
    await ctx.importPackage('@mtl/conal');
    throw new Error('@mtl/conal has no benchmark adapter yet');
  },
};
