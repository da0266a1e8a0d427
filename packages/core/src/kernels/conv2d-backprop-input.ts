import { f32, release, withShape, type KernelArgs, type WasmKernelFunc } from './wasm-heap.js';
import { convGeometry, toChannelsFirst, toChannelsLast, type ConvGradAttrs } from './conv-layout.js';
import { col2im } from './im2col.js';
import { transpose2d } from './transpose.js';

interface Attrs extends ConvGradAttrs {
  inputShape: [number, number, number, number];
}

/**
 * Conv2DBackpropInput as one XNNPACK product plus col2im, replacing tfjs-backend-wasm's direct
 * scalar loop (about 6x slower on LeNet's second layer):
 * cols[P, KH*KW*CI] = dy[P, CO] x Wᵀ[CO, KH*KW*CI], then each row is scattered back (added) onto
 * the input pixels of its receptive field. `matMul` is the original BatchMatMul kernel.
 */
export function conv2dBackpropInput(matMul: WasmKernelFunc): WasmKernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as KernelArgs<Attrs>;
    const channelsFirst = attrs.dataFormat === 'NCHW';
    const filter = inputs['filter']!;
    const dyIn = inputs['dy']!;
    const info = convGeometry(attrs.inputShape, filter.shape, attrs);
    const field = info.filterHeight * info.filterWidth * info.inChannels;
    const pixels = info.batchSize * info.outHeight * info.outWidth;
    const dy = channelsFirst ? toChannelsLast(backend, dyIn) : dyIn;

    // Wᵀ: the filter is [field, CO]; a fresh transposed copy [CO, field].
    const filterT = backend.makeOutput([1, info.outChannels, field], 'float32');
    transpose2d(f32(backend, filter), 0, field, info.outChannels, f32(backend, filterT), 0);
    const cols = matMul({
      inputs: { a: withShape(dy, [1, pixels, info.outChannels]), b: filterT },
      backend,
      attrs: { transposeA: false, transposeB: false },
    } as never);
    release(backend, filterT);
    if (channelsFirst) release(backend, dy);

    const nhwcShape = [info.batchSize, info.inHeight, info.inWidth, info.inChannels];
    const dx = backend.makeOutput(nhwcShape, 'float32');
    const dxData = f32(backend, dx);
    dxData.fill(0);
    col2im(f32(backend, cols), info, dxData);
    release(backend, cols);
    if (!channelsFirst) return dx;
    const dxFirst = toChannelsFirst(backend, dx);
    release(backend, dx);
    return dxFirst;
  };
}
