import { checkTensor, conv3dOutputShape, type ComputeBackend, type Conv3dParams, type Tensor } from '@nnunet-ts/core';
import { dhwioToOidhw, dilateToNdhwc, fromNdhwcCropped, oidhwToDhwio, oidhwToFlippedDhwoi, toNdhwcPadded } from './layout.js';

/** The part of a tfjs-core module (or of `@tensorflow/tfjs-node`, which re-exports it) this adapter uses. */
export interface TfApi {
  findBackend(name: string): unknown;
  getKernel(kernelName: string, backendName: string): { kernelFunc: (...args: never[]) => unknown } | undefined;
}

interface TensorInfo {
  dataId: object;
  shape: number[];
  dtype: string;
}

interface KernelBackendLike {
  write(values: Float32Array, shape: number[], dtype: string): object;
  readSync(dataId: object): ArrayLike<number>;
  disposeData(dataId: object, force?: boolean): boolean;
}

type KernelFunc = (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs: Record<string, unknown> }) => TensorInfo;

/** The three tfjs kernels the adapter needs. */
export const TFJS_CONV_KERNELS = ['Conv3D', 'Conv3DBackpropInputV2', 'Conv3DBackpropFilterV2'] as const;

/** True when the initialised tfjs backend `tfBackend` registers all three 3D convolution kernels. */
export function hasConvKernels(tf: TfApi, tfBackend: string): boolean {
  return TFJS_CONV_KERNELS.every((k) => {
    try {
      return tf.getKernel(k, tfBackend) != null;
    } catch {
      return false;
    }
  });
}

/**
 * Input upload (`put`) and one kernel call with synchronous read-back (`run`) on a tfjs kernel backend; every input
 * and the output are disposed after the read.
 */
function kernelRunner(be: KernelBackendLike) {
  const put = (t: { data: Float32Array; shape: number[] }): TensorInfo => ({
    dataId: be.write(t.data, t.shape, 'float32'),
    shape: t.shape,
    dtype: 'float32',
  });
  const run = (k: KernelFunc, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>): { values: ArrayLike<number>; shape: number[] } => {
    let out: TensorInfo | undefined;
    try {
      out = k({ inputs, backend: be, attrs });
      return { values: be.readSync(out.dataId), shape: out.shape };
    } finally {
      for (const t of Object.values(inputs)) be.disposeData(t.dataId, true);
      if (out) be.disposeData(out.dataId, true);
    }
  };
  return { put, run };
}

/**
 * A `ComputeBackend` running tfjs's own Conv3D kernels on an initialised tfjs backend, called directly through
 * the kernel registry on that backend instance (the global tfjs backend is not switched). Data go NCDHW -> padded
 * NDHWC in, NDHWC -> NCDHW out; weights OIDHW <-> DHWIO. The backend must support synchronous reads (`readSync`).
 *
 * `emulateBackward`: compute backward-data as a forward Conv3D of the zero-dilated, padded dy with the flipped
 * kernel, and backward-filter with stride 1 on the zero-dilated dy (tfjs-wasm 4.22's own Conv3DBackpropInputV2 and
 * strided Conv3DBackpropFilterV2 return wrong values; see the package README).
 * @throws Error when the tfjs backend is not initialised or lacks a kernel, and on inconsistent shapes.
 */
