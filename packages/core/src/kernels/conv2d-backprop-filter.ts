import { f32, release, withShape, type KernelArgs, type WasmKernelFunc } from './wasm-heap.js';
import { convGeometry, toChannelsLast, type ConvGradAttrs } from './conv-layout.js';
import { im2colTransposed } from './im2col.js';

interface Attrs extends ConvGradAttrs {
  filterShape: [number, number, number, number];
}

/**
 * Conv2DBackpropFilter, which tfjs-backend-wasm lacks (so no conv net could train on it):
 * dW[KH*KW*CI, CO] = im2colᵀ(x)[KH*KW*CI, P] x dy[P, CO] with P = batch*outHeight*outWidth,
 * one product on the backend's XNNPACK matmul. `matMul` is the original BatchMatMul kernel.
 */
export function conv2dBackpropFilter(matMul: WasmKernelFunc): WasmKernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as KernelArgs<Attrs>;
    const channelsFirst = attrs.dataFormat === 'NCHW';
    const x = channelsFirst ? toChannelsLast(backend, inputs['x']!) : inputs['x']!;
    const dy = channelsFirst ? toChannelsLast(backend, inputs['dy']!) : inputs['dy']!;
    const info = convGeometry(inputs['x']!.shape, attrs.filterShape, attrs);
    const field = info.filterHeight * info.filterWidth * info.inChannels;
    const pixels = info.batchSize * info.outHeight * info.outWidth;

    const cols = backend.makeOutput([1, field, pixels], 'float32');
    im2colTransposed(f32(backend, x), info, f32(backend, cols));
    const dw = matMul({
      inputs: { a: cols, b: withShape(dy, [1, pixels, info.outChannels]) },
      backend,
      attrs: { transposeA: false, transposeB: false },
    } as never);
    release(backend, cols);
    if (channelsFirst) release(backend, x, dy);
    dw.shape = [...attrs.filterShape];
    return dw;
  };
}
