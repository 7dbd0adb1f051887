import type { ComputeBackend, Conv3dParams, Tensor } from '../contracts/backend.js';
import { convOutSize } from '../contracts/backend.js';

/** Checks `x: [n, cIn, d, h, w]` against `w: [cOut, cIn, kd, kh, kw]`; returns the output shape. Throws `Error`. */
function outShape(xShape: number[], wShape: number[], p: Conv3dParams): number[] {
  if (xShape.length !== 5 || wShape.length !== 5) throw new Error(`conv3d: expected 5-D shapes, got x ${xShape} w ${wShape}`);
  if (xShape[1] !== wShape[1]) throw new Error(`conv3d: x has ${xShape[1]} channels, weight expects ${wShape[1]}`);
  const o = [0, 1, 2].map((a) => convOutSize(xShape[2 + a]!, wShape[2 + a]!, p.stride[a]!, p.padding[a]!));
  if (o.some((v) => v < 1)) throw new Error(`conv3d: empty output for x ${xShape}, w ${wShape}`);
  return [xShape[0]!, wShape[0]!, ...o];
}

/**
 * Loop nest shared by the three kernels: calls `f(xi, wi, yi)` for every (input voxel, weight, output voxel)
 * triple that a zero-padded strided convolution connects. Plain and slow: for tests only.
 */
function forEachTap(xs: number[], ws: number[], ys: number[], p: Conv3dParams, f: (xi: number, wi: number, yi: number) => void): void {
  const [n, cIn, d, h, w] = xs as [number, number, number, number, number];
  const [cOut, , kd, kh, kw] = ws as [number, number, number, number, number];
  const [, , od, oh, ow] = ys as [number, number, number, number, number];
  const [sd, sh, sw] = p.stride;
  const [pd, ph, pw] = p.padding;
  for (let b = 0; b < n; b++)
    for (let co = 0; co < cOut; co++)
      for (let z = 0; z < od; z++)
        for (let y = 0; y < oh; y++)
          for (let x = 0; x < ow; x++) {
            const yi = (((b * cOut + co) * od + z) * oh + y) * ow + x;
            for (let ci = 0; ci < cIn; ci++)
              for (let a = 0; a < kd; a++) {
                const iz = z * sd - pd + a;
                if (iz < 0 || iz >= d) continue;
                for (let c = 0; c < kh; c++) {
                  const iy = y * sh - ph + c;
                  if (iy < 0 || iy >= h) continue;
                  for (let e = 0; e < kw; e++) {
                    const ix = x * sw - pw + e;
                    if (ix < 0 || ix >= w) continue;
                    f((((b * cIn + ci) * d + iz) * h + iy) * w + ix, (((co * cIn + ci) * kd + a) * kh + c) * kw + e, yi);
                  }
                }
              }
          }
}

/**
 * A naive, obviously correct `ComputeBackend` (plain loops, float64 accumulation). Slow; meant for tests and
 * as the ground truth the fast backends are compared against. Shapes as in `contracts/backend.ts` (NCDHW, OIDHW).
 */
export function referenceBackend(): ComputeBackend {
  return {
    info: { name: 'reference', description: 'naive JS reference loops (tests only)', gpu: false, threads: 1 },
    conv3d(x: Tensor, w: Tensor, bias: Float32Array | null, p: Conv3dParams): Tensor {
      const ys = outShape(x.shape, w.shape, p);
      const acc = new Float64Array(ys.reduce((a, b) => a * b, 1));
      forEachTap(x.shape, w.shape, ys, p, (xi, wi, yi) => {
        acc[yi]! += x.data[xi]! * w.data[wi]!;
      });
      if (bias) {
        const sp = ys[2]! * ys[3]! * ys[4]!;
        for (let i = 0; i < acc.length; i++) acc[i]! += bias[Math.floor(i / sp) % ys[1]!]!;
      }
      return { data: Float32Array.from(acc), shape: ys };
    },
    conv3dBackwardData(dy: Tensor, w: Tensor, xShape: number[], p: Conv3dParams): Tensor {
      const ys = outShape(xShape, w.shape, p);
      if (ys.some((v, i) => v !== dy.shape[i])) throw new Error(`conv3dBackwardData: dy ${dy.shape} != ${ys}`);
      const acc = new Float64Array(xShape.reduce((a, b) => a * b, 1));
      forEachTap(xShape, w.shape, ys, p, (xi, wi, yi) => {
        acc[xi]! += dy.data[yi]! * w.data[wi]!;
      });
      return { data: Float32Array.from(acc), shape: [...xShape] };
    },
    conv3dBackwardFilter(x: Tensor, dy: Tensor, wShape: number[], p: Conv3dParams): Tensor {
      const ys = outShape(x.shape, wShape, p);
      if (ys.some((v, i) => v !== dy.shape[i])) throw new Error(`conv3dBackwardFilter: dy ${dy.shape} != ${ys}`);
      const acc = new Float64Array(wShape.reduce((a, b) => a * b, 1));
      forEachTap(x.shape, wShape, ys, p, (xi, wi, yi) => {
        acc[wi]! += dy.data[yi]! * x.data[xi]!;
      });
      return { data: Float32Array.from(acc), shape: [...wShape] };
    },
  };
}
