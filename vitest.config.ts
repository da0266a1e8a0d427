import { defineConfig } from 'vitest/config';

// One process pool and one report for every package: `pnpm vitest run` at the root.
export default defineConfig({
  test: {
    projects: ['packages/*', '!packages/_template', 'examples/*'],
  },
});
