import { requireFiniteNumber } from '@mtl/core/internal';
import { defineAggregator } from '../define.js';
import { checkKnownOptions } from '../validate.js';
import { symmetricEigen } from '../linalg/eigen.js';
import type { Aggregator, CommonOptions } from '../types.js';

/** float32 machine epsilon: LibMTL's rank tolerance uses torch's default dtype. */
const FLOAT32_EPS = 1.1920928955078125e-7;

export interface AlignedMtlOptions extends CommonOptions {
  /** Relative rank tolerance: eigenvalues ≤ λ_max · T · this are dropped (default float32 eps). */
  readonly rankTolerance?: number;
}

/**
 * Aligned-MTL (Senushkin et al., CVPR 2023), LibMTL's form: eigen-decompose M = G Gᵀ = V Λ Vᵀ,
 * keep the eigenvalues above λ_max · T · eps, B = √λ_min · V Λ^{-1/2} Vᵀ (rescaled by the smallest
 * kept singular value), weights = column sums of B, direction = weightsᵀ G (orthogonal rows of
 * equal norm get weights 1: the scale of a sum).
 *
 * Differences from LibMTL: a float64 Jacobi eigen-solver instead of the removed `torch.symeig`;
 * an all-zero G gives a zero direction (LibMTL indexes an empty eigenvalue list).
 */
export function alignedMtl(options: AlignedMtlOptions = {}): Aggregator<null> {
  checkKnownOptions('aligned-mtl', options, ['rankTolerance']);
  const relTol = requireFiniteNumber('rankTolerance', options.rankTolerance ?? FLOAT32_EPS, { min: 0 });
  return defineAggregator<null>(
    {
      name: 'aligned-mtl',
      nativeScale: 'sum',
      gramian: true,
      initialState: () => null,
      fromGramian(m, T) {
        const { values, vectors } = symmetricEigen(m, T);
        const tol = values[0]! * T * relTol;
        let rank = 0;
        while (rank < T && values[rank]! > tol) rank++;
        const weights = new Array<number>(T).fill(0);
        if (rank > 0) {
          const scale = Math.sqrt(values[rank - 1]!);
          for (let k = 0; k < rank; k++) {
            const inv = scale / Math.sqrt(values[k]!);
            let colSum = 0;
            for (let i = 0; i < T; i++) colSum += vectors[i * T + k]!;
            for (let j = 0; j < T; j++) weights[j] = weights[j]! + (inv * vectors[j * T + k]! * colSum);
          }
        }
        return { weights, state: null };
      },
    },
    options,
  );
}
