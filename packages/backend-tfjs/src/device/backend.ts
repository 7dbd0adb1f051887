/**
 * `TfjsDeviceBackend`: the device-resident compute contract (`DeviceBackend`, core) on tfjs tensors, so a tfjs
 * backend that keeps tensors on a device (tfjs-node-gpu's CUDA libtensorflow, tfjs-backend-webgpu) runs a whole
 * training step and sliding window with nothing copied per op. Every op is a few tfjs ops inside `tf.tidy`;
 * in-place ops swap the handle's tensor. Runs on the process-wide tfjs backend (set by the plugin).
 */
import type {
  ConvParams, DcCeLossOptions, DcCeLossResult, DeviceBackend, DeviceFloatDType, DeviceInfo, DeviceInstanceNormOptions,
  DeviceInstanceNormState, DeviceMemory, DeviceTensor, ParamGrads, SgdStepOptions,
} from '@nnunet-ts/core';
import { TfHandle, type Tf, type TfTensor } from './handle.js';
import { convBackwardData, convBackwardFilter, convForward } from './conv.js';
import { dcCeLevel, nearestIndices } from './loss.js';
import { TfjsDeviceBase } from './base.js';

type T = DeviceTensor;
const SP = [2, 3, 4];

/** Options: `emulateBackward` for tfjs backends whose Conv3D backward kernels are wrong (tfjs-wasm 4.22). */
export interface TfjsDeviceOptions {
  emulateBackward?: boolean;
}

/** The contract on tfjs ops; `info.name` names the registry entry (`tensorflow`, `tfjs-cpu`, ...). */
export class TfjsDeviceBackend extends TfjsDeviceBase implements DeviceBackend {
  constructor(tf: Tf, info: Omit<DeviceInfo, 'capabilities'> & { capabilities?: DeviceInfo['capabilities'] }, private readonly opts: TfjsDeviceOptions = {}) {
    super(tf, { ...info, capabilities: info.capabilities ?? { dtypes: ['float32'], syncRead: false } });
  }

  conv(x: T, w: T, bias: T | null, p: ConvParams): T {
    this.checkConv('conv', x.shape, w.shape);
    return this.wrap(convForward(this.tf, this.t(x, 'conv'), this.t(w, 'conv'), bias ? this.t(bias, 'conv') : null, p));
  }

  convBackwardData(dy: T, w: T, xShape: readonly number[], p: ConvParams): T {
    this.checkConv('convBackwardData', xShape, w.shape);
    return this.wrap(convBackwardData(this.tf, this.t(dy, 'convBackwardData'), this.t(w, 'convBackwardData'), xShape, p, !!this.opts.emulateBackward));
  }

  convBackwardFilter(x: T, dy: T, p: ConvParams, grads: ParamGrads): void {
    if (grads.weight) {
      const dw = convBackwardFilter(this.tf, this.t(x, 'convBackwardFilter'), this.t(dy, 'convBackwardFilter'), grads.weight.shape, p, !!this.opts.emulateBackward);
      this.assign(grads.weight, dw, grads.accumulate);
    }
    if (grads.bias) this.biasGrad(dy, grads.bias, grads.accumulate);
  }

  addBias(x: T, bias: T): void {
    const h = this.h(x, 'addBias');
    h.swap(this.tf.tidy(() => this.tf.add(h.t, this.tf.reshape(this.t(bias, 'addBias'), [1, -1, 1, 1, 1]))));
  }

  biasGrad(dy: T, grad: T, accumulate: boolean): void {
    this.assign(grad, this.tf.sum(this.t(dy, 'biasGrad'), [0, ...SP]), accumulate);
  }

