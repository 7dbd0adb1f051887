import { cpus } from 'node:os';
import { checkTensor, HostDeviceBackend, type BackendPlugin, type ComputeBackend, type Conv3dParams, type DeviceBackend, type Tensor } from '@nnunet-ts/core';
import { checkDy, geometry, numel, outShape, type Geometry } from './geometry.js';

const FWD = 0;
const BWD_DATA = 1;
const BWD_FILTER = 2;

/**
 * Direct convolution over Float32Arrays, one loop nest for the three kernels. For each (sample, cOut, cIn, tap,
 * output row) the innermost loop runs along x over the valid range only (no padding tests inside it):
 * - FWD:        y[o, z, y, :]  += w * x[c, iz, iy, ix(:)]
 * - BWD_DATA:   dx[c, iz, iy, ix(:)] += w * dy[o, z, y, :]
 * - BWD_FILTER: dw[o, c, tap]  += dy[o, z, y, :] . x[c, iz, iy, ix(:)]
 * `a` is x (or dx), `b` is y (or dy), `wt` is w (or dw).
 */
function directConv(mode: number, a: Float32Array, wt: Float32Array, b: Float32Array, g: Geometry): void {
  const [n, ci, d, h, w, co, kd, kh, kw, sd, sh, sw, pd, ph, pw, od, oh, ow] = g as [
    number, number, number, number, number, number, number, number, number,
    number, number, number, number, number, number, number, number, number,
  ];
  const S = d * h * w;
  const P = od * oh * ow;
  for (let bi = 0; bi < n; bi++) {
    for (let o = 0; o < co; o++) {
      const bBase = (bi * co + o) * P;
      for (let c = 0; c < ci; c++) {
        const aBase = (bi * ci + c) * S;
        for (let ka = 0; ka < kd; ka++) {
          for (let ke = 0; ke < kh; ke++) {
            for (let kf = 0; kf < kw; kf++) {
              const wi = (((o * ci + c) * kd + ka) * kh + ke) * kw + kf;
              const wv = wt[wi]!;
              const lo = Math.max(0, Math.ceil((pw - kf) / sw));
              const hi = Math.min(ow, Math.floor((w - 1 + pw - kf) / sw) + 1);
              if (hi <= lo) continue;
              let acc = 0;
              for (let z = 0; z < od; z++) {
                const iz = z * sd - pd + ka;
                if (iz < 0 || iz >= d) continue;
                for (let y = 0; y < oh; y++) {
                  const iy = y * sh - ph + ke;
                  if (iy < 0 || iy >= h) continue;
                  const bo = bBase + (z * oh + y) * ow;
                  const ao = aBase + (iz * h + iy) * w - pw + kf;
                  if (mode === FWD) {
                    if (sw === 1) for (let x = lo; x < hi; x++) b[bo + x] += wv * a[ao + x]!;
                    else for (let x = lo; x < hi; x++) b[bo + x] += wv * a[ao + x * sw]!;
                  } else if (mode === BWD_DATA) {
                    if (sw === 1) for (let x = lo; x < hi; x++) a[ao + x] += wv * b[bo + x]!;
                    else for (let x = lo; x < hi; x++) a[ao + x * sw] += wv * b[bo + x]!;
                  } else {
                    let s0 = 0;
                    let s1 = 0;
                    let x = lo;
                    for (; x + 1 < hi; x += 2) {
                      s0 += b[bo + x]! * a[ao + x * sw]!;
                      s1 += b[bo + x + 1]! * a[ao + (x + 1) * sw]!;
                    }
                    if (x < hi) s0 += b[bo + x]! * a[ao + x * sw]!;
                    acc += s0 + s1;
                  }
                }
              }
              if (mode === BWD_FILTER) wt[wi] += acc;
            }
          }
        }
      }
    }
  }
}

/**
 * Creates the pure-JavaScript backend: always available, single-threaded, roughly 1 GFLOP/s. Inputs and outputs as
 * in `ComputeBackend` (NCDHW float32, OIDHW weights). Throws `Error` on inconsistent shapes.
 */
export function createCpuJsBackend(): ComputeBackend {
  return {
    info: {
      name: 'cpu-js',
      description: `pure JavaScript direct convolution (fallback, 1 thread) on ${cpus()[0]?.model.trim() ?? 'cpu'}`,
      gpu: false,
      threads: 1,
    },
    conv3d(x: Tensor, w: Tensor, bias: Float32Array | null, p: Conv3dParams): Tensor {
      checkTensor(x, 'x');
      checkTensor(w, 'w');
      const g = geometry(x.shape, w.shape, p);
      if (bias && bias.length !== w.shape[0]) throw new Error(`conv3d: bias has ${bias.length} values, cOut is ${w.shape[0]}`);
      const shape = outShape(g);
      const y = new Float32Array(numel(shape));
      if (bias) {
        const sp = shape[2]! * shape[3]! * shape[4]!;
        for (let i = 0; i < shape[0]! * shape[1]!; i++) y.fill(bias[i % shape[1]!]!, i * sp, (i + 1) * sp);
      }
      directConv(FWD, x.data, w.data, y, g);
      return { data: y, shape };
    },
    conv3dBackwardData(dy: Tensor, w: Tensor, xShape: number[], p: Conv3dParams): Tensor {
      checkTensor(w, 'w');
      const g = geometry(xShape, w.shape, p);
      checkDy(dy, g);
      const dx = new Float32Array(numel(xShape));
      directConv(BWD_DATA, dx, w.data, dy.data, g);
      return { data: dx, shape: [...xShape] };
    },
    conv3dBackwardFilter(x: Tensor, dy: Tensor, wShape: number[], p: Conv3dParams): Tensor {
      checkTensor(x, 'x');
      const g = geometry(x.shape, wShape, p);
      checkDy(dy, g);
      const dw = new Float32Array(numel(wShape));
      directConv(BWD_FILTER, x.data, dw, dy.data, g);
      return { data: dw, shape: [...wShape] };
    },
  };
}

/** The `cpu-js` plugin (priority 50): always available. */
export function cpuJsPlugin(): BackendPlugin {
  return {
    name: 'cpu-js',
    priority: 50,
    isAvailable: async () => true,
    create: async () => createCpuJsBackend(),
    createDevice: async () => createCpuJsDevice(),
  };
}

/** The `cpu-js` device backend: the reference host-memory contract implementation with the JS convolutions. */
export function createCpuJsDevice(): DeviceBackend {
  return new HostDeviceBackend(createCpuJsBackend(), { name: 'cpu-js', description: 'pure JavaScript, every op on host memory (reference, 1 thread)' });
}
