/**
 * @mtl/metrics — Multi-task metrics: accuracy, F1, regression errors, mIoU, Δm, Δ_I, transfer gain,
 * gradient cosine similarity, confidence score discrepancy, affinity helpers, results tables.
 * Every function takes plain arrays, typed arrays or tfjs tensors and returns plain numbers.
 */
export type { NumericInput } from './numeric-input.js';
export { accuracy, errorRate, argmaxLabels } from './classification.js';
export { binaryF1, macroF1, classCounts, f1FromCounts, type BinaryF1Options, type MacroF1Options, type ClassCounts } from './f1.js';
export { meanSquaredError, rootMeanSquaredError, meanAbsoluteError, meanRelativeError, type RelativeErrorOptions } from './regression.js';
export { confusionMatrix, pixelAccuracy, meanIoU, iouFromConfusion, type ConfusionMatrix, type SegmentationOptions } from './segmentation.js';
export type { MetricTable, MetricDirections, Direction, MetricColumn } from './metric-table.js';
export { relativeChanges, deltaM, deltaP, deltaI, type DeltaMOptions } from './relative-performance.js';
export { formatDelta } from './format.js';
export {
  transferGain,
  classifyTransfer,
  type TransferGainOptions,
  type TransferPoint,
  type NegativeTransferKind,
  type TransferClassification,
} from './transfer.js';
export { cosineSimilarity, gradientCosineMatrix } from './gradient-similarity.js';
export { meanMaxConfidence, confidenceScoreDiscrepancy, type ConfidenceOptions } from './confidence.js';
export { normaliseAffinity, symmetriseAffinity, formatAffinity, checkAffinity, type AffinityMatrix, type FormatAffinityOptions } from './affinity.js';
export {
  buildResultsTable,
  renderMarkdown,
  renderCsv,
  renderJson,
  type ResultRow,
  type ResultsTable,
  type ResultsTableOptions,
} from './results-table.js';
