import type { ComputeBackend, Tensor } from '../contracts/backend.js';
import type {
  ConvParams,
  DcCeLossOptions,
  DcCeLossResult,
  DeviceBackend,
  DeviceFloatDType,
  DeviceInfo,
  DeviceInstanceNormOptions,
  DeviceInstanceNormState,
  DeviceMemory,
  DeviceTensor,
  ParamGrads,
  SgdStepOptions,
} from '../contracts/device.js';
import { HostTensor, TensorTracker } from './host-tensor.js';
import { avgPoolBackward, avgPoolForward, instanceNormBackward, instanceNormForward } from './host-norm.js';
import { nearestIndices, sigmoidDcBceLevel, softmaxDcCeLevel } from './host-loss.js';
import { accumulateTile, argmaxChannels, copyWindow, flipSpatial, normalizeWindow } from './host-window.js';

const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Per-channel sums of `[n, c, ...]` over n and space in float64, four independent accumulators per channel
 * (the summation order of the layers this backend replaced, so gradients stay bit-identical).
 */
function channelSums(d: Float32Array, n: number, c: number): Float64Array {
  const sp = d.length / (n * c);
  const out = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    let [s0, s1, s2, s3] = [0, 0, 0, 0];
    for (let b = 0; b < n; b++) {
      const o = (b * c + ch) * sp;
      const end = o + sp;
      let i = o;
      for (; i + 3 < end; i += 4) {
        s0 += d[i]!;
        s1 += d[i + 1]!;
        s2 += d[i + 2]!;
        s3 += d[i + 3]!;
      }
      for (; i < end; i++) s0 += d[i]!;
    }
    out[ch] = s0 + s1 + s2 + s3;
  }
  return out;
}

/** Options of `HostDeviceBackend`. */
export interface HostDeviceOptions {
  /** Registry name, e.g. `cpu-js`, `cpu-native`, `tfjs-cpu`. */
  name: string;
  description?: string;
  threads?: number;
}

/**
 * The device contract on host memory: tensors are `Float32Array`s (`Int32Array` for labels), every op runs in
 * JavaScript except the three convolution kernels, which go to a `ComputeBackend` (the JS reference, the native
 * C++ kernels, tfjs). Reads are synchronous as well as asynchronous. float32 only (`capabilities.dtypes`).
 * This is `cpu-js`, the first `cpu-native` and the tfjs adapters; subclasses override ops with faster kernels.
 * `compute` must be initialised already (`BackendPlugin.create()` does that); `destroy` disposes it.
 */
export class HostDeviceBackend implements DeviceBackend {
  readonly info: DeviceInfo;
  protected readonly tracker = new TensorTracker();

  constructor(readonly compute: ComputeBackend, o: HostDeviceOptions) {
    this.info = {
      name: o.name,
      description: o.description ?? `${o.name}: host memory, convolutions by ${compute.info.description}`,
      gpu: false,
      threads: o.threads ?? compute.info.threads,
      capabilities: { dtypes: ['float32'], syncRead: true },
    };
  }

  destroy(): void {
    this.compute.dispose?.();
  }

  // ------------------------------------------------------------ memory
  /** Wraps `data` (taken over, not copied) as a new tracked tensor. */
  protected wrap(data: Float32Array | Int32Array, shape: readonly number[], dtype: 'float32' | 'int32' = 'float32'): HostTensor {
    if (data.length !== prod(shape)) throw new Error(`${this.info.name}: ${data.length} elements for shape [${shape}]`);
    return this.tracker.track(new HostTensor(this.info.name, shape, dtype, data)) as HostTensor;
  }

  /** The live host tensor behind a handle; throws for a disposed or foreign handle, or a wrong dtype. */
  protected t(x: DeviceTensor, op: string, dtype: 'float' | 'int32' = 'float'): HostTensor {
    if (!(x instanceof HostTensor) || x.backend !== this.info.name) throw new Error(`${op}: tensor of backend '${x.backend}' passed to '${this.info.name}'`);
    if (x.isDisposed) throw new Error(`${op}: tensor [${x.shape}] is disposed`);
    if ((dtype === 'int32') !== (x.dtype === 'int32')) throw new Error(`${op}: expected a ${dtype} tensor, got ${x.dtype}`);
    return x;
  }

