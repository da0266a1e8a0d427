/**
 * @mtl/weighting — loss weightings and gradient aggregators for multi-task learning: EW, UW, DWA,
 * RLW, GradNorm, MGDA(-UB), PCGrad, GradVac, IMTL, CAGrad, Nash-MTL, Aligned-MTL, UPGrad and a
 * fixed scalarisation, on `@mtl/core`'s contracts. The maths runs on plain float64 arrays.
 */
export type { Aggregator, Weighting, MethodInput, MethodAggregation, GramianAggregation, JacobianInput, CommonOptions, Normalize, TrainerOptimizer } from './types.js';
export { createAggregator, createWeighting, createRule, registerMethod, listMethods, type MethodEntry, type MethodOptions } from './registry.js';
export { toUpdateRule, sumOverBatch, type RuleOptions, type RepresentationForm } from './rule.js';
export { compose, type ComposedState } from './compose.js';
export { weightingAsAggregator } from './define.js';
export type { ParamOptimizerChoice, ParamOptimizerOptions, ParamOptimizerState } from './param-optimizer.js';
export { equalWeighting } from './methods/ew.js';
export { scalarize, type ScalarizeOptions } from './methods/scalarize.js';
export { dwa, type DwaOptions, type DwaState } from './methods/dwa.js';
export { rlw, type RlwOptions } from './methods/rlw.js';
export { uncertaintyWeighting, type UwOptions, type UwState } from './methods/uw.js';
export { pcgrad, type PcGradOptions } from './methods/pcgrad.js';
export { gradvac, type GradVacOptions, type GradVacState } from './methods/gradvac.js';
export { mgda, type MgdaOptions } from './methods/mgda.js';
export { cagrad, type CaGradOptions } from './methods/cagrad.js';
export { imtl, type ImtlOptions, type ImtlState } from './methods/imtl.js';
export { nashMtl, type NashMtlOptions, type NashMtlState } from './methods/nash-mtl.js';
export { alignedMtl, type AlignedMtlOptions } from './methods/aligned-mtl.js';
export { upgrad, type UpGradOptions } from './methods/upgrad.js';
export { gradnorm, type GradNormOptions, type GradNormState } from './methods/gradnorm.js';
