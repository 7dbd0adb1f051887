import type { Tensor } from '../contracts/backend.js';
import type { Parameter } from '../contracts/network.js';
import type { Module } from './module.js';
import { createParameter, ensureBuffer } from './parameter.js';

/** Options of `InstanceNorm`. */
export interface InstanceNormOptions {
  /** Parameter name prefix, e.g. `encoder.stages.0.0.convs.0.norm`. */
  name: string;
  channels: number;
  /** Added to the variance (spec 1.7: 1e-5). */
  eps?: number;
  /** Learnable per-channel scale (init 1) and shift (init 0) (spec 1.7: true). */
  affine?: boolean;
  /**
   * When set, a LeakyReLU with this negative slope is fused after the norm (nnU-Net's norm -> nonlin pair,
   * slope 0.01): one pass forward, one pair of passes backward, no extra buffer.
   */
  leakySlope?: number;
}

/**
 * Instance normalisation over `[n, c, z, y, x]`: per sample and channel, `(x - mean) / sqrt(var + eps)` with the
 * biased variance over the spatial axes (float64 sums), then `gamma * xhat + beta`, then the optional fused
 * LeakyReLU. Output and input-gradient buffers are owned by the layer and reused between calls.
 */
export class InstanceNorm implements Module {
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  readonly parameters: Parameter[];
  private readonly eps: number;
  private readonly slope: number | null;
  private out: Float32Array | null = null;
  private xhat: Float32Array | null = null;
  private dx: Float32Array | null = null;
  private invStd = new Float64Array(0);
  /** `[slope, 1]`: LeakyReLU factor indexed by `z > 0`. */
  private readonly lut: Float64Array;
  private shape: number[] = [];
  private trained = false;

  constructor(readonly opts: InstanceNormOptions) {
    this.eps = opts.eps ?? 1e-5;
    this.slope = opts.leakySlope ?? null;
    this.lut = Float64Array.of(this.slope ?? 1, 1);
    if (opts.affine === false) {
      this.weight = this.bias = null;
      this.parameters = [];
    } else {
      this.weight = createParameter(`${opts.name}.weight`, [opts.channels]);
      this.weight.value.fill(1);
      this.bias = createParameter(`${opts.name}.bias`, [opts.channels]);
      this.parameters = [this.weight, this.bias];
    }
  }

  forward(x: Tensor, training: boolean): Tensor {
    const n = x.shape[0]!;
    const c = x.shape[1]!;
    if (c !== this.opts.channels) throw new Error(`${this.opts.name}: expected ${this.opts.channels} channels, got ${c}`);
    const len = x.data.length;
    const sp = len / (n * c);
    const out = (this.out = ensureBuffer(this.out, len));
    const xh = training ? (this.xhat = ensureBuffer(this.xhat, len)) : null;
    if (this.invStd.length !== n * c) this.invStd = new Float64Array(n * c);
    const xd = x.data;
    const slope = this.slope;
    for (let nc = 0; nc < n * c; nc++) {
      const ch = nc % c;
      const o = nc * sp;
      // two independent accumulator pairs (float64) halve the add-latency chain
      let s = 0;
      let s2 = 0;
      let t = 0;
      let t2 = 0;
      const end = o + sp;
      let i0 = o;
      for (; i0 + 1 < end; i0 += 2) {
        const v = xd[i0]!;
        const w = xd[i0 + 1]!;
        s += v;
        s2 += v * v;
        t += w;
        t2 += w * w;
      }
      if (i0 < end) {
        const v = xd[i0]!;
        s += v;
        s2 += v * v;
      }
      s += t;
      s2 += t2;
      const mean = s / sp;
      const variance = Math.max(s2 / sp - mean * mean, 0);
      const inv = 1 / Math.sqrt(variance + this.eps);
      this.invStd[nc] = inv;
      const g = this.weight ? this.weight.value[ch]! : 1;
      const b = this.bias ? this.bias.value[ch]! : 0;
      const scale = g * inv;
      const shift = b - mean * scale;
      // LeakyReLU as z * lut[z > 0]: branch-free (a compare-and-select mispredicts on random signs)
      const lut = this.lut;
      if (xh) {
        // training: one pass writes xhat and the output
        if (slope === null)
          for (let i = o; i < end; i++) {
            const h = (xd[i]! - mean) * inv;
            xh[i] = h;
            out[i] = h * g + b;
          }
        else
          for (let i = o; i < end; i++) {
            const h = (xd[i]! - mean) * inv;
            xh[i] = h;
            const z = h * g + b;
            out[i] = z * lut[+(z > 0)]!;
          }
      } else if (slope === null) for (let i = o; i < end; i++) out[i] = xd[i]! * scale + shift;
      else
        for (let i = o; i < end; i++) {
          const z = xd[i]! * scale + shift;
          out[i] = z * lut[+(z > 0)]!;
        }
    }
    this.shape = x.shape.slice();
    this.trained = training;
    return { data: out, shape: this.shape };
  }

  backward(dy: Tensor): Tensor {
    const xh = this.xhat;
    if (!this.trained || !xh) throw new Error(`${this.opts.name}: backward without a training forward`);
    const n = this.shape[0]!;
    const c = this.shape[1]!;
    const len = xh.length;
    const sp = len / (n * c);
    const dx = (this.dx = ensureBuffer(this.dx, len));
    const dyd = dy.data;
    const slope = this.slope;
    for (let nc = 0; nc < n * c; nc++) {
      const ch = nc % c;
      const o = nc * sp;
      const g = this.weight ? this.weight.value[ch]! : 1;
      const b = this.bias ? this.bias.value[ch]! : 0;
      let sdz = 0;
      let sdzx = 0;
      // pass 1: dz (the LeakyReLU-masked dy, kept in dx) and its two sums
      const end = o + sp;
      if (slope === null)
        for (let i = o; i < end; i++) {
          const d = dyd[i]!;
          sdz += d;
          sdzx += d * xh[i]!;
        }
      else {
        const lut = this.lut;
        let u = 0;
        let ux = 0;
        let i = o;
        for (; i + 1 < end; i += 2) {
          const xv = xh[i]!;
          const xw = xh[i + 1]!;
          const d = dyd[i]! * lut[+(g * xv + b > 0)]!;
          const e = dyd[i + 1]! * lut[+(g * xw + b > 0)]!;
          dx[i] = d;
          dx[i + 1] = e;
          sdz += d;
          sdzx += d * xv;
          u += e;
          ux += e * xw;
        }
        if (i < end) {
          const xv = xh[i]!;
          const d = dyd[i]! * lut[+(g * xv + b > 0)]!;
          dx[i] = d;
          sdz += d;
          sdzx += d * xv;
        }
        sdz += u;
        sdzx += ux;
      }
      if (this.weight && this.bias) {
        this.weight.grad[ch]! += sdzx;
        this.bias.grad[ch]! += sdz;
      }
      const k = g * this.invStd[nc]!;
      const m1 = sdz / sp;
      const m2 = sdzx / sp;
      // pass 2: dx = g * invStd * (dz - mean(dz) - xhat * mean(dz * xhat))
      const src = slope === null ? dyd : dx;
      for (let i = o; i < end; i++) dx[i] = k * (src[i]! - m1 - xh[i]! * m2);
    }
    return { data: dx, shape: this.shape };
  }
}
