/**
 * @mtl/metrics — Multi-task metrics: accuracy, F1, regression errors, mIoU, Δm, Δ_I, transfer gain, gradient cosine similarity, affinity helpers, results tables.
 *
 * Export the public surface only; one concept a file in src/.
 */
export {};