  protected f(x: DeviceTensor, op: string): Float32Array {
    return this.t(x, op).data as Float32Array;
  }

  private checkFloat(dtype: DeviceFloatDType | undefined, op: string): void {
    if (dtype && dtype !== 'float32') throw new Error(`${op}: ${this.info.name} computes in float32 only (got ${dtype})`);
  }

  upload(data: Float32Array, shape: readonly number[], dtype?: DeviceFloatDType): DeviceTensor {
    this.checkFloat(dtype, 'upload');
    return this.wrap(Float32Array.from(data), shape);
  }

  uploadLabels(data: Int16Array | Int32Array | Uint8Array, shape: readonly number[]): DeviceTensor {
    return this.wrap(Int32Array.from(data), shape, 'int32');
  }

  zeros(shape: readonly number[], dtype?: DeviceFloatDType, value = 0): DeviceTensor {
    this.checkFloat(dtype, 'zeros');
    const d = new Float32Array(prod(shape));
    if (value !== 0) d.fill(value);
    return this.wrap(d, shape);
  }

  read(x: DeviceTensor): Promise<Float32Array> {
    return Promise.resolve(this.readSync(x));
  }

  readInt(x: DeviceTensor): Promise<Int32Array> {
    return Promise.resolve(Int32Array.from(this.t(x, 'readInt', 'int32').data));
  }

  readSync(x: DeviceTensor): Float32Array {
    return Float32Array.from(this.f(x, 'read'));
  }

  dispose(x: DeviceTensor | readonly (DeviceTensor | null | undefined)[]): void {
    const list = Array.isArray(x) ? (x as (DeviceTensor | null | undefined)[]) : [x as DeviceTensor];
    for (const t of list) if (t instanceof HostTensor) this.tracker.dispose(t);
  }

  beginScope(): void {
    this.tracker.begin();
  }

  endScope(keep: readonly (DeviceTensor | null | undefined)[] = []): void {
    this.tracker.end(keep);
  }

