import { convOutSize, type Conv3dParams, type Tensor } from '../contracts/backend.js';

/** Output shape `[n, cOut, dOut, hOut, wOut]` of `conv3d(x, w)`; throws `Error` on inconsistent shapes. */
export function conv3dOutputShape(xShape: number[], wShape: number[], p: Conv3dParams): number[] {
  if (xShape.length !== 5 || wShape.length !== 5) {
    throw new Error(`conv3d: x must be [n,c,d,h,w] and w [cOut,cIn,kd,kh,kw], got [${xShape}] and [${wShape}]`);
  }
  if (xShape[1] !== wShape[1]) throw new Error(`conv3d: x has ${xShape[1]} channels, w expects ${wShape[1]}`);
  const out = [xShape[0]!, wShape[0]!];
  for (let a = 0; a < 3; a++) {
    const s = p.stride[a]!;
    const pad = p.padding[a]!;
    if (!(s >= 1) || !(pad >= 0)) throw new Error(`conv3d: bad stride ${p.stride} / padding ${p.padding}`);
    const o = convOutSize(xShape[a + 2]!, wShape[a + 2]!, s, pad);
    if (o < 1) throw new Error(`conv3d: kernel [${wShape.slice(2)}] larger than padded input [${xShape.slice(2)}]`);
    out.push(o);
  }
  return out;
}

/** Checks `data.length` against the product of `shape`; throws `Error` naming `what`. */
export function checkTensor(t: Tensor, what: string): void {
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) throw new Error(`${what}: data has ${t.data.length} values, shape [${t.shape}] needs ${n}`);
}

type Visit = (xi: number, wi: number, yi: number) => void;

/** Visits every (x, w, y) index triple of a convolution (naive loops; for references and tests only). */
function forEachTap(xShape: number[], wShape: number[], yShape: number[], p: Conv3dParams, f: Visit): void {
  const [n, ci, d, h, w] = xShape as [number, number, number, number, number];
  const [co, , kd, kh, kw] = wShape as [number, number, number, number, number];
  const [, , od, oh, ow] = yShape as [number, number, number, number, number];
  const [sd, sh, sw] = p.stride;
  const [pd, ph, pw] = p.padding;
  for (let b = 0; b < n; b++)
    for (let o = 0; o < co; o++)
      for (let z = 0; z < od; z++)
        for (let y = 0; y < oh; y++)
          for (let x = 0; x < ow; x++) {
            const yi = (((b * co + o) * od + z) * oh + y) * ow + x;
            for (let c = 0; c < ci; c++)
              for (let a = 0; a < kd; a++) {
                const iz = z * sd - pd + a;
                if (iz < 0 || iz >= d) continue;
                for (let e = 0; e < kh; e++) {
                  const iy = y * sh - ph + e;
                  if (iy < 0 || iy >= h) continue;
                  for (let g = 0; g < kw; g++) {
                    const ix = x * sw - pw + g;
                    if (ix < 0 || ix >= w) continue;
                    f((((b * ci + c) * d + iz) * h + iy) * w + ix, (((o * ci + c) * kd + a) * kh + e) * kw + g, yi);
                  }
                }
              }
          }
}

/** Naive float64-accumulated `conv3d` (NCDHW, OIDHW). Reference for tests; slow. */
export function referenceConv3d(x: Tensor, w: Tensor, bias: Float32Array | null, p: Conv3dParams): Tensor {
  const shape = conv3dOutputShape(x.shape, w.shape, p);
  const acc = new Float64Array(shape.reduce((a, b) => a * b, 1));
  forEachTap(x.shape, w.shape, shape, p, (xi, wi, yi) => (acc[yi]! += x.data[xi]! * w.data[wi]!));
  if (bias) {
    const sp = shape[2]! * shape[3]! * shape[4]!;
    for (let i = 0; i < acc.length; i++) acc[i]! += bias[Math.floor(i / sp) % shape[1]!]!;
  }
  return { data: Float32Array.from(acc), shape };
}

/** Throws `Error` unless `dy` has the output shape of `conv3d(x: xShape, w: wShape)`. */
function checkGradShape(what: string, dy: Tensor, xShape: number[], wShape: number[], p: Conv3dParams): void {
  const ys = conv3dOutputShape(xShape, wShape, p);
  if (ys.length !== dy.shape.length || ys.some((v, i) => v !== dy.shape[i])) {
    throw new Error(`${what}: dy has shape [${dy.shape}], the convolution's output is [${ys}]`);
  }
}

/** Naive `conv3dBackwardData` (dL/dx); reference for tests. Throws `Error` when dy's shape does not fit. */
export function referenceConv3dBackwardData(dy: Tensor, w: Tensor, xShape: number[], p: Conv3dParams): Tensor {
  checkGradShape('conv3dBackwardData', dy, xShape, w.shape, p);
  const acc = new Float64Array(xShape.reduce((a, b) => a * b, 1));
  forEachTap(xShape, w.shape, dy.shape, p, (xi, wi, yi) => (acc[xi]! += dy.data[yi]! * w.data[wi]!));
  return { data: Float32Array.from(acc), shape: [...xShape] };
}

/** Naive `conv3dBackwardFilter` (dL/dw); reference for tests. Throws `Error` when dy's shape does not fit. */
export function referenceConv3dBackwardFilter(x: Tensor, dy: Tensor, wShape: number[], p: Conv3dParams): Tensor {
  checkGradShape('conv3dBackwardFilter', dy, x.shape, wShape, p);
  const acc = new Float64Array(wShape.reduce((a, b) => a * b, 1));
  forEachTap(x.shape, wShape, dy.shape, p, (xi, wi, yi) => (acc[wi]! += dy.data[yi]! * x.data[xi]!));
  return { data: Float32Array.from(acc), shape: [...wShape] };
}

/** FLOPs (multiply + add = 2) of one `conv3d` forward; backward-data and backward-filter cost the same each. */
export function conv3dFlops(xShape: number[], wShape: number[], p: Conv3dParams): number {
  const y = conv3dOutputShape(xShape, wShape, p);
  return 2 * y.reduce((a, b) => a * b, 1) * wShape[1]! * wShape[2]! * wShape[3]! * wShape[4]!;
}
