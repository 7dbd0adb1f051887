/**
 * One-dimensional B-spline machinery behind the resampler (RULES.md §13), written to reproduce
 * `scipy.ndimage.zoom(..., mode='nearest', grid_mode=True)`, which is what scikit-image's
 * `resize(order, mode='edge', anti_aliasing=False)` calls (skimage >= 0.19 with scipy >= 1.6):
 *
 * - output sample `i` of an axis resized from `n` to `m` samples sits at input coordinate
 *   `(i + 0.5) * (n / m) - 0.5` (grid mode);
 * - orders >= 2 interpolate B-spline coefficients ("prefiltering"); scipy pads the line with 12 copies of the edge
 *   sample on each side and filters with half-sample symmetric ("reflect") boundary initialisation, which makes the
 *   coefficients those of the infinitely edge-extended signal (to ~1e-14);
 * - orders 0 and 1 interpolate the samples themselves, indices beyond the ends clamp to the edge sample;
 * - taps: odd orders start at `floor(x) - order/2`, even orders at `floor(x + 0.5) - order/2` (so order 0 rounds
 *   a coordinate exactly halfway up).
 */

/** Edge samples scipy prepends/appends before spline prefiltering (`_prepad_for_spline_filter`, mode 'nearest'). */
export const SPLINE_PAD = 12;

/** Poles of the B-spline interpolation filter of orders 2..5 (Unser 1999; Thevenaz et al. 2000). */
export function splinePoles(order: number): number[] {
  switch (order) {
    case 2:
      return [Math.sqrt(8) - 3];
    case 3:
      return [Math.sqrt(3) - 2];
    case 4:
      return [
        Math.sqrt(664 - Math.sqrt(438976)) + Math.sqrt(304) - 19,
        Math.sqrt(664 + Math.sqrt(438976)) - Math.sqrt(304) - 19,
      ];
    case 5:
      return [
        Math.sqrt(67.5 - Math.sqrt(4436.25)) + Math.sqrt(26.25) - 6.5,
        Math.sqrt(67.5 + Math.sqrt(4436.25)) - Math.sqrt(26.25) - 6.5,
      ];
    default:
      return [];
  }
}

/** Throws unless `order` is an integer in 0..5 (the orders scipy supports). */
export function checkOrder(order: number, what = 'order'): void {
  if (!Number.isInteger(order) || order < 0 || order > 5) {
    throw new RangeError(`spline ${what} must be an integer in 0..5, got ${order}`);
  }
}

/**
 * In-place B-spline prefilter of `c[0..n)` (samples -> coefficients) with half-sample symmetric boundaries, as
 * scipy's `spline_filter1d` does for modes 'nearest'/'reflect'. `c` is float64 for accuracy.
 */
export function prefilterLine(c: Float64Array, n: number, order: number): void {
  const f = filterConstants(order);
  if (f.poles.length === 0 || n < 2) return;
  const gain = f.gain;
  for (let i = 0; i < n; i++) c[i]! *= gain;
  for (let p = 0; p < f.poles.length; p++) {
    const z = f.poles[p]!;
    c[0] = causalInitReflect(c, n, z, f.horizons[p]!);
    for (let i = 1; i < n; i++) c[i] = c[i]! + z * c[i - 1]!;
    c[n - 1] = (z / (z - 1)) * c[n - 1]!;
    for (let i = n - 2; i >= 0; i--) c[i] = z * (c[i + 1]! - c[i]!);
  }
}

/** Index of sample `k` (any integer) of a half-sample symmetric extension of a line of length `n`. */
export function reflectIndex(k: number, n: number): number {
  const period = 2 * n;
  let r = k % period;
  if (r < 0) r += period;
  return r < n ? r : period - 1 - r;
}

/** Causal initial value `sum_{k>=0} z^k x[-k]` over the symmetric extension, summed until `|z|^k < 1e-17`. */
function causalInitReflect(c: Float64Array, n: number, z: number, horizon: number): number {
  let sum = 0;
  let zk = 1;
  if (horizon <= n) {
    for (let k = 0; k < horizon; k++) {
      sum += zk * c[k === 0 ? 0 : k - 1]!;
      zk *= z;
    }
    return sum;
  }
  for (let k = 0; k < horizon; k++) {
    sum += zk * c[reflectIndex(-k, n)]!;
    zk *= z;
  }
  return sum;
}

