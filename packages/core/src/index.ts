export { tf } from './tf.js';
// Only the error type is user API; the option-validation helpers live in `@mtl/core/internal`.
export { MtlError, isMtlError, type MtlErrorCode } from './errors.js';
export * from './random.js';
export * from './backend.js';
export { registerFastKernels, unregisterFastKernels, fastKernelsRegistered, FAST_WASM_KERNELS } from './kernels/register.js';
export * from './parameters.js';
export * from './optimizers.js';
export * from './schedules.js';
export * from './tasks.js';
export * from './data.js';
export {
  computeTaskGradients,
  trainingPass,
  sharingGroups,
  headParametersOf,
  sharedGradientsFromDirection,
  gradientsFromDirection,
  disposeTaskGradients,
  targetOf,
  gradsByKey,
  groupSlices,
  isSingleGroup,
  sliceMatrix,
  scatterDirection,
  type GradientSpace,
  type TaskGradients,
  type SharingGroup,
  type TaskGradientOptions,
  type GroupSlice,
} from './gradients.js';
export * from './update-rules.js';
export { randomUniformWeighting } from './weightings/random-uniform.js';
export { aggregateByGroups, type GroupedAggregatorState } from './grouped-aggregation.js';
export { TrainingStepContext, type StepContextInit } from './step-context.js';
export type { MultiTaskModel, Module, ModuleFactory, ParameterFactory, BufferFactory, ModelModules, ForwardOptions, ApplyContext, ArchitectureSpec, ComposedModelOptions } from './models/model.js';
export { ComposedModel } from './models/model.js';
export * from './models/layers.js';
export * from './models/builders.js';
export * from './models/specs.js';
export * from './models/tree.js';
export * from './models/describe.js';
export * from './models/registry.js';
export * from './models/predict.js';
export * from './models/save.js';
export { layersModel, type LayersModelOptions, type LayersModelLike, type LayerVariableLike, type LayersSource } from './models/layers-adapter.js';
export { defaultStages, mlpStages, type ArchitectureOptions } from './architectures/common.js';
export type { ExpertCounts } from './architectures/experts.js';
export { hps, type HpsOptions } from './architectures/hps.js';
export { crossStitch } from './architectures/cross-stitch.js';
export { mtan } from './architectures/mtan.js';
export { cgc, type CgcOptions } from './architectures/cgc.js';
export { ple, type PleOptions } from './architectures/ple.js';
export { dselectK, type DselectKOptions } from './architectures/dselect-k.js';
export { ltb, type LtbOptions } from './architectures/ltb.js';
export * from './training/callbacks.js';
export { progressReporter, type ProgressOptions } from './training/progress.js';
export { metricsLogger, type MetricsLoggerOptions } from './training/metrics-logger.js';
export * from './training/checkpoint.js';
export * from './training/evaluate.js';
export * from './training/early-stopping.js';
export * from './training/trainer.js';
export * from './parallel/index.js';
