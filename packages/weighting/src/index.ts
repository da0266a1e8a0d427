/**
 * @mtl/weighting — Loss weightings and gradient aggregators for multi-task learning: EW, UW, DWA, RLW, GradNorm, MGDA, PCGrad, GradVac, IMTL, CAGrad, Nash-MTL, Aligned-MTL, UPGrad.
 *
 * Export the public surface only; one concept a file in src/.
 */
export {};
