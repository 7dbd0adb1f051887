import { conv3dOutputShape, checkTensor, type Conv3dParams, type Tensor } from '@nnunet-ts/core';

/**
 * Flattened convolution geometry shared by both CPU backends:
 * `[n, ci, d, h, w, co, kd, kh, kw, sd, sh, sw, pd, ph, pw, od, oh, ow]`.
 */
export type Geometry = number[];

/**
 * Validates the shapes of a convolution and returns its geometry.
 * @throws Error when x / w shapes are inconsistent, stride < 1, padding < 0, or the output would be empty.
 */
export function geometry(xShape: number[], wShape: number[], p: Conv3dParams): Geometry {
  const y = conv3dOutputShape(xShape, wShape, p);
  for (const v of [...p.stride, ...p.padding]) {
    if (!Number.isInteger(v)) throw new Error(`conv3d: stride and padding must be integers, got ${p.stride} / ${p.padding}`);
  }
  return [...xShape, wShape[0]!, ...wShape.slice(2), ...p.stride, ...p.padding, ...y.slice(2)];
}

/** Output shape `[n, co, od, oh, ow]` of a geometry. */
export function outShape(g: Geometry): number[] {
  return [g[0]!, g[5]!, g[15]!, g[16]!, g[17]!];
}

/** Checks that `dy` has the shape the forward convolution of `xShape` by `wShape` produces. */
export function checkDy(dy: Tensor, g: Geometry): void {
  checkTensor(dy, 'dy');
  const want = outShape(g);
  if (dy.shape.length !== 5 || dy.shape.some((v, i) => v !== want[i])) {
    throw new Error(`conv3d backward: dy has shape [${dy.shape}], the convolution produces [${want}]`);
  }
}

/** Number of elements of a shape. */
export function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
