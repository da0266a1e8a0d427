import { defineConfig } from 'vitest/config';

/**
 * Shared vitest settings: workspace packages resolve each other's `src/` through the
 * `@mtl/source` export condition, so tests never need a build first.
 */
export const sharedTestConfig = defineConfig({
  resolve: { conditions: ['@mtl/source'] },
  ssr: { resolve: { conditions: ['@mtl/source'] } },
  test: {
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
