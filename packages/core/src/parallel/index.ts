export { GradientWorkers, createGradientWorkers, createGradientWorkersSync, type GradientWorkersOptions } from './gradient-workers.js';
export type { GradientWorkerSetup, GradientWorkerSetupFactory } from './setup.js';