  instanceNorm(x: T, gamma: T | null, beta: T | null, o: DeviceInstanceNormOptions): { y: T; state: DeviceInstanceNormState | null } {
    const tf = this.tf;
    const [n, c] = [x.shape[0]!, x.shape[1]!];
    const r = tf.tidy(() => {
      const xt = this.t(x, 'instanceNorm');
      const { mean, variance } = tf.moments(xt, SP, true);
      const inv = tf.rsqrt(tf.add(variance, o.eps));
      const xhat = tf.mul(tf.sub(xt, mean), inv);
      const z = this.affine(xhat, gamma, beta);
      const y = o.leakySlope === undefined ? z : tf.where(tf.greater(z, 0), z, tf.mul(z, o.leakySlope));
      return { y, xhat, inv: tf.reshape(inv, [n, c]) };
    });
    if (!o.training) {
      r.xhat.dispose();
      r.inv.dispose();
      return { y: this.wrap(r.y), state: null };
    }
    return { y: this.wrap(r.y), state: { xhat: this.wrap(r.xhat), invStd: this.wrap(r.inv) } };
  }

  private affine(xhat: TfTensor, gamma: T | null, beta: T | null): TfTensor {
    let z = xhat;
    if (gamma) z = this.tf.mul(z, this.tf.reshape(this.t(gamma, 'instanceNorm'), [1, -1, 1, 1, 1]));
    if (beta) z = this.tf.add(z, this.tf.reshape(this.t(beta, 'instanceNorm'), [1, -1, 1, 1, 1]));
    return z;
  }

  instanceNormBackward(dy: T, state: DeviceInstanceNormState, gamma: T | null, beta: T | null, leakySlope: number | undefined, grads: ParamGrads): T {
    const tf = this.tf;
    const r = tf.tidy(() => {
      const xhat = this.t(state.xhat, 'instanceNormBackward');
      const dyt = this.t(dy, 'instanceNormBackward');
      const z = this.affine(xhat, gamma, beta);
      const dz = leakySlope === undefined ? dyt : tf.where(tf.greater(z, 0), dyt, tf.mul(dyt, leakySlope));
      const inv = tf.reshape(this.t(state.invStd, 'instanceNormBackward'), [dy.shape[0]!, dy.shape[1]!, 1, 1, 1]);
      const m = tf.mean(dz, SP, true);
      const mx = tf.mean(tf.mul(dz, xhat), SP, true);
      let dx = tf.mul(inv, tf.sub(tf.sub(dz, m), tf.mul(xhat, mx)));
      if (gamma) dx = tf.mul(dx, tf.reshape(this.t(gamma, 'instanceNormBackward'), [1, -1, 1, 1, 1]));
      return { dx, dg: tf.sum(tf.mul(dz, xhat), [0, ...SP]), db: tf.sum(dz, [0, ...SP]) };
    });
    if (grads.weight) this.assign(grads.weight, r.dg, grads.accumulate);
    else r.dg.dispose();
    if (grads.bias) this.assign(grads.bias, r.db, grads.accumulate);
    else r.db.dispose();
    return this.wrap(r.dx);
  }

  leakyRelu(x: T, slope: number): T {
    const xt = this.t(x, 'leakyRelu');
    return this.wrap(this.tf.tidy(() => this.tf.where(this.tf.greater(xt, 0), xt, this.tf.mul(xt, slope))));
  }

  leakyReluBackward(dy: T, y: T, slope: number): T {
    const [d, yt] = [this.t(dy, 'leakyReluBackward'), this.t(y, 'leakyReluBackward')];
    return this.wrap(this.tf.tidy(() => this.tf.where(this.tf.greater(yt, 0), d, this.tf.mul(d, slope))));
  }

  downsampleLabels(labels: T, outShape: readonly number[]): T {
    const tf = this.tf;
    return this.wrap(tf.tidy(() => {
      let l = this.t(labels, 'downsampleLabels');
      for (let a = 2; a < 5; a++) l = tf.gather(l, tf.tensor1d(nearestIndices(l.shape[a]!, outShape[a]!), 'int32'), a);
      return l;
    }));
  }

