import type { tf } from '../tf.js';

/**
 * im2col, transposed: column p = (b, oh, ow) of the result holds the receptive field of output
 * pixel p, rows ordered (kh, kw, ci) like a [KH, KW, CI, CO] filter. So the filter gradient is the
 * plain product `cols [KH*KW*CI, P] x dy [P, CO]`, which XNNPACK runs without transposes.
 * Out-of-image (padding) entries are written as zeros: the heap buffer is not zeroed.
 */
export function im2colTransposed(x: Float32Array, info: tf.backend_util.Conv2DInfo, cols: Float32Array): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const pixels = batchSize * outHeight * outWidth;
  for (let kh = 0; kh < filterHeight; kh++) {
    for (let kw = 0; kw < filterWidth; kw++) {
      for (let ci = 0; ci < inChannels; ci++) {
        const row = ((kh * filterWidth + kw) * inChannels + ci) * pixels;
        let p = row;
        for (let b = 0; b < batchSize; b++) {
          const image = b * inHeight;
          for (let oh = 0; oh < outHeight; oh++) {
            const ih = oh * strideHeight + kh - top;
            if (ih < 0 || ih >= inHeight) {
              cols.fill(0, p, p + outWidth);
              p += outWidth;
              continue;
            }
            const line = (image + ih) * inWidth;
            for (let ow = 0; ow < outWidth; ow++, p++) {
              const iw = ow * strideWidth + kw - left;
              cols[p] = iw >= 0 && iw < inWidth ? x[(line + iw) * inChannels + ci]! : 0;
            }
          }
        }
      }
    }
  }
}

/**
 * col2im: the adjoint of im2col. Row p = (b, oh, ow) of `cols` [P, KH*KW*CI] holds the gradient of
 * output pixel p's receptive field; each entry is added back to the input pixel it came from.
 * `dx` must be zeroed by the caller.
 */
export function col2im(cols: Float32Array, info: tf.backend_util.Conv2DInfo, dx: Float32Array): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const fieldSize = filterHeight * filterWidth * inChannels;
  let p = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++, p++) {
        const field = p * fieldSize;
        for (let kh = 0; kh < filterHeight; kh++) {
          const ih = oh * strideHeight + kh - top;
          if (ih < 0 || ih >= inHeight) continue;
          for (let kw = 0; kw < filterWidth; kw++) {
            const iw = ow * strideWidth + kw - left;
            if (iw < 0 || iw >= inWidth) continue;
            const src = field + (kh * filterWidth + kw) * inChannels;
            const dst = ((b * inHeight + ih) * inWidth + iw) * inChannels;
            for (let ci = 0; ci < inChannels; ci++) dx[dst + ci]! += cols[src + ci]!;
          }
        }
      }
    }
  }
}
