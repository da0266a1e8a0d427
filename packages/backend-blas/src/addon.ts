import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The functions of the N-API addon (native/blas.c). Arrays are Float32Array views of the wasm heap. */
export interface BlasAddon {
  /** Row-major `c[i] = op(a[i]) op(b[i]) + beta c[i]` for `i < batch`; a stride of 0 broadcasts an operand. */
  sgemm(
    transposeA: boolean,
    transposeB: boolean,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    strideA: number,
    b: Float32Array,
    strideB: number,
    c: Float32Array,
    strideC: number,
    batch: number,
    beta?: number,
  ): void;
  /** NHWC im2col: one row of `kh*kw*inC` entries per output pixel. Geometry as {@link ConvGeometryArgs}. */
  im2col(x: Float32Array, cols: Float32Array, ...geometry: ConvGeometryArgs): void;
  /**
   * Direct NHWC convolutions for at most 32 input and output channels, undilated (native/conv_direct.c):
   * the forward pass, the filter gradient and the input gradient without an im2col matrix, on as many
   * threads as OpenBLAS uses. `false` (nothing written) for shapes they do not take.
   */
  convForward(x: Float32Array, filter: Float32Array, out: Float32Array, outC: number, ...geometry: ConvGeometryArgs): boolean;
  convFilterGrad(x: Float32Array, dy: Float32Array, dw: Float32Array, outC: number, ...geometry: ConvGeometryArgs): boolean;
  convInputGrad(dy: Float32Array, filter: Float32Array, dx: Float32Array, outC: number, ...geometry: ConvGeometryArgs): boolean;
  /** The adjoint of im2col; zeroes `dx` first. */
  col2im(cols: Float32Array, dx: Float32Array, ...geometry: ConvGeometryArgs): void;
  /** `dx = col2im(dy [P, outC] x filterᵀ)`, a block of about 1 MiB of column rows at a time (no full column matrix). */
  convBackpropInput(dy: Float32Array, filter: Float32Array, dx: Float32Array, ...geometryAndOutC: [...ConvGeometryArgs, number]): void;
  /**
   * NHWC MaxPoolGrad: `dx` zeroed, then each `dy` entry added to its window's first maximum in scan
   * order (no gradient for a window of only -Infinity / NaN). Geometry as {@link PoolGeometryArgs}.
   */
  maxPoolGrad(x: Float32Array, dy: Float32Array, dx: Float32Array, ...geometry: PoolGeometryArgs): void;
  /** NHWC MaxPool for windows that tile the input and at most 32 channels (else a RangeError): NaN ignored, -Infinity for a window with no number. */
  maxPool(x: Float32Array, y: Float32Array, ...geometry: PoolGeometryArgs): void;
  /** `out[o, i] = Σ_m x[o, m, i]` for x viewed as [outer, mid, inner] (float64 totals of float32 partial sums). */
  sumMiddle(x: Float32Array, out: Float32Array, outer: number, mid: number, inner: number): void;
  /** `out[i] = big[i] + small[i mod smallSize]` (a bias over the trailing axes). */
  addTiled(big: Float32Array, small: Float32Array, out: Float32Array, smallSize: number): void;
  setThreads(threads: number): void;
  getThreads(): number;
  /** OpenBLAS's build description, e.g. "OpenBLAS 0.3.21 NO_AFFINITY USE_OPENMP Zen MAX_THREADS=64". */
  config(): string;
}

/** batch, inH, inW, inC, outH, outW, kH, kW, strideH, strideW, dilationH, dilationW, padTop, padLeft. */
export type ConvGeometryArgs = [number, number, number, number, number, number, number, number, number, number, number, number, number, number];

/** batch, inH, inW, channels, outH, outW, filterH, filterW, strideH, strideW, padTop, padLeft. */
export type PoolGeometryArgs = [number, number, number, number, number, number, number, number, number, number, number, number];

export type AddonLoad = { readonly addon: BlasAddon } | { readonly reason: string };

let loaded: AddonLoad | undefined;

/**
 * Loads build/Release/mtl_blas.node once. When it is missing, the reason is the one the build
 * script recorded (no cblas.h, no compiler, ...), so the backend report can say what to install.
 */
export function loadAddon(): AddonLoad {
  if (loaded) return loaded;
  const path = new URL('../build/Release/mtl_blas.node', import.meta.url);
  if (!existsSync(path)) {
    loaded = { reason: `the OpenBLAS addon is not built (${buildReason()})` };
    return loaded;
  }
  try {
    // A .node file loads through require, also from an ES module.
    loaded = { addon: createRequire(import.meta.url)(fileURLToPath(path)) as BlasAddon };
  } catch (error) {
    loaded = { reason: `the OpenBLAS addon failed to load: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` };
  }
  return loaded;
}

function buildReason(): string {
  const status = new URL('../build/status.json', import.meta.url);
  try {
    const { reason } = JSON.parse(readFileSync(status, 'utf8')) as { reason?: string };
    if (reason) return `${reason}; then run \`npm rebuild @mtl/backend-blas\``;
  } catch {
    // No status: the install script never ran (pnpm 10 runs a dependency's build only when allowed).
  }
  return 'its install script did not run: with pnpm, add @mtl/backend-blas to onlyBuiltDependencies and run `pnpm rebuild @mtl/backend-blas`';
}
