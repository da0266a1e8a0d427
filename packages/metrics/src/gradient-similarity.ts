import { MtlError } from '@mtl/core';
import { invalidOption, isArray } from '@mtl/core/internal';
import { toNumbers, type NumericInput } from './numeric-input.js';

/**
 * Gradient cosine similarity cos φ = ⟨g_i, g_j⟩ / (‖g_i‖ ‖g_j‖) (ForkMerge Def. 3.4); gradients
 * conflict when it is negative. A zero gradient has no direction: INVALID_DATA.
 */
export function cosineSimilarity(a: NumericInput, b: NumericInput): number {
  const x = toNumbers(a, 'first gradient');
  const y = toNumbers(b, 'second gradient');
  return cosine(x, y, 'first gradient', 'second gradient');
}

/** Pairwise cosine similarities of several task gradients (a symmetric matrix, 1 on the diagonal). */
export function gradientCosineMatrix(gradients: readonly NumericInput[], names?: readonly string[]): number[][] {
  if (!isArray(gradients) || gradients.length === 0) invalidOption('gradients', gradients, 'a non-empty array of gradients');
  if (names !== undefined && names.length !== gradients.length) invalidOption('names', names, `${gradients.length} names, one a gradient`);
  const label = (i: number) => (names ? `gradient of task "${names[i]}"` : `gradients[${i}]`);
  const vectors = gradients.map((g, i) => toNumbers(g, label(i)));
  const n = vectors.length;
  const out = Array.from({ length: n }, () => new Array<number>(n).fill(1));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const c = cosine(vectors[i]!, vectors[j]!, label(i), label(j));
      out[i]![j] = c;
      out[j]![i] = c;
    }
  }
  return out;
}

function cosine(x: Float64Array, y: Float64Array, xName: string, yName: string): number {
  if (x.length !== y.length) throw new MtlError('SHAPE_MISMATCH', `${xName} has ${x.length} values, ${yName} has ${y.length}`, { [xName]: x.length, [yName]: y.length });
  if (x.length === 0) throw new MtlError('EMPTY_DATA', `${xName} is empty`, {});
  let dot = 0;
  let xx = 0;
  let yy = 0;
  for (let i = 0; i < x.length; i++) {
    dot += x[i]! * y[i]!;
    xx += x[i]! * x[i]!;
    yy += y[i]! * y[i]!;
  }
  if (xx === 0) throw new MtlError('INVALID_DATA', `${xName} is all zeros; its cosine similarity is undefined`, { what: xName });
  if (yy === 0) throw new MtlError('INVALID_DATA', `${yName} is all zeros; its cosine similarity is undefined`, { what: yName });
  return Math.max(-1, Math.min(1, dot / Math.sqrt(xx * yy)));
}
