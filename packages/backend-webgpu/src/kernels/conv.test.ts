import { afterAll, describe, expect, it } from 'vitest';
import type { Conv3dParams } from '@nnunet-ts/core';
import {
  conv3dOutputShape,
  referenceConv3d,
  referenceConv3dBackwardData,
  referenceConv3dBackwardFilter,
} from '../../../core/src/compute/reference.js';
import { CONTRACT_CASES, randomTensor, relativeError } from '@nnunet-ts/core/testing';
import { openDevice } from '../device.js';
import { convBackwardData, convBackwardFilter, convForward, type ConvGeometry } from './conv.js';

const { engine: e, choice } = await openDevice('only');
afterAll(() => e.dispose());

const up = (t: Float32Array): GPUBuffer => {
  const b = e.alloc(t.byteLength);
  e.write(b, t);
  return b;
};
const down = async (b: GPUBuffer, n: number): Promise<Float32Array> => new Float32Array(await e.read(b, n * 4));
const geo = (x: number[], w: number[], p: Conv3dParams): ConvGeometry => {
  const o = conv3dOutputShape(x, w, p).slice(2) as [number, number, number];
  return { n: x[0]!, cIn: x[1]!, cOut: w[0]!, inS: x.slice(2) as never, k: w.slice(2) as never, outS: o, stride: p.stride, pad: p.padding };
};
const size = (s: number[]): number => s.reduce((a, b) => a * b, 1);

describe(`WGSL implicit-GEMM convolutions on ${choice.label}`, () => {
  for (const c of CONTRACT_CASES) {
    it(c.name, async () => {
      const x = randomTensor(c.x, 1);
      const w = randomTensor(c.w, 2);
      const bias = c.bias ? randomTensor([c.w[0]!], 3).data : null;
      const g = geo(c.x, c.w, c.p);
      const yShape = [c.x[0]!, c.w[0]!, ...g.outS];
      const dy = randomTensor(yShape, 4);
      const [xb, wb, dyb] = [up(x.data), up(w.data), up(dy.data)];
      const bb = bias ? up(bias) : null;
      const yb = e.alloc(size(yShape) * 4);
      const dxb = e.alloc(size(c.x) * 4);
      const dwb = e.alloc(size(c.w) * 4);
      convForward(e, g, xb, wb, bb, yb);
      convBackwardData(e, g, dyb, wb, dxb);
      convBackwardFilter(e, g, xb, dyb, dwb);
      expect(relativeError(await down(yb, size(yShape)), referenceConv3d(x, w, bias, c.p).data)).toBeLessThan(1e-5);
      expect(relativeError(await down(dxb, size(c.x)), referenceConv3dBackwardData(dy, w, c.x, c.p).data)).toBeLessThan(1e-5);
      expect(relativeError(await down(dwb, size(c.w)), referenceConv3dBackwardFilter(x, dy, c.w, c.p).data)).toBeLessThan(1e-5);
    });
  }
});