/** Poles, overall gain and causal-init horizon (terms until |z|^k < 1e-17) of the order's prefilter, cached. */
export interface FilterConstants {
  poles: number[];
  gain: number;
  horizons: number[];
}
const FILTERS: FilterConstants[] = [];
/**
 * Prefilter constants of the B-spline interpolation of `order` (2..5; orders 0 and 1 need no prefilter and give
 * no poles), computed once and cached. The poles are those of the B-spline's z-transform (Unser 1999,
 * "Splines: a perfect fit for signal and image processing"), as scipy.ndimage uses them.
 */
export function filterConstants(order: number): FilterConstants {
  let f = FILTERS[order];
  if (!f) {
    const poles = splinePoles(order);
    let gain = 1;
    for (const z of poles) gain *= (1 - z) * (1 - 1 / z);
    const horizons = poles.map((z) => Math.ceil(Math.log(1e-17) / Math.log(Math.abs(z))));
    FILTERS[order] = f = { poles, gain, horizons };
  }
  return f;
}

/** Centred B-spline of degree `n` at `x` (truncated-power form; exact enough for n <= 5). */
export function bspline(n: number, x: number): number {
  if (n === 0) return x >= -0.5 && x < 0.5 ? 1 : 0;
  if (n === 1) {
    const a = Math.abs(x);
    return a < 1 ? 1 - a : 0;
  }
  if (n === 3) {
    const a = Math.abs(x);
    if (a < 1) return (4 - 6 * a * a + 3 * a * a * a) / 6;
    if (a < 2) return ((2 - a) * (2 - a) * (2 - a)) / 6;
    return 0;
  }
  let s = 0;
  let binom = 1;
  let fact = 1;
  for (let i = 2; i <= n; i++) fact *= i;
  for (let k = 0; k <= n + 1; k++) {
    const t = x + (n + 1) / 2 - k;
    if (t > 0) s += (k % 2 === 0 ? 1 : -1) * binom * Math.pow(t, n);
    binom = (binom * (n + 1 - k)) / (k + 1);
  }
  return s / fact;
}

/**
 * Interpolation taps for resizing one axis from `n` to `m` samples with spline `order`.
 * `index[i * taps + t]` indexes the (padded, when `pad > 0`) source line and is already clamped to it;
 * `weight` holds the matching weights. `pad` is `SPLINE_PAD` for order >= 2 (coefficients of the padded line),
 * else 0. When `n === m` the plan is the identity (1 tap, weight 1): interpolating splines reproduce samples.
 */
export interface AxisPlan {
  n: number;
  m: number;
  order: number;
  taps: number;
  pad: number;
  index: Int32Array;
  weight: Float64Array;
  identity: boolean;
}

/** Build the tap table of one axis (see `AxisPlan`). `n`, `m` >= 1. */
export function axisPlan(n: number, m: number, order: number): AxisPlan {
  checkOrder(order);
  if (n === m) {
    const index = new Int32Array(m);
    for (let i = 0; i < m; i++) index[i] = i;
    return { n, m, order, taps: 1, pad: 0, index, weight: new Float64Array(m).fill(1), identity: true };
  }
  const pad = order >= 2 ? SPLINE_PAD : 0;
  const len = n + 2 * pad;
  const taps = order + 1;
  const index = new Int32Array(m * taps);
  const weight = new Float64Array(m * taps);
  const zoom = n / m;
  for (let i = 0; i < m; i++) {
    let x = (i + 0.5) * zoom - 0.5 + pad;
    if (pad === 0) x = Math.min(Math.max(x, 0), n - 1); // scipy clamps the coordinate for mode 'nearest'
    const start = (order % 2 === 1 ? Math.floor(x) : Math.floor(x + 0.5)) - Math.floor(order / 2);
    for (let t = 0; t < taps; t++) {
      const k = start + t;
      index[i * taps + t] = Math.min(Math.max(k, 0), len - 1);
      weight[i * taps + t] = order === 0 ? 1 : bspline(order, x - k);
    }
  }
  return { n, m, order, taps, pad, index, weight, identity: false };
}
