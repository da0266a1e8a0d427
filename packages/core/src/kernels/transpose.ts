/**
 * Cache-blocked 2-D transpose on raw float arrays: `dst[j * rows + i] = src[i * cols + j]`.
 * In JS on the wasm heap it runs near memory speed, several times faster than
 * tfjs-backend-wasm's generic n-d Transpose kernel, and it lets a kernel transpose while it copies
 * an operand into a temporary.
 */
export function transpose2d(src: Float32Array, srcOffset: number, rows: number, cols: number, dst: Float32Array, dstOffset: number): void {
  const BLOCK = 64;
  for (let i0 = 0; i0 < rows; i0 += BLOCK) {
    const iEnd = Math.min(i0 + BLOCK, rows);
    for (let j0 = 0; j0 < cols; j0 += BLOCK) {
      const jEnd = Math.min(j0 + BLOCK, cols);
      for (let j = j0; j < jEnd; j++) {
        // Contiguous writes along a row of dst, strided reads down a column of src.
        const d = dstOffset + j * rows;
        let s = srcOffset + i0 * cols + j;
        for (let i = i0; i < iEnd; i++, s += cols) dst[d + i] = src[s]!;
      }
    }
  }
}