  memory(): DeviceMemory {
    return this.tracker.memory();
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  // ------------------------------------------------------------ elementwise
  add(a: DeviceTensor, b: DeviceTensor): DeviceTensor {
    const x = this.f(a, 'add');
    const y = this.f(b, 'add');
    if (!same(a.shape, b.shape)) throw new Error(`add: shapes [${a.shape}] and [${b.shape}] differ`);
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = x[i]! + y[i]!;
    return this.wrap(out, a.shape);
  }

  axpy(alpha: number, x: DeviceTensor, y: DeviceTensor): void {
    const xs = this.f(x, 'axpy');
    const ys = this.f(y, 'axpy');
    if (xs.length !== ys.length) throw new Error(`axpy: shapes [${x.shape}] and [${y.shape}] differ`);
    if (alpha === 1) for (let i = 0; i < xs.length; i++) ys[i]! += xs[i]!;
    else for (let i = 0; i < xs.length; i++) ys[i]! += alpha * xs[i]!;
  }

  scale(x: DeviceTensor, alpha: number): void {
    const d = this.f(x, 'scale');
    for (let i = 0; i < d.length; i++) d[i]! *= alpha;
  }

  fill(x: DeviceTensor, value: number): void {
    this.f(x, 'fill').fill(value);
  }

  copy(src: DeviceTensor, dst: DeviceTensor): void {
    if (src.size !== dst.size) throw new Error(`copy: sizes ${src.size} and ${dst.size} differ`);
    this.f(dst, 'copy').set(this.f(src, 'copy'));
  }

  cast(x: DeviceTensor, dtype: DeviceFloatDType): DeviceTensor {
    this.checkFloat(dtype, 'cast');
    return this.wrap(Float32Array.from(this.f(x, 'cast')), x.shape);
  }

  // ------------------------------------------------------------ convolution
  protected tensor(x: DeviceTensor, op: string): Tensor {
    return { data: this.f(x, op), shape: [...x.shape] };
  }

  conv(x: DeviceTensor, w: DeviceTensor, bias: DeviceTensor | null, p: ConvParams): DeviceTensor {
    const y = this.compute.conv3d(this.tensor(x, 'conv'), this.tensor(w, 'conv'), bias ? this.f(bias, 'conv') : null, p);
    return this.wrap(y.data, y.shape);
  }

  convBackwardData(dy: DeviceTensor, w: DeviceTensor, xShape: readonly number[], p: ConvParams): DeviceTensor {
    const dx = this.compute.conv3dBackwardData(this.tensor(dy, 'convBackwardData'), this.tensor(w, 'convBackwardData'), [...xShape], p);
    return this.wrap(dx.data, dx.shape);
  }

  convBackwardFilter(x: DeviceTensor, dy: DeviceTensor, p: ConvParams, grads: ParamGrads): void {
    if (grads.weight) {
      const dw = this.compute.conv3dBackwardFilter(this.tensor(x, 'convBackwardFilter'), this.tensor(dy, 'convBackwardFilter'), [...grads.weight.shape], p);
      this.writeGrad(dw.data, grads.weight, grads.accumulate, 'convBackwardFilter');
    }
    if (grads.bias) this.biasGrad(dy, grads.bias, grads.accumulate);
  }

  /** `dst (+)= src` (same length). */
  protected writeGrad(src: Float32Array | Float64Array, dst: DeviceTensor, accumulate: boolean, op: string): void {
    const d = this.f(dst, op);
    if (src.length !== d.length) throw new Error(`${op}: gradient of ${src.length} elements for [${dst.shape}]`);
    if (accumulate) for (let i = 0; i < d.length; i++) d[i]! += src[i]!;
    else for (let i = 0; i < d.length; i++) d[i] = src[i]!;
  }

  addBias(x: DeviceTensor, bias: DeviceTensor): void {
    const d = this.f(x, 'addBias');
    const b = this.f(bias, 'addBias');
    const [n, c] = x.shape as [number, number];
    if (b.length !== c) throw new Error(`addBias: bias [${bias.shape}] for ${c} channels`);
    const sp = d.length / (n * c);
    for (let nc = 0; nc < n * c; nc++) {
      const v = b[nc % c]!;
      for (let i = nc * sp; i < (nc + 1) * sp; i++) d[i]! += v;
    }
  }

  biasGrad(dy: DeviceTensor, grad: DeviceTensor, accumulate: boolean): void {
    const [n, c] = dy.shape as [number, number];
    this.writeGrad(channelSums(this.f(dy, 'biasGrad'), n, c), grad, accumulate, 'biasGrad');
  }

  // ------------------------------------------------------------ normalisation and activation
  instanceNorm(x: DeviceTensor, gamma: DeviceTensor | null, beta: DeviceTensor | null, o: DeviceInstanceNormOptions): { y: DeviceTensor; state: DeviceInstanceNormState | null } {
    const xd = this.f(x, 'instanceNorm');
    const [n, c] = x.shape as [number, number];
    const g = gamma ? this.f(gamma, 'instanceNorm') : null;
    const b = beta ? this.f(beta, 'instanceNorm') : null;
    if ((g && g.length !== c) || (b && b.length !== c)) throw new Error(`instanceNorm: affine parameters for ${c} channels expected`);
    const out = new Float32Array(xd.length);
    const xh = o.training ? new Float32Array(xd.length) : null;
    const inv = o.training ? new Float32Array(n * c) : null;
    instanceNormForward(xd, n, c, g, b, o.eps, o.leakySlope, out, xh, inv);
    const y = this.wrap(out, x.shape);
    return { y, state: xh && inv ? { xhat: this.wrap(xh, x.shape), invStd: this.wrap(inv, [n, c]) } : null };
  }

  instanceNormBackward(dy: DeviceTensor, state: DeviceInstanceNormState, gamma: DeviceTensor | null, beta: DeviceTensor | null, leakySlope: number | undefined, grads: ParamGrads): DeviceTensor {
    const xh = this.f(state.xhat, 'instanceNormBackward');
    if (!same(dy.shape, state.xhat.shape)) throw new Error(`instanceNormBackward: dy [${dy.shape}] vs forward [${state.xhat.shape}]`);
    const [n, c] = dy.shape as [number, number];
    const dx = new Float32Array(xh.length);
    const g = gamma ? this.f(gamma, 'instanceNormBackward') : null;
    const b = beta ? this.f(beta, 'instanceNormBackward') : null;
    const dg = grads.weight ? this.f(grads.weight, 'instanceNormBackward') : null;
    const db = grads.bias ? this.f(grads.bias, 'instanceNormBackward') : null;
    instanceNormBackward(this.f(dy, 'instanceNormBackward'), xh, this.f(state.invStd, 'instanceNormBackward'), n, c, g, b, leakySlope, dx, dg, db, grads.accumulate);
    return this.wrap(dx, dy.shape);
  }

  leakyRelu(x: DeviceTensor, slope: number): DeviceTensor {
    const d = this.f(x, 'leakyRelu');
    const lut = Float64Array.of(slope, 1);
    const out = new Float32Array(d.length);
    for (let i = 0; i < d.length; i++) out[i] = d[i]! * lut[+(d[i]! > 0)]!;
    return this.wrap(out, x.shape);
  }

  leakyReluBackward(dy: DeviceTensor, y: DeviceTensor, slope: number): DeviceTensor {
    const g = this.f(dy, 'leakyReluBackward');
    const yd = this.f(y, 'leakyReluBackward');
    const lut = Float64Array.of(slope, 1);
    const out = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) out[i] = g[i]! * lut[+(yd[i]! > 0)]!;
    return this.wrap(out, dy.shape);
  }

