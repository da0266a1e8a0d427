/**
 * @mtl/datasets — Offline multi-task datasets: MultiMNIST, MultiFashion, MultiFashion+MNIST,
 * MNIST attributes, synthetic controllable relatedness (MMoE), auxiliary-transfer cases
 * (ForkMerge), the CAGrad/Nash-MTL toy problem, a rotation auxiliary task and an IDX reader.
 */
export type { ImagePool } from './image-pool.js';
export { loadMnistDigits } from './mnist-digits.js';
export { splitSourceIndices, DEFAULT_SPLIT_FRACTIONS, type SplitFractions } from './source-splits.js';
export { byteImageDataset, type ByteImageDataset, type LabelledTargets } from './byte-image-dataset.js';
export { overlayPair, resizeBilinear, resizeNearest, type OverlayOptions } from './overlay.js';
export { defaultCacheDir, type CacheOptions } from './disk-cache.js';
export { parseIdx, readIdxFile, encodeIdx, type IdxArray, type IdxDataType } from './idx-file.js';
export { findFashionMnistDir, loadFashionMnist, idxPool, DatasetFilesMissingError, FASHION_MNIST_SEARCH_DIRS } from './fashion-mnist.js';
export {
  multiMnist,
  PAIRED_IMAGE_LAYOUTS,
  DEFAULT_PAIRED_IMAGE_LAYOUT,
  type PairedImageLayout,
  multiFashion,
  multiFashionMnist,
  type PairedImageDataset,
  type PairedImageSplits,
  type PairedImageOptions,
  type MultiMnistOptions,
  type MultiFashionOptions,
  type SplitName,
} from './paired-images.js';
export { mnistAttributes, MNIST_ATTRIBUTE_GROUPS, type MnistAttributes, type MnistAttributesOptions } from './mnist-attributes.js';
export { syntheticRelatedness, type SyntheticRelatedness, type SyntheticRelatednessOptions } from './synthetic-relatedness.js';
export { auxiliaryTransferCase, type AuxiliaryTransferCase, type AuxiliaryTransferKind, type AuxiliaryTransferOptions } from './auxiliary-transfer.js';
export { toyTwoObjective, TOY_START_POINTS, type ToyPoint, type ToyEvaluation, type ToyOptions } from './toy-two-objective.js';
export { withRotationTask, rotateInto, type RotationDataset, type RotationOptions } from './rotation.js';
export { iterateBatches, flattenInputs, type BatchIteratorOptions } from './batches.js';
