import type { ResampleOptions, Resampler } from '../../contracts/resampler.js';
import { allocFloat32 } from './pool.js';
import { resampleSegmentation } from './seg.js';
import { moveAxisToFront, moveFrontAxisBack } from './axes.js';
import { resampleChannel } from './volume.js';

/**
 * Extra option understood by this resampler (not part of the core contract): the caller no longer needs `data`,
 * so it may be overwritten (saves one channel-sized copy when z is spline-interpolated).
 */
export interface InPlaceOption {
  allowInPlace?: boolean;
}

/** Options of the default resampler plugin. */
export interface DefaultResamplerOptions {
  /** Registered name (default `'default'`). */
  name?: string;
}

function checkShapes(shape: readonly number[], newShape: readonly number[], channels: boolean, len: number): void {
  const spatial = channels ? shape.slice(1) : shape;
  if (spatial.length !== 3 || newShape.length !== 3 || [...shape, ...newShape].some((s) => !Number.isInteger(s) || s < 1)) {
    throw new RangeError(`resampler: bad shapes ${JSON.stringify(shape)} -> ${JSON.stringify(newShape)}`);
  }
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== len) throw new RangeError(`resampler: array length ${len} does not match shape ${JSON.stringify(shape)}`);
}

/**
 * Resample a multi-channel image `[c, z, y, x]` (float32) to spatial `newShape` `[z, y, x]`, channel by channel,
 * as nnU-Net's `resample_data_or_seg(is_seg=False)` (RULES.md §13): scikit-image `resize(order, mode='edge',
 * anti_aliasing=False)` equivalent, or separate-z (in-plane `order`, then `orderZ` along `separateZAxis`).
 * @returns new Float32Array `[c, ...newShape]`
 * @throws RangeError on inconsistent shapes or an order outside 0..5
 */
export function resampleData(data: Float32Array, shape: readonly number[], newShape: readonly number[],
  opts: ResampleOptions & InPlaceOption): Float32Array {
  checkShapes(shape, newShape, true, data.length);
  const [C, Z, Y, X] = shape as [number, number, number, number];
  const nIn = Z * Y * X;
  if (opts.allowInPlace && shape.slice(1).every((s, i) => s === newShape[i])) return data;
  const nOut = newShape[0]! * newShape[1]! * newShape[2]!;
  const out = allocFloat32(C * nOut);
  const axis = opts.separateZAxis;
  for (let c = 0; c < C; c++) {
    if (shape.slice(1).every((s, i) => s === newShape[i])) {
      out.set(data.subarray(c * nIn, (c + 1) * nIn), c * nOut);
    } else if (axis === null || axis === 0) {
      resampleChannel(data, c * nIn, [Z, Y, X], newShape, opts.order, opts.orderZ, axis === 0, out, c * nOut,
        opts.allowInPlace === true);
    } else {
      const moved = moveAxisToFront(data, c * nIn, [Z, Y, X], axis);
      const movedNew = permute(newShape, axis);
      const tmp = new Float32Array(nOut);
      resampleChannel(moved.data, 0, moved.shape, movedNew, opts.order, opts.orderZ, true, tmp, 0);
      moveFrontAxisBack(tmp, movedNew, axis, out, c * nOut);
    }
  }
  return out;
}

/** Shape permuted the way `moveAxisToFront` permutes the volume. */
function permute(s: readonly number[], axis: number): number[] {
  return axis === 1 ? [s[1]!, s[0]!, s[2]!] : [s[2]!, s[0]!, s[1]!];
}

/**
 * Resample a label map `[z, y, x]` (Int16) to `newShape` by one-hot interpolation (nnU-Net `resize_segmentation`,
 * RULES.md §13), separate-z as `resample_data_or_seg(is_seg=True)`. Output values come from the input (B08).
 */
export function resampleSeg(seg: Int16Array, shape: readonly number[], newShape: readonly number[],
  opts: ResampleOptions): Int16Array {
  checkShapes(shape, newShape, false, seg.length);
  return resampleSegmentation(seg, shape, newShape, opts.order, opts.orderZ, opts.separateZAxis);
}

/** The `default` resampler plugin (RULES.md §13): spline orders 0..5, edge mode, one-hot seg, separate z. */
export function defaultResampler(opts: DefaultResamplerOptions = {}): Resampler {
  return {
    name: opts.name ?? 'default',
    resampleData: (d, s, n, o) => resampleData(d, s, n, o),
    resampleSeg: (d, s, n, o) => resampleSeg(d, s, n, o),
  };
}