export function createTfjsConvBackend(
  tf: TfApi,
  tfBackend: string,
  info: { name: string; description: string; gpu: boolean; threads?: number },
  opts: { emulateBackward?: boolean } = {},
): ComputeBackend {
  const be = tf.findBackend(tfBackend) as KernelBackendLike | undefined;
  if (!be) throw new Error(`${info.name}: tfjs backend '${tfBackend}' is not initialised`);
  const kernels = TFJS_CONV_KERNELS.map((k) => {
    const kc = tf.getKernel(k, tfBackend);
    if (!kc) throw new Error(`${info.name}: tfjs backend '${tfBackend}' has no ${k} kernel`);
    return kc.kernelFunc as unknown as KernelFunc;
  }) as [KernelFunc, KernelFunc, KernelFunc];

  const { put, run } = kernelRunner(be);

  return {
    info,
    conv3d(x: Tensor, w: Tensor, bias: Float32Array | null, p: Conv3dParams): Tensor {
      checkTensor(x, 'x');
      checkTensor(w, 'w');
      const yShape = conv3dOutputShape(x.shape, w.shape, p);
      const r = run(kernels[0], { x: put(toNdhwcPadded(x.data, x.shape, p.padding)), filter: put(oidhwToDhwio(w.data, w.shape)) }, {
        strides: p.stride,
        pad: 'valid',
        dataFormat: 'NDHWC',
        dilations: 1,
      });
      const y = fromNdhwcCropped(r.values, r.shape);
      if (bias) {
        const sp = yShape[2]! * yShape[3]! * yShape[4]!;
        for (let i = 0; i < y.data.length; i++) y.data[i]! += bias[Math.floor(i / sp) % yShape[1]!]!;
      }
      return y;
    },
    conv3dBackwardData(dy: Tensor, w: Tensor, xShape: number[], p: Conv3dParams): Tensor {
      checkTensor(dy, 'dy');
      checkTensor(w, 'w');
      const yShape = conv3dOutputShape(xShape, w.shape, p);
      if (yShape.some((v, i) => v !== dy.shape[i])) throw new Error(`conv3d backward: dy [${dy.shape}] vs forward output [${yShape}]`);
      const padded = [xShape[0]!, ...xShape.slice(2).map((v, a) => v + 2 * p.padding[a]!), xShape[1]!];
      if (opts.emulateBackward) {
        const k = w.shape.slice(2);
        const total = k.map((v, a) => padded[a + 1]! + v - 1);
        const r = run(kernels[0], {
          x: put(dilateToNdhwc(dy.data, dy.shape, p.stride, k.map((v) => v - 1), total)),
          filter: put(oidhwToFlippedDhwoi(w.data, w.shape)),
        }, { strides: 1, pad: 'valid', dataFormat: 'NDHWC', dilations: 1 });
        return fromNdhwcCropped(r.values, r.shape, p.padding);
      }
      const r = run(kernels[1], { dy: put(toNdhwcPadded(dy.data, dy.shape, [0, 0, 0])), filter: put(oidhwToDhwio(w.data, w.shape)) }, {
        strides: p.stride,
        pad: 'valid',
        inputShape: padded,
      });
      return fromNdhwcCropped(r.values, r.shape, p.padding);
    },
    conv3dBackwardFilter(x: Tensor, dy: Tensor, wShape: number[], p: Conv3dParams): Tensor {
      checkTensor(x, 'x');
      checkTensor(dy, 'dy');
      const yShape = conv3dOutputShape(x.shape, wShape, p);
      if (yShape.some((v, i) => v !== dy.shape[i])) throw new Error(`conv3d backward: dy [${dy.shape}] vs forward output [${yShape}]`);
      const [o, i, kd, kh, kw] = wShape as [number, number, number, number, number];
      const emulate = opts.emulateBackward && p.stride.some((s) => s !== 1);
      const total = [kd, kh, kw].map((k, a) => x.shape[a + 2]! + 2 * p.padding[a]! - k + 1);
      const dyIn = emulate ? dilateToNdhwc(dy.data, dy.shape, p.stride, [0, 0, 0], total) : toNdhwcPadded(dy.data, dy.shape, [0, 0, 0]);
      const r = run(kernels[2], { x: put(toNdhwcPadded(x.data, x.shape, p.padding)), dy: put(dyIn) }, {
        strides: emulate ? 1 : p.stride,
        pad: 'valid',
        filterShape: [kd, kh, kw, i, o],
      });
      return dhwioToOidhw(r.values, r.shape);
    },
  };
}
