import type { MethodAdapter } from './types.js';

export const groupUpdate: MethodAdapter = {
  name: 'group-update',
  family: 'method package',
  package: '@mtl/group-update',
  description: 'selective task group updates with proximal affinity (Jeong et al., ICLR 2025)',
  async run(ctx) {
    await ctx.importPackage('@mtl/group-update');
    throw new Error('@mtl/group-update has no benchmark adapter yet');
  },
};
