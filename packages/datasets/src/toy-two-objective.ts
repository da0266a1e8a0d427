import { MtlError } from '@mtl/core';

/** A point of the 2-D toy problem. */
export type ToyPoint = readonly [number, number];

/** Both losses at a point and their gradients with respect to the point. */
export interface ToyEvaluation {
  readonly losses: readonly [number, number];
  readonly gradients: readonly [ToyPoint, ToyPoint];
}

export interface ToyOptions {
  /** Multipliers of the two losses, e.g. `[0.1, 1]` for the imbalanced variant. Default `[1, 1]`. */
  readonly scales?: readonly [number, number];
}

/** Floor of |·| inside the logarithms, keeping the losses finite on the valleys' floors. */
const LOG_FLOOR = 5e-6;

/** Starting points for trajectory plots on {@link toyTwoObjective}: one per basin of the landscape. */
export const TOY_START_POINTS: readonly ToyPoint[] = [
  [-8.5, 7.5],
  [-8.5, -5],
  [0, 0],
  [9, 9],
  [10, -8],
];

/**
 * The two-objective toy problem of the CAGrad (Liu et al. 2021) and Nash-MTL (Navon et al. 2022)
 * trajectory figures. For x = (x1, x2), with c1 = max(tanh(x2/2), 0), c2 = max(tanh(−x2/2), 0):
 *
 *   L1 = c1·(log max(|−(x1+7)/2 + tanh x2|, ε) + 6) + c2·(((x1−7)² + 0.1(x2+8)²)/10 − 20)
 *   L2 = c1·(log max(|(3−x1)/2 − tanh x2 + 2|, ε) + 6) + c2·(((x1+7)² + 0.1(x2+8)²)/10 − 20)
 *
 * Upper half-plane: two log valleys whose gradients conflict; lower half: two quadratic bowls.
 * Gradients are exact (the clamp's flat side has zero gradient, as autograd gives).
 */
export function toyTwoObjective(point: ToyPoint, options: ToyOptions = {}): ToyEvaluation {
  const [x1, x2] = point;
  if (!Number.isFinite(x1) || !Number.isFinite(x2)) {
    throw new MtlError('INVALID_DATA', `toy point (${x1}, ${x2}) is not finite`, { point: [x1, x2] });
  }
  const [s1, s2] = options.scales ?? [1, 1];
  if (!Number.isFinite(s1) || !Number.isFinite(s2)) throw new MtlError('INVALID_OPTION', 'option "scales" must be two finite numbers', { option: 'scales' });
  const t = Math.tanh(x2);
  const dt = 1 - t * t; // d tanh(x2) / dx2
  const h = Math.tanh(x2 / 2);
  const dh = 0.5 * (1 - h * h); // d tanh(x2/2) / dx2
  const c1 = Math.max(h, 0);
  const dc1 = h > 0 ? dh : 0;
  const c2 = Math.max(-h, 0);
  const dc2 = -h > 0 ? -dh : 0;

  // Logarithmic valleys: log max(|a|, ε) + 6, gradient a'/a where |a| > ε.
  const a1 = -0.5 * (x1 + 7) + t;
  const a2 = 0.5 * (3 - x1) - t + 2;
  const logPart = (a: number, da1: number, da2: number): [number, number, number] =>
    Math.abs(a) > LOG_FLOOR ? [Math.log(Math.abs(a)) + 6, da1 / a, da2 / a] : [Math.log(LOG_FLOOR) + 6, 0, 0];
  const [g1, g1x1, g1x2] = logPart(a1, -0.5, dt);
  const [g2, g2x1, g2x2] = logPart(a2, -0.5, -dt);

  // Quadratic bowls.
  const q1 = ((x1 - 7) ** 2 + 0.1 * (x2 + 8) ** 2) / 10 - 20;
  const q2 = ((x1 + 7) ** 2 + 0.1 * (x2 + 8) ** 2) / 10 - 20;
  const q1x1 = (x1 - 7) / 5;
  const q2x1 = (x1 + 7) / 5;
  const qx2 = 0.02 * (x2 + 8);

  const f1 = c1 * g1 + c2 * q1;
  const f2 = c1 * g2 + c2 * q2;
  const f1x1 = c1 * g1x1 + c2 * q1x1;
  const f1x2 = dc1 * g1 + c1 * g1x2 + dc2 * q1 + c2 * qx2;
  const f2x1 = c1 * g2x1 + c2 * q2x1;
  const f2x2 = dc1 * g2 + c1 * g2x2 + dc2 * q2 + c2 * qx2;
  return {
    losses: [s1 * f1, s2 * f2],
    gradients: [
      [s1 * f1x1, s1 * f1x2],
      [s2 * f2x1, s2 * f2x2],
    ],
  };
}
