import { checkTensor, conv3dOutputShape, type ComputeBackend, type Conv3dParams, type Tensor } from '@nnunet-ts/core';
import { col2imTile, im2colRows, im2colTile, type Geom } from './im2col.js';

/**
 * A matrix product `op(A) · op(B)` with `A` `[m, k]` (or `[k, m]` when `transA`) and `B` `[k, n]` (or `[n, k]` when
 * `transB`), row-major float32; returns the row-major `[m, n]` product.
 */
export type MatMul = (
  a: Float32Array,
  aShape: [number, number],
  b: Float32Array,
  bShape: [number, number],
  transA: boolean,
  transB: boolean,
) => ArrayLike<number>;

/** Row-major `[rows, cols]` -> `[cols, rows]`. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j]!;
  return out;
}

/** Floats of one im2col tile (16 MiB). */
const TILE_FLOATS = 4 * 1024 * 1024;

function geom(xShape: number[], wShape: number[], p: Conv3dParams): { g: Geom; y: number[] } {
  const y = conv3dOutputShape(xShape, wShape, p);
  return { g: [...xShape, wShape[0]!, ...wShape.slice(2), ...p.stride, ...p.padding, ...y.slice(2)], y };
}

/**
 * A `ComputeBackend` on a fast matrix product: tiles of the im2col matrix are built in JavaScript and multiplied by
 * `matmul` (forward `col^T · W^T`, backward-data `W^T · dY` then col2im, backward-filter `col · dY^T`). Tiles hold at
 * most `opts.tileFloats` (default 4 Mi) floats. Throws `Error` on inconsistent shapes.
 */
export function createMatMulConvBackend(
  matmul: MatMul,
  info: { name: string; description: string; gpu: boolean; threads?: number },
  opts: { tileFloats?: number } = {},
): ComputeBackend {
  const tileFloats = opts.tileFloats ?? TILE_FLOATS;
  const tileCols = (R: number, P: number): number => Math.max(1, Math.min(P, Math.floor(tileFloats / Math.max(R, 1))));
  return {
    info,
    conv3d: (x, w, bias, p) => convForward(matmul, tileCols, x, w, bias, p),
    conv3dBackwardData: (dy, w, xShape, p) => convBackwardData(matmul, tileCols, dy, w, xShape, p),
    conv3dBackwardFilter: (x, dy, wShape, p) => convBackwardFilter(matmul, tileCols, x, dy, wShape, p),
  };
}

/** Columns of an im2col tile with `R` rows over `P` output positions. */
type TileCols = (R: number, P: number) => number;

/** Forward convolution: `Y^T = col^T · W^T` per tile of output positions. */
function convForward(matmul: MatMul, tileCols: TileCols, x: Tensor, w: Tensor, bias: Float32Array | null, p: Conv3dParams): Tensor {
  checkTensor(x, 'x');
  checkTensor(w, 'w');
  const { g, y: yShape } = geom(x.shape, w.shape, p);
  const [n, M] = [yShape[0]!, yShape[1]!];
  const R = im2colRows(g);
  const P = yShape[2]! * yShape[3]! * yShape[4]!;
  const S = x.shape[2]! * x.shape[3]! * x.shape[4]!;
  const y = new Float32Array(n * M * P);
  const pc = tileCols(R, P);
  const col = new Float32Array(R * pc);
  // Y^T [np, M] = col^T [np, R] . W^T [R, M]: XNNPACK repacks its second operand on every call, keep it small
  const wt = transpose(w.data, M, R);
  for (let b = 0; b < n; b++)
    for (let p0 = 0; p0 < P; p0 += pc) {
      const np = Math.min(pc, P - p0);
      const tile = np === pc ? col : col.subarray(0, R * np);
      im2colTile(x.data, b * x.shape[1]! * S, g, p0, np, tile, true);
      const out = matmul(tile, [np, R], wt, [R, M], false, false);
      for (let i = 0; i < M; i++) {
        const bi = bias ? bias[i]! : 0;
        const o = (b * M + i) * P + p0;
        for (let j = 0; j < np; j++) y[o + j] = out[j * M + i]! + bi;
      }
    }
  return { data: y, shape: yShape };
}