  avgPool(x: DeviceTensor, kernel: [number, number, number]): DeviceTensor {
    const r = avgPoolForward(this.f(x, 'avgPool'), x.shape, kernel);
    return this.wrap(r.data, r.shape);
  }

  avgPoolBackward(dy: DeviceTensor, kernel: [number, number, number], xShape: readonly number[]): DeviceTensor {
    return this.wrap(avgPoolBackward(this.f(dy, 'avgPoolBackward'), xShape, kernel), xShape);
  }

  // ------------------------------------------------------------ channels
  concatChannels(xs: readonly DeviceTensor[]): DeviceTensor {
    const [n, , ...sp] = xs[0]!.shape as number[];
    for (const x of xs) if (x.shape[0] !== n || !same(x.shape.slice(2), sp)) throw new Error(`concatChannels: shapes ${xs.map((t) => `[${t.shape}]`).join(', ')} differ outside the channel axis`);
    const c = xs.reduce((a, x) => a + x.shape[1]!, 0);
    const out = new Float32Array(n! * c * prod(sp));
    let o = 0;
    for (let b = 0; b < n!; b++)
      for (const x of xs) {
        const per = x.size / n!;
        out.set(this.f(x, 'concatChannels').subarray(b * per, (b + 1) * per), o);
        o += per;
      }
    return this.wrap(out, [n!, c, ...sp]);
  }

  splitChannels(x: DeviceTensor, sizes: readonly number[]): DeviceTensor[] {
    const [n, c, ...sp] = x.shape as number[];
    if (sizes.reduce((a, b) => a + b, 0) !== c) throw new Error(`splitChannels: sizes [${sizes}] do not sum to ${c}`);
    const d = this.f(x, 'splitChannels');
    const v = prod(sp);
    const outs = sizes.map((s) => new Float32Array(n! * s * v));
    let o = 0;
    for (let b = 0; b < n!; b++)
      sizes.forEach((s, i) => {
        outs[i]!.set(d.subarray(o, o + s * v), b * s * v);
        o += s * v;
      });
    return outs.map((a, i) => this.wrap(a, [n!, sizes[i]!, ...sp]));
  }

