import type { Tensor } from '../contracts/backend.js';
import type { Parameter } from '../contracts/network.js';
import type { Module } from './module.js';
import { ensureBuffer } from './parameter.js';

/**
 * LeakyReLU `y = x > 0 ? x : slope * x` (spec 1.7: slope 0.01), elementwise on any shape. Output and gradient
 * buffers are layer-owned and reused. (The UNets use the fused form in `InstanceNorm`.)
 */
export class LeakyReLU implements Module {
  readonly parameters: Parameter[] = [];
  private out: Float32Array | null = null;
  private dx: Float32Array | null = null;
  private x: Tensor | null = null;

  private readonly lut: Float64Array;

  constructor(readonly slope = 0.01) {
    this.lut = Float64Array.of(slope, 1);
  }

  forward(x: Tensor, training: boolean): Tensor {
    const out = (this.out = ensureBuffer(this.out, x.data.length));
    const xd = x.data;
    const lut = this.lut;
    for (let i = 0; i < xd.length; i++) {
      const v = xd[i]!;
      out[i] = v * lut[+(v > 0)]!; // branch-free select
    }
    this.x = training ? x : null;
    return { data: out, shape: x.shape.slice() };
  }

  backward(dy: Tensor): Tensor {
    const x = this.x;
    if (!x) throw new Error('LeakyReLU: backward without a training forward');
    const dx = (this.dx = ensureBuffer(this.dx, dy.data.length));
    const xd = x.data;
    const d = dy.data;
    const lut = this.lut;
    for (let i = 0; i < d.length; i++) dx[i] = d[i]! * lut[+(xd[i]! > 0)]!;
    return { data: dx, shape: x.shape.slice() };
  }
}