/** dL/dx: `W^T · dY` per tile, scattered back by col2im. */
function convBackwardData(matmul: MatMul, tileCols: TileCols, dy: Tensor, w: Tensor, xShape: number[], p: Conv3dParams): Tensor {
  checkTensor(dy, 'dy');
  checkTensor(w, 'w');
  const { g, y: yShape } = geom(xShape, w.shape, p);
  if (yShape.some((v, i) => v !== dy.shape[i])) throw new Error(`conv3d backward: dy [${dy.shape}] vs forward output [${yShape}]`);
  const [n, M] = [yShape[0]!, yShape[1]!];
  const R = im2colRows(g);
  const P = yShape[2]! * yShape[3]! * yShape[4]!;
  const S = xShape[2]! * xShape[3]! * xShape[4]!;
  const dx = new Float32Array(xShape.reduce((a, b) => a * b, 1));
  const pc = tileCols(R, P);
  const dyTile = new Float32Array(M * pc);
  const wt = transpose(w.data, M, R); // tfjs-wasm's BatchMatMul is several times slower with transposeA
  for (let b = 0; b < n; b++)
    for (let p0 = 0; p0 < P; p0 += pc) {
      const np = Math.min(pc, P - p0);
      const t = np === pc ? dyTile : dyTile.subarray(0, M * np);
      for (let i = 0; i < M; i++) t.set(dy.data.subarray((b * M + i) * P + p0, (b * M + i) * P + p0 + np), i * np);
      const dcol = matmul(wt, [R, M], t, [M, np], false, false);
      col2imTile(dcol, g, p0, np, dx, b * xShape[1]! * S);
    }
  return { data: dx, shape: [...xShape] };
}

/** dL/dW: `col · dY^T` summed over tiles. */
function convBackwardFilter(matmul: MatMul, tileCols: TileCols, x: Tensor, dy: Tensor, wShape: number[], p: Conv3dParams): Tensor {
  checkTensor(x, 'x');
  checkTensor(dy, 'dy');
  const { g, y: yShape } = geom(x.shape, wShape, p);
  if (yShape.some((v, i) => v !== dy.shape[i])) throw new Error(`conv3d backward: dy [${dy.shape}] vs forward output [${yShape}]`);
  const [n, M] = [yShape[0]!, yShape[1]!];
  const R = im2colRows(g);
  const P = yShape[2]! * yShape[3]! * yShape[4]!;
  const S = x.shape[2]! * x.shape[3]! * x.shape[4]!;
  // dW^T [R, M] = col [R, np] . dY^T [np, M], summed over tiles (no transposed operands: see above)
  const dwt = new Float32Array(M * R);
  const pc = tileCols(R, P);
  const col = new Float32Array(R * pc);
  const dyT = new Float32Array(M * pc);
  for (let b = 0; b < n; b++)
    for (let p0 = 0; p0 < P; p0 += pc) {
      const np = Math.min(pc, P - p0);
      const tile = np === pc ? col : col.subarray(0, R * np);
      const t = np === pc ? dyT : dyT.subarray(0, M * np);
      im2colTile(x.data, b * x.shape[1]! * S, g, p0, np, tile);
      for (let i = 0; i < M; i++) {
        const src = (b * M + i) * P + p0;
        for (let j = 0; j < np; j++) t[j * M + i] = dy.data[src + j]!;
      }
      const part = matmul(tile, [R, np], t, [np, M], false, false);
      for (let i = 0; i < dwt.length; i++) dwt[i]! += part[i]!;
    }
  return { data: transpose(dwt, R, M), shape: [...wShape] };
}

/** The part of tfjs's kernel backend the tfjs matmul adapter uses. */
interface KernelBackendLike {
  write(values: Float32Array, shape: number[], dtype: string): object;
  readSync(dataId: object): ArrayLike<number>;
  disposeData(dataId: object, force?: boolean): boolean;
}

/**
 * A `MatMul` running tfjs's `BatchMatMul` kernel on the initialised tfjs backend instance `backend` (kernel function
 * from the registry). Inputs are copied in, the product is read back synchronously.
 */
export function tfjsMatMul(backend: unknown, kernelFunc: (...args: never[]) => unknown): MatMul {
  const be = backend as KernelBackendLike;
  const k = kernelFunc as unknown as (a: { inputs: Record<string, unknown>; backend: unknown; attrs: Record<string, unknown> }) => {
    dataId: object;
  };
  return (a, aShape, b, bShape, transA, transB) => {
    const ai = { dataId: be.write(a, [1, ...aShape], 'float32'), shape: [1, ...aShape], dtype: 'float32' };
    const bi = { dataId: be.write(b, [1, ...bShape], 'float32'), shape: [1, ...bShape], dtype: 'float32' };
    let out: { dataId: object } | undefined;
    try {
      out = k({ inputs: { a: ai, b: bi }, backend: be, attrs: { transposeA: transA, transposeB: transB } });
      return be.readSync(out.dataId);
    } finally {
      be.disposeData(ai.dataId, true);
      be.disposeData(bi.dataId, true);
      if (out) be.disposeData(out.dataId, true);
    }
  };
}