  softmax(x: DeviceTensor): DeviceTensor {
    const d = this.f(x, 'softmax');
    const [n, K] = x.shape.length === 4 ? [1, x.shape[0]!] : [x.shape[0]!, x.shape[1]!];
    const sp = d.length / (n * K);
    const out = new Float32Array(d.length);
    for (let b = 0; b < n; b++)
      for (let v = 0; v < sp; v++) {
        const base = b * K * sp + v;
        let m = -Infinity;
        for (let k = 0; k < K; k++) m = Math.max(m, d[base + k * sp]!);
        let z = 0;
        for (let k = 0; k < K; k++) z += Math.exp(d[base + k * sp]! - m);
        for (let k = 0; k < K; k++) out[base + k * sp] = Math.exp(d[base + k * sp]! - m) / z;
      }
    return this.wrap(out, x.shape);
  }

  sigmoid(x: DeviceTensor): DeviceTensor {
    return this.wrap(this.f(x, 'sigmoid').map((v) => 1 / (1 + Math.exp(-v))), x.shape);
  }

  // ------------------------------------------------------------ loss
  downsampleLabels(labels: DeviceTensor, outShape: readonly number[]): DeviceTensor {
    const src = this.t(labels, 'downsampleLabels', 'int32').data;
    const [n, c, d, h, w] = labels.shape as [number, number, number, number, number];
    const [, , od, oh, ow] = outShape as [number, number, number, number, number];
    if (outShape[0] !== n || outShape[1] !== c) throw new Error(`downsampleLabels: [${labels.shape}] -> [${outShape}]`);
    const [iz, iy, ix] = [nearestIndices(d, od), nearestIndices(h, oh), nearestIndices(w, ow)];
    const out = new Int32Array(n * c * od * oh * ow);
    let o = 0;
    for (let b = 0; b < n * c; b++)
      for (let z = 0; z < od; z++)
        for (let y = 0; y < oh; y++) {
          const row = ((b * d + iz[z]!) * h + iy[y]!) * w;
          for (let x = 0; x < ow; x++) out[o++] = src[row + ix[x]!]!;
        }
    return this.wrap(out, outShape, 'int32');
  }

  dcCeLoss(logits: readonly DeviceTensor[], targets: readonly DeviceTensor[], o: DcCeLossOptions): DcCeLossResult {
    if (targets.length !== logits.length || o.weights.length < logits.length) throw new Error(`dcCeLoss: ${logits.length} outputs, ${targets.length} targets, ${o.weights.length} weights`);
    const v = new Float32Array(3);
    let [loss, ce, dice] = [0, 0, 0];
    const grads = logits.map((lg, l) => {
      const w = o.weights[l]!;
      if (!w) return null;
      const t = targets[l]!;
      if (t.shape[0] !== lg.shape[0] || !same(t.shape.slice(2), lg.shape.slice(2))) throw new Error(`dcCeLoss: target [${t.shape}] does not match logits [${lg.shape}] at level ${l}`);
      const g = new Float32Array(lg.size);
      const lo = { batchDice: o.batchDice, doBackground: o.doBackground, smooth: o.smooth, ignoreLabel: o.ignoreLabel, scale: w * (o.lossScale ?? 1), weightCe: o.weightCe, weightDice: o.weightDice };
      const x = this.f(lg, 'dcCeLoss');
      const ti = this.t(t, 'dcCeLoss', 'int32').data as Int32Array;
      const r = o.regions ? sigmoidDcBceLevel(x, ti, lg.shape[0]!, o.regions, lo, g) : softmaxDcCeLevel(x, ti, lg.shape[0]!, lg.shape[1]!, lo, g);
      loss += w * r.loss;
      ce += w * (o.weightCe ?? 1) * r.ce;
      dice += w * (o.weightDice ?? 1) * r.dice;
      return this.wrap(g, lg.shape);
    });
    v.set([loss, ce, dice]);
    return { values: this.wrap(v, [3]), grads };
  }

  // ------------------------------------------------------------ optimiser
  clipGradNorm(grads: readonly DeviceTensor[], maxNorm: number, invScale: number): DeviceTensor {
    const gs = grads.map((g) => this.f(g, 'clipGradNorm'));
    if (invScale !== 1) for (const g of gs) for (let i = 0; i < g.length; i++) g[i]! *= invScale;
    let s = 0;
    for (const g of gs) for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
    const norm = Math.sqrt(s);
    const finite = Number.isFinite(norm);
    const coef = maxNorm / (norm + 1e-6);
    if (finite && coef < 1) for (const g of gs) for (let i = 0; i < g.length; i++) g[i]! *= coef;
    return this.wrap(Float32Array.of(norm, finite ? 1 : 0), [2]);
  }

