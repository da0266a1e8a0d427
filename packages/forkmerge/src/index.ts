/**
 * @mtl/forkmerge — ForkMerge: fork the model into branches, train each, merge by the interpolation weight best on validation (Jiang et al., NeurIPS 2023).
 *
 * Export the public surface only; one concept a file in src/.
 */
export {};