  dcCeLoss(logits: readonly T[], targets: readonly T[], o: DcCeLossOptions): DcCeLossResult {
    const tf = this.tf;
    if (logits.length !== targets.length || logits.length !== o.weights.length) throw new Error('tfjs.dcCeLoss: logits, targets and weights differ in number');
    let total: TfTensor = tf.zeros([3]);
    const grads = logits.map((l, i) => {
      const w = o.weights[i]!;
      if (w === 0) return null;
      const lv = { batchDice: o.batchDice, doBackground: o.doBackground, smooth: o.smooth, ignoreLabel: o.ignoreLabel, regions: o.regions, scale: w * (o.lossScale ?? 1), weightCe: o.weightCe, weightDice: o.weightDice };
      const r = dcCeLevel(tf, this.t(l, 'dcCeLoss'), this.t(targets[i]!, 'dcCeLoss'), lv);
      const next = tf.tidy(() => tf.add(total, tf.mul(r.values, w)));
      total.dispose();
      r.values.dispose();
      total = next;
      return this.wrap(r.grad);
    });
    return { values: this.wrap(total), grads };
  }

  clipGradNorm(grads: readonly T[], maxNorm: number, invScale: number): T {
    const tf = this.tf;
    if (invScale !== 1) for (const g of grads) this.scale(g, invScale);
    const r = tf.tidy(() => {
      const sq = grads.map((g) => tf.sum(tf.square(this.t(g, 'clipGradNorm'))));
      const norm = tf.sqrt(tf.addN(sq));
      const finite = tf.cast(tf.isFinite(norm), 'float32');
      const factor = tf.where(tf.isFinite(norm), tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6))), tf.scalar(1));
      return { res: tf.stack([norm, finite]), factor };
    });
    for (const g of grads) {
      const h = this.h(g, 'clipGradNorm');
      h.swap(tf.mul(h.t, r.factor));
    }
    r.factor.dispose();
    return this.wrap(r.res);
  }

  sgdStep(params: readonly T[], grads: readonly T[], momenta: readonly T[], decay: readonly boolean[], o: SgdStepOptions, guard?: T): void {
    const tf = this.tf;
    const ok = guard ? tf.tidy(() => tf.greater(tf.slice(this.t(guard, 'sgdStep'), [1], [1]), 0.5)) : null;
    params.forEach((p, i) => {
      const [ph, mh] = [this.h(p, 'sgdStep'), this.h(momenta[i]!, 'sgdStep')];
      const r = tf.tidy(() => {
        const wd = decay[i] ? o.weightDecay : 0;
        const g = tf.add(this.t(grads[i]!, 'sgdStep'), tf.mul(ph.t, wd));
        const buf = tf.add(tf.mul(mh.t, o.momentum), g);
        const step = o.nesterov ? tf.add(g, tf.mul(buf, o.momentum)) : buf;
        const np = tf.sub(ph.t, tf.mul(step, o.lr));
        return ok ? { p: tf.where(ok, np, ph.t), m: tf.where(ok, buf, mh.t) } : { p: np, m: buf };
      });
      ph.swap(r.p);
      mh.swap(r.m);
    });
    ok?.dispose();
  }

  /** Writes `v` into `dst` (adds when `accumulate`); takes ownership of `v`. */
  private assign(dst: T, v: TfTensor, accumulate: boolean): void {
    const h = this.h(dst, 'assign');
    if (accumulate) {
      const s = this.tf.add(h.t, v);
      v.dispose();
      h.swap(s);
    } else {
      const r = this.tf.reshape(v, h.t.shape);
      v.dispose();
      h.swap(r);
    }
  }

  private checkConv(op: string, x: readonly number[], w: readonly number[]): void {
    if (x.length !== 5 || w.length !== 5 || x[1] !== w[1]) {
      throw new Error(`tfjs.${op}: x [${x.join(', ')}] and w [${w.join(', ')}] must be [n, cIn, z, y, x] and [cOut, cIn, kz, ky, kx]`);
    }
  }

  /** Wraps a tfjs tensor as a handle of this backend. */
  protected override wrap(t: TfTensor): TfHandle {
    return super.wrap(t);
  }
}

export type { DeviceFloatDType, DeviceMemory };
