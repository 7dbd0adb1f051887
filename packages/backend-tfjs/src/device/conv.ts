/**
 * Convolutions of the tfjs device backend on NCDHW tfjs tensors: transposed to NDHWC, explicitly zero-padded
 * (tfjs's Conv3D knows only `valid`/`same`), tfjs's Conv3D / Conv3DBackpropInputV2 / Conv3DBackpropFilterV2, and
 * back. `emulate` computes backward-data as a forward Conv3D of the zero-dilated dy with the flipped kernel and
 * backward-filter with stride 1 on the zero-dilated dy (tfjs-wasm 4.22's own backward kernels are wrong).
 */
import type { ConvParams } from '@nnunet-ts/core';
import type { Tf, TfTensor } from './handle.js';

type Tri = [number, number, number];

const toNdhwc = (tf: Tf, x: TfTensor): TfTensor => tf.transpose(x, [0, 2, 3, 4, 1]);
const toNcdhw = (tf: Tf, x: TfTensor): TfTensor => tf.transpose(x, [0, 4, 1, 2, 3]);
/** OIDHW -> DHWIO. */
const toDhwio = (tf: Tf, w: TfTensor): TfTensor => tf.transpose(w, [2, 3, 4, 1, 0]);

function padNdhwc(tf: Tf, x: TfTensor, before: Tri, after: Tri): TfTensor {
  if (before.every((v) => v === 0) && after.every((v) => v === 0)) return x;
  return tf.pad(x, [[0, 0], [before[0], after[0]], [before[1], after[1]], [before[2], after[2]], [0, 0]]);
}

/** Inserts `s - 1` zeros between elements along spatial axis `axis` (1..3) of an NDHWC tensor. */
function dilateAxis(tf: Tf, x: TfTensor, axis: number, s: number): TfTensor {
  if (s === 1) return x;
  const sh = x.shape;
  const before = sh.slice(0, axis).reduce((a, b) => a * b, 1);
  const after = sh.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = sh[axis]!;
  const r = tf.pad(tf.reshape(x, [before, n, 1, after]), [[0, 0], [0, 0], [0, s - 1], [0, 0]]);
  const full = tf.reshape(r, [...sh.slice(0, axis), n * s, ...sh.slice(axis + 1)]);
  return tf.slice(full, sh.map(() => 0), sh.map((v, i) => (i === axis ? (n - 1) * s + 1 : v)));
}

/** y = conv(x, w) + bias; x `[n, cIn, ...]`, w `[cOut, cIn, k...]`. */
export function convForward(tf: Tf, x: TfTensor, w: TfTensor, bias: TfTensor | null, p: ConvParams): TfTensor {
  return tf.tidy(() => {
    const xp = padNdhwc(tf, toNdhwc(tf, x), p.padding, p.padding);
    let y = tf.conv3d(xp as never, toDhwio(tf, w) as never, p.stride, 'valid') as TfTensor;
    if (bias) y = tf.add(y, bias);
    return toNcdhw(tf, y);
  });
}

/** dx of `convForward` for input shape `xShape`. */
export function convBackwardData(tf: Tf, dy: TfTensor, w: TfTensor, xShape: readonly number[], p: ConvParams, emulate: boolean): TfTensor {
  return tf.tidy(() => {
    const k = w.shape.slice(2) as Tri;
    const inS = xShape.slice(2) as Tri;
    const padded = inS.map((v, i) => v + 2 * p.padding[i]!) as Tri;
    const dyN = toNdhwc(tf, dy);
    let dxp: TfTensor;
    if (emulate) {
      let d = dyN;
      for (let a = 0; a < 3; a++) d = dilateAxis(tf, d, a + 1, p.stride[a]!);
      const rest = padded.map((v, i) => v - ((d.shape[i + 1]! - 1) + k[i]!)) as Tri; // rows the stride skipped
      d = padNdhwc(tf, d, k.map((v) => v - 1) as Tri, k.map((v, i) => v - 1 + rest[i]!) as Tri);
      const wf = tf.reverse(tf.transpose(w, [2, 3, 4, 0, 1]), [0, 1, 2]); // [k, cOut, cIn], flipped
      dxp = tf.conv3d(d as never, wf as never, 1, 'valid') as TfTensor;
    } else {
      dxp = tf.conv3dTranspose(dyN as never, toDhwio(tf, w) as never, [xShape[0]!, ...padded, xShape[1]!], p.stride, 'valid') as TfTensor;
    }
    const dx = tf.slice(dxp, [0, ...p.padding, 0], [xShape[0]!, ...inS, xShape[1]!]);
    return toNcdhw(tf, dx);
  });
}

/** dW `[cOut, cIn, k...]` of `convForward`. */
export function convBackwardFilter(tf: Tf, x: TfTensor, dy: TfTensor, wShape: readonly number[], p: ConvParams, emulate: boolean): TfTensor {
  return tf.tidy(() => {
    const k = wShape.slice(2) as Tri;
    const xp = padNdhwc(tf, toNdhwc(tf, x), p.padding, p.padding);
    const dyN = toNdhwc(tf, dy);
    const filterShape = [...k, wShape[1]!, wShape[0]!] as [number, number, number, number, number];
    let dw: TfTensor;
    if (emulate && p.stride.some((s) => s !== 1)) {
      let d = dyN;
      for (let a = 0; a < 3; a++) d = dilateAxis(tf, d, a + 1, p.stride[a]!);
      const used = [0, 1, 2].map((i) => d.shape[i + 1]! + k[i]! - 1);
      const xc = tf.slice(xp, [0, 0, 0, 0, 0], [xp.shape[0]!, ...used, xp.shape[4]!]);
      dw = tf.engine().runKernel('Conv3DBackpropFilterV2', { x: xc, dy: d }, { strides: [1, 1, 1], pad: 'valid', filterShape }) as TfTensor;
    } else {
      dw = tf.engine().runKernel('Conv3DBackpropFilterV2', { x: xp, dy: dyN }, { strides: p.stride, pad: 'valid', filterShape }) as TfTensor;
    }
    return tf.transpose(dw, [4, 3, 0, 1, 2]);
  });
}