  sgdStep(params: readonly DeviceTensor[], grads: readonly DeviceTensor[], momenta: readonly DeviceTensor[], decay: readonly boolean[], o: SgdStepOptions, guard?: DeviceTensor): void {
    if (guard && this.f(guard, 'sgdStep')[1] === 0) return;
    const { momentum: mu, nesterov, weightDecay, lr } = o;
    params.forEach((pt, k) => {
      const v = this.f(pt, 'sgdStep');
      const gr = this.f(grads[k]!, 'sgdStep');
      const buf = this.f(momenta[k]!, 'sgdStep');
      if (gr.length !== v.length || buf.length !== v.length) throw new Error(`sgdStep: parameter ${k} [${pt.shape}] has mismatched gradient or momentum`);
      const wd = decay[k] ? weightDecay : 0;
      for (let i = 0; i < v.length; i++) {
        const g = gr[i]! + wd * v[i]!;
        const b = mu * buf[i]! + g;
        buf[i] = b;
        v[i]! -= lr * (nesterov ? g + mu * b : b);
      }
    });
  }

  // ------------------------------------------------------------ sliding window
  flip(x: DeviceTensor, axes: readonly number[]): DeviceTensor {
    const [Z, Y, X] = x.shape.slice(-3) as [number, number, number];
    const src = this.t(x, 'flip', x.dtype === 'int32' ? 'int32' : 'float').data;
    return this.wrap(flipSpatial(src, x.size / (Z * Y * X), Z, Y, X, axes), x.shape, x.dtype === 'int32' ? 'int32' : 'float32');
  }

  crop(x: DeviceTensor, starts: readonly (readonly number[])[], size: readonly number[]): DeviceTensor {
    const [n, c, ...dims] = x.shape as number[];
    if (n !== 1 || dims.length !== 3) throw new Error(`crop: x must be [1, c, z, y, x], got [${x.shape}]`);
    const src = this.f(x, 'crop');
    const per = c! * prod(size);
    const out = new Float32Array(starts.length * per);
    starts.forEach((st, b) => {
      if (st.some((s, i) => s < 0 || s + size[i]! > dims[i]!)) throw new Error(`crop: window [${st}] + [${size}] outside [${dims}]`);
      copyWindow(src, 0, dims, st, size, c!, out, b * per);
    });
    return this.wrap(out, [starts.length, c!, ...size]);
  }

  accumulateTiles(acc: DeviceTensor, weight: DeviceTensor, tile: DeviceTensor, gauss: DeviceTensor, starts: readonly (readonly number[])[], scale: number): void {
    const [K, ...dims] = acc.shape as number[];
    const [B, Kt, ...patch] = tile.shape as number[];
    if (Kt !== K || B !== starts.length || !same(gauss.shape, patch)) throw new Error(`accumulateTiles: acc [${acc.shape}], tile [${tile.shape}], gauss [${gauss.shape}], ${starts.length} starts`);
    const [a, w, t, g] = [this.f(acc, 'accumulateTiles'), this.f(weight, 'accumulateTiles'), this.f(tile, 'accumulateTiles'), this.f(gauss, 'accumulateTiles')];
    starts.forEach((st, b) => accumulateTile(a, w, dims, K!, t, b * K! * prod(patch), g, patch, st, scale));
  }

  normalizeAccumulator(acc: DeviceTensor, weight: DeviceTensor, start: readonly number[], size: readonly number[]): DeviceTensor {
    const [K, ...dims] = acc.shape as number[];
    return this.wrap(normalizeWindow(this.f(acc, 'normalizeAccumulator'), this.f(weight, 'normalizeAccumulator'), dims, K!, start, size), [K!, ...size]);
  }

  argmax(x: DeviceTensor): DeviceTensor {
    const K = x.shape[0]!;
    return this.wrap(argmaxChannels(this.f(x, 'argmax'), K), [1, ...x.shape.slice(1)], 'int32');
  }
}
