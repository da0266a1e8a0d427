import { tf } from '../tf.js';
import { f32, type KernelArgs, type WasmKernelFunc } from './wasm-heap.js';

interface PoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: Parameters<typeof tf.backend_util.computePool2DInfo>[4];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function poolGeometry(shape: number[], attrs: PoolGradAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computePool2DInfo(shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
}

/**
 * MaxPoolGrad in JS on the wasm heap, channel-vectorised (NHWC keeps channels contiguous): each
 * output pixel's window is scanned once for all channels. tfjs-backend-wasm's own kernel takes
 * ~15x longer on LeNet's first pooling layer. Ties go to the first maximum in scan order and
 * windows of only -Infinity/NaN get no gradient, as in the cpu backend.
 */
export const maxPoolGrad: WasmKernelFunc = (args) => {
  const { inputs, backend, attrs } = args as KernelArgs<PoolGradAttrs>;
  const input = inputs['input']!;
  const info = poolGeometry(input.shape, attrs);
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const dx = backend.makeOutput([...input.shape], 'float32');
  const x = f32(backend, input);
  const dy = f32(backend, inputs['dy']!);
  const out = f32(backend, dx);
  out.fill(0);
  const best = new Float32Array(c);
  const where = new Int32Array(c);
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const h0 = oh * strideHeight - info.padInfo.top;
      for (let ow = 0; ow < outWidth; ow++, o += c) {
        const w0 = ow * strideWidth - info.padInfo.left;
        best.fill(-Infinity);
        where.fill(-1);
        for (let ih = Math.max(h0, 0); ih < Math.min(h0 + filterHeight, inHeight); ih++) {
          for (let iw = Math.max(w0, 0); iw < Math.min(w0 + filterWidth, inWidth); iw++) {
            const at = ((b * inHeight + ih) * inWidth + iw) * c;
            for (let ch = 0; ch < c; ch++) {
              const v = x[at + ch]!;
              if (v > best[ch]!) {
                best[ch] = v;
                where[ch] = at + ch;
              }
            }
          }
        }
        for (let ch = 0; ch < c; ch++) if (where[ch]! >= 0) out[where[ch]!]! += dy[o + ch]!;
      }
    }
  }
  return dx;
};

/**
 * AvgPoolGrad in JS on the wasm heap: each output gradient is spread evenly over its window.
 * Like tfjs's cpu and wasm kernels it divides by the full window size, padding included.
 */
export const avgPoolGrad: WasmKernelFunc = (args) => {
  const { inputs, backend, attrs } = args as KernelArgs<PoolGradAttrs>;
  const input = inputs['input']!;
  const info = poolGeometry(input.shape, attrs);
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const scale = 1 / (filterHeight * filterWidth);
  const dx = backend.makeOutput([...input.shape], 'float32');
  const dy = f32(backend, inputs['dy']!);
  const out = f32(backend, dx);
  out.fill(0);
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const h0 = oh * strideHeight - info.padInfo.top;
      for (let ow = 0; ow < outWidth; ow++, o += c) {
        const w0 = ow * strideWidth - info.padInfo.left;
        for (let ih = Math.max(h0, 0); ih < Math.min(h0 + filterHeight, inHeight); ih++) {
          for (let iw = Math.max(w0, 0); iw < Math.min(w0 + filterWidth, inWidth); iw++) {
            const at = ((b * inHeight + ih) * inWidth + iw) * c;
            for (let ch = 0; ch < c; ch++) out[at + ch]! += dy[o + ch]! * scale;
          }
        }
      }
    }
  }
  return dx;
};
