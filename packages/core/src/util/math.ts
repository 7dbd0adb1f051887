/**
 * Python 3 `round(x)` / `np.round(x)`: nearest integer, ties to even (`round(2.5) == 2`, `round(3.5) == 4`).
 * Planners round initial patch sizes and resampled shapes with it and inference rounds sliding-window positions
 * with it; exact agreement with nnU-Net's plans and tile positions depends on the tie rule.
 */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}
