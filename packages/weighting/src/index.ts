/**
 * @mtl/weighting — every loss weighting and gradient aggregator of LibMTL and TorchJD for
 * multi-task learning: EW, UW, DWA, RLW, GLS, STCH, FAMO, IMTL(-L/-G), GradNorm, MGDA(-UB), PCGrad,
 * GradVac, CAGrad, Nash-MTL, Aligned-MTL, UPGrad, DualProj, ConFIG, FairGrad, ExcessMTL, DB-MTL, MoCo,
 * GradDrop, MoDo, SDMGrad and a fixed scalarisation, on `@mtl/core`'s contracts. The maths runs on
 * plain float64 arrays; methods defined on G Gᵀ also take the T x T Gramian.
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
export { gls } from './methods/gls.js';
export { stch, type StchOptions, type StchState } from './methods/stch.js';
export { famo, type FamoOptions, type FamoState } from './methods/famo.js';
export { imtlL, type ImtlLOptions } from './methods/imtl-l.js';
export { dualproj, type DualProjOptions } from './methods/dualproj.js';
export { config, type ConfigOptions } from './methods/config.js';
export { fairgrad, type FairGradOptions } from './methods/fairgrad.js';
export { excessMtl, type ExcessMtlOptions, type ExcessMtlState } from './methods/excess-mtl.js';
export { dbMtl, type DbMtlOptions, type DbMtlState } from './methods/db-mtl.js';
export { moco, type MoCoOptions, type MoCoState } from './methods/moco.js';
export { graddrop, type GradDropOptions } from './methods/graddrop.js';
export { modo, type MoDoOptions, type MoDoState } from './methods/modo.js';
export { sdmgrad, type SdmGradOptions, type SdmGradState } from './methods/sdmgrad.js';
export { krum, type KrumOptions } from './methods/krum.js';
export { trimmedMean, type TrimmedMeanOptions } from './methods/trimmed-mean.js';
