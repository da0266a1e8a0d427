import { tf } from '../tf.js';
import { f32, type WasmBackend } from './wasm-heap.js';
import { transpose2d } from './transpose.js';

/** The attributes the conv gradient kernels share. */
export interface ConvGradAttrs {
  strides: number | [number, number];
  pad: Parameters<typeof tf.backend_util.computeConv2DInfo>[4];
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * Our conv kernels work in NHWC (tfjs's default). An NCHW tensor is copied into NHWC: per batch
 * entry that is a [C, H*W] -> [H*W, C] transpose. `toChannelsFirst` is the inverse.
 */
export function toChannelsLast(backend: WasmBackend, x: tf.TensorInfo): tf.TensorInfo {
  const [batch, channels, height, width] = x.shape as [number, number, number, number];
  return permuteChannels(backend, x, [batch, height, width, channels], channels, height * width);
}

export function toChannelsFirst(backend: WasmBackend, x: tf.TensorInfo): tf.TensorInfo {
  const [batch, height, width, channels] = x.shape as [number, number, number, number];
  return permuteChannels(backend, x, [batch, channels, height, width], height * width, channels);
}

function permuteChannels(backend: WasmBackend, x: tf.TensorInfo, outShape: number[], rows: number, cols: number): tf.TensorInfo {
  const out = backend.makeOutput(outShape, 'float32');
  const src = f32(backend, x);
  const dst = f32(backend, out);
  const size = rows * cols;
  for (let b = 0; b < outShape[0]!; b++) transpose2d(src, b * size, rows, cols, dst, b * size);
  return out;
}

/** Geometry of a 2-D convolution in NHWC, from tfjs's own shape logic (so padding and rounding match). */
export function convGeometry(xShape: number[], filterShape: number[], attrs: ConvGradAttrs): tf.backend_util.Conv2DInfo {
  const nhwc = attrs.dataFormat === 'NCHW' ? [xShape[0]!, xShape[2]!, xShape[3]!, xShape[1]!] : xShape;
  return tf.backend_util.computeConv2DInfo(
    nhwc as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
}
