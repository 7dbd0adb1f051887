import {
  HostDeviceBackend,
  HostTensor,
  TensorTracker,
  type ConvParams,
  type DcCeLossOptions,
  type DcCeLossResult,
  type DeviceBackend,
  type DeviceFloatDType,
  type DeviceInstanceNormOptions,
  type DeviceInstanceNormState,
  type DeviceTensor,
  type ParamGrads,
  type SgdStepOptions,
} from '@nnunet-ts/core';
import { geometry, outShape } from './geometry.js';
import { createCpuNativeBackend, loadAddon, type CpuNativeOptions, type NativeAddon } from './native.js';

const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Recycles the storage of disposed tensors (by element count and type) so that a training step reuses the
 * previous step's buffers instead of asking the OS for fresh zeroed pages (hundreds of MB per step at batch 9).
 * Recycled arrays are not zeroed: every op that takes one writes all of it. At most `capBytes` are held.
 */
export class BufferPool {
  private readonly free = new Map<string, (Float32Array | Int32Array)[]>();
  private held = 0;

  /** @param capBytes most bytes held for reuse (may be changed later). */
  constructor(public capBytes: number) {}

  /** A Float32Array / Int32Array of n elements, recycled when one is held (contents undefined). */
  take(n: number, type: 'f' | 'i' = 'f'): Float32Array | Int32Array {
    const list = this.free.get(`${type}${n}`);
    const a = list?.pop();
    if (a) {
      this.held -= a.byteLength;
      return a;
    }
    return type === 'f' ? new Float32Array(n) : new Int32Array(n);
  }

  /** Keeps `a` for reuse when it owns its whole buffer and the cap allows. */
  give(a: Float32Array | Int32Array): void {
    if (a.length === 0 || a.byteOffset !== 0 || a.byteLength !== a.buffer.byteLength || this.held + a.byteLength > this.capBytes) return;
    const key = `${a instanceof Float32Array ? 'f' : 'i'}${a.length}`;
    const list = this.free.get(key) ?? [];
    list.push(a);
    this.free.set(key, list);
    this.held += a.byteLength;
  }

  /** Drops every held buffer. */
  clear(): void {
    this.free.clear();
    this.held = 0;
  }
}

/** A TensorTracker that hands the storage of every disposed tensor (direct or by a scope) to a BufferPool. */
class PoolingTracker extends TensorTracker {
  constructor(private readonly pool: BufferPool) {
    super();
  }

  override dispose(t: HostTensor): void {
    if (t.isDisposed) return;
    const data = t.data;
    super.dispose(t);
    this.pool.give(data);
  }
}

/** Options of the cpu-native device. */
export interface CpuNativeDeviceOptions extends CpuNativeOptions {
  /** Bytes of disposed tensor storage kept for reuse (default 1 GiB). */
  poolBytes?: number;
}

/**
 * `cpu-native` on the device contract: host-memory tensors (`Float32Array` / `Int32Array`, recycled through a
 * buffer pool) and every op of a training step and of the sliding window in the native C++ kernels
 * (native/ops.h, conv.h): convolutions, instance norm with the fused LeakyReLU, softmax + Dice/CE with deep
 * supervision, label downsampling, gradient clipping, SGD, mirroring, tile crops and accumulation, accumulator
 * normalisation, argmax; multi-threaded
 * over the addon's pool and vectorised for the CPU's instruction set. Rare ops (region-based BCE loss, average
 * pooling, sigmoid, int32 flips) keep `HostDeviceBackend`'s JavaScript.
 * Throws `Error` when the addon is not built.
 */
export class CpuNativeDevice extends HostDeviceBackend {
  private readonly addon: NativeAddon;
  private readonly pool = new BufferPool(2 ** 30);
  protected override readonly tracker: TensorTracker = new PoolingTracker(this.pool);

  constructor(opts: CpuNativeDeviceOptions = {}) {
    const compute = createCpuNativeBackend(opts);
    super(compute, { name: 'cpu-native', description: `${compute.info.description}; every training and inference op native` });
    this.addon = loadAddon()!;
    if (opts.poolBytes !== undefined) this.pool.capBytes = opts.poolBytes;
  }

  override destroy(): void {
    this.pool.clear();
    super.destroy();
  }

  /** A new float tensor of `shape` on recycled storage (contents undefined: the caller writes all of it). */
  private out(shape: readonly number[]): { t: DeviceTensor; d: Float32Array } {
    const d = this.pool.take(prod(shape)) as Float32Array;
    return { t: this.wrap(d, shape), d };
  }

  override zeros(shape: readonly number[], dtype?: DeviceFloatDType, value = 0): DeviceTensor {
    if (dtype && dtype !== 'float32') return super.zeros(shape, dtype, value);
    const { t, d } = this.out(shape);
    d.fill(value);
    return t;
  }

  override upload(data: Float32Array, shape: readonly number[], dtype?: DeviceFloatDType): DeviceTensor {
    if ((dtype && dtype !== 'float32') || data.length !== prod(shape)) return super.upload(data, shape, dtype);
    const { t, d } = this.out(shape);
    d.set(data);
    return t;
  }

  // ------------------------------------------------------------ elementwise
  override add(a: DeviceTensor, b: DeviceTensor): DeviceTensor {
    const x = this.f(a, 'add');
    const y = this.f(b, 'add');
    if (!same(a.shape, b.shape)) throw new Error(`add: shapes [${a.shape}] and [${b.shape}] differ`);
    const { t, d } = this.out(a.shape);
    d.set(x);
    this.addon.axpby(y, d, 1, 1);
    return t;
  }

  override axpy(alpha: number, x: DeviceTensor, y: DeviceTensor): void {
    const xs = this.f(x, 'axpy');
    const ys = this.f(y, 'axpy');
    if (xs.length !== ys.length) throw new Error(`axpy: shapes [${x.shape}] and [${y.shape}] differ`);
    this.addon.axpby(xs, ys, alpha, 1);
  }

  override scale(x: DeviceTensor, alpha: number): void {
    this.addon.scale([this.f(x, 'scale')], alpha);
  }

  // ------------------------------------------------------------ convolution
  override conv(x: DeviceTensor, w: DeviceTensor, bias: DeviceTensor | null, p: ConvParams): DeviceTensor {
    const g = geometry([...x.shape], [...w.shape], p);
    const b = bias ? this.f(bias, 'conv') : null;
    if (b && b.length !== w.shape[0]) throw new Error(`conv: bias has ${b.length} values, cOut is ${w.shape[0]}`);
    const { t, d } = this.out(outShape(g));
    this.addon.forward(this.f(x, 'conv'), this.f(w, 'conv'), b, d, g);
    return t;
  }

  override convBackwardData(dy: DeviceTensor, w: DeviceTensor, xShape: readonly number[], p: ConvParams): DeviceTensor {
    const g = geometry([...xShape], [...w.shape], p);
    if (!same(dy.shape, outShape(g))) throw new Error(`convBackwardData: dy [${dy.shape}], the convolution produces [${outShape(g)}]`);
    const { t, d } = this.out(xShape);
    this.addon.backwardData(this.f(dy, 'convBackwardData'), this.f(w, 'convBackwardData'), d, g);
    return t;
  }

  override convBackwardFilter(x: DeviceTensor, dy: DeviceTensor, p: ConvParams, grads: ParamGrads): void {
    if (grads.weight) {
      const g = geometry([...x.shape], [...grads.weight.shape], p);
      if (!same(dy.shape, outShape(g))) throw new Error(`convBackwardFilter: dy [${dy.shape}], the convolution produces [${outShape(g)}]`);
      this.addon.backwardFilter(this.f(x, 'convBackwardFilter'), this.f(dy, 'convBackwardFilter'), this.f(grads.weight, 'convBackwardFilter'), g, grads.accumulate);
    }
    if (grads.bias) this.biasGrad(dy, grads.bias, grads.accumulate);
  }

  /** `[n, c, spatial]` of an activation (rank 5, or rank 4 without the batch axis). */
  private ncs(x: DeviceTensor, op: string): [number, number, number] {
    if (x.shape.length === 4) return [1, x.shape[0]!, prod(x.shape.slice(1))];
    if (x.shape.length < 2) throw new Error(`${op}: expected [n, c, ...], got [${x.shape}]`);
    return [x.shape[0]!, x.shape[1]!, prod(x.shape.slice(2))];
  }

  override addBias(x: DeviceTensor, bias: DeviceTensor): void {
    const [n, c, s] = this.ncs(x, 'addBias');
    const b = this.f(bias, 'addBias');
    if (b.length !== c) throw new Error(`addBias: bias [${bias.shape}] for ${c} channels`);
    this.addon.biasAdd(this.f(x, 'addBias'), b, n, c, s);
  }

  override biasGrad(dy: DeviceTensor, grad: DeviceTensor, accumulate: boolean): void {
    const [n, c, s] = this.ncs(dy, 'biasGrad');
    const g = this.f(grad, 'biasGrad');
    if (g.length !== c) throw new Error(`biasGrad: gradient [${grad.shape}] for ${c} channels`);
    this.addon.channelSum(this.f(dy, 'biasGrad'), g, n, c, s, accumulate);
  }

  // ------------------------------------------------------------ normalisation and activation
  override instanceNorm(x: DeviceTensor, gamma: DeviceTensor | null, beta: DeviceTensor | null, o: DeviceInstanceNormOptions): { y: DeviceTensor; state: DeviceInstanceNormState | null } {
    const [n, c, s] = this.ncs(x, 'instanceNorm');
    const g = gamma ? this.f(gamma, 'instanceNorm') : null;
    const b = beta ? this.f(beta, 'instanceNorm') : null;
    if ((g && g.length !== c) || (b && b.length !== c)) throw new Error(`instanceNorm: affine parameters for ${c} channels expected`);
    const y = this.out(x.shape);
    const xh = o.training ? this.out(x.shape) : null;
    const inv = o.training ? this.out([n, c]) : null;
    const act = o.leakySlope === undefined ? 0 : 1;
    this.addon.instanceNormForward(this.f(x, 'instanceNorm'), g, b, y.d, xh?.d ?? null, null, inv?.d ?? null, n, c, s, o.eps, o.leakySlope ?? 0, act);
    return { y: y.t, state: xh && inv ? { xhat: xh.t, invStd: inv.t } : null };
  }

  override instanceNormBackward(dy: DeviceTensor, state: DeviceInstanceNormState, gamma: DeviceTensor | null, beta: DeviceTensor | null, leakySlope: number | undefined, grads: ParamGrads): DeviceTensor {
    const op = 'instanceNormBackward';
    if (!same(dy.shape, state.xhat.shape)) throw new Error(`${op}: dy [${dy.shape}] vs forward [${state.xhat.shape}]`);
    const [n, c, s] = this.ncs(dy, op);
    const g = gamma ? this.f(gamma, op) : null;
    const b = beta ? this.f(beta, op) : null;
    const dg = grads.weight ? this.f(grads.weight, op) : null;
    const db = grads.bias ? this.f(grads.bias, op) : null;
    if ((g && g.length !== c) || (b && b.length !== c) || (dg && dg.length !== c) || (db && db.length !== c)) throw new Error(`${op}: affine parameters / gradients for ${c} channels expected`);
    const dx = this.out(dy.shape);
    const act = leakySlope === undefined ? 0 : 1;
    this.addon.instanceNormBackward(this.f(state.xhat, op), g, b, null, this.f(state.invStd, op), this.f(dy, op), dx.d, dg, db, n, c, s, leakySlope ?? 0, act, grads.accumulate);
    return dx.t;
  }

  override leakyRelu(x: DeviceTensor, slope: number): DeviceTensor {
    const { t, d } = this.out(x.shape);
    this.addon.leakyReluForward(this.f(x, 'leakyRelu'), d, slope);
    return t;
  }

  override leakyReluBackward(dy: DeviceTensor, y: DeviceTensor, slope: number): DeviceTensor {
    if (!same(dy.shape, y.shape)) throw new Error(`leakyReluBackward: dy [${dy.shape}] and y [${y.shape}] differ`);
    const { t, d } = this.out(dy.shape);
    this.addon.leakyReluBackward(this.f(y, 'leakyReluBackward'), this.f(dy, 'leakyReluBackward'), d, slope);
    return t;
  }

  // ------------------------------------------------------------ channels
  override concatChannels(xs: readonly DeviceTensor[]): DeviceTensor {
    const [n, , ...sp] = xs[0]!.shape as number[];
    for (const x of xs) if (x.shape[0] !== n || !same(x.shape.slice(2), sp)) throw new Error(`concatChannels: shapes ${xs.map((t) => `[${t.shape}]`).join(', ')} differ outside the channel axis`);
    const c = xs.reduce((a, x) => a + x.shape[1]!, 0);
    const { t, d } = this.out([n!, c, ...sp]);
    this.addon.concatChannels(xs.map((x) => this.f(x, 'concatChannels')), n!, prod(sp), d);
    return t;
  }

  override splitChannels(x: DeviceTensor, sizes: readonly number[]): DeviceTensor[] {
    const [n, c, ...sp] = x.shape as number[];
    if (sizes.reduce((a, b) => a + b, 0) !== c) throw new Error(`splitChannels: sizes [${sizes}] do not sum to ${c}`);
    const outs = sizes.map((s) => this.out([n!, s, ...sp]));
    this.addon.splitChannels(this.f(x, 'splitChannels'), outs.map((o) => o.d), n!, prod(sp));
    return outs.map((o) => o.t);
  }

  override softmax(x: DeviceTensor): DeviceTensor {
    const [n, c, s] = this.ncs(x, 'softmax');
    const { t, d } = this.out(x.shape);
    this.addon.softmax(this.f(x, 'softmax'), d, n, c, s);
    return t;
  }

  // ------------------------------------------------------------ loss
  override downsampleLabels(labels: DeviceTensor, outShape: readonly number[]): DeviceTensor {
    const src = this.t(labels, 'downsampleLabels', 'int32').data as Int32Array;
    const [n, c, d, h, w] = labels.shape as [number, number, number, number, number];
    if (labels.shape.length !== 5 || outShape.length !== 5 || outShape[0] !== n || outShape[1] !== c) throw new Error(`downsampleLabels: [${labels.shape}] -> [${outShape}]`);
    const out = this.pool.take(prod(outShape), 'i') as Int32Array;
    this.addon.resizeNearest(src, out, n * c, d, h, w, outShape[2]!, outShape[3]!, outShape[4]!);
    return this.wrap(out, outShape, 'int32');
  }

  override dcCeLoss(logits: readonly DeviceTensor[], targets: readonly DeviceTensor[], o: DcCeLossOptions): DcCeLossResult {
    if (o.regions) return super.dcCeLoss(logits, targets, o);
    if (targets.length !== logits.length || o.weights.length < logits.length) throw new Error(`dcCeLoss: ${logits.length} outputs, ${targets.length} targets, ${o.weights.length} weights`);
    let [loss, ce, dice] = [0, 0, 0];
    const grads = logits.map((lg, l) => {
      const w = o.weights[l]!;
      if (!w) return null;
      const r = this.dcCeLevel(lg, targets[l]!, o, w * (o.lossScale ?? 1));
      const [wc, wd] = [(o.weightCe ?? 1) * r.ce, (o.weightDice ?? 1) * r.dice];
      loss += w * (wc + wd);
      ce += w * wc;
      dice += w * wd;
      return r.grad;
    });
    const v = this.out([3]);
    v.d.set([loss, ce, dice]);
    return { values: v.t, grads };
  }

  /** One softmax level of `dcCeLoss` (see host-loss.ts for the arithmetic): native sums and gradient. */
  private dcCeLevel(lg: DeviceTensor, t: DeviceTensor, o: DcCeLossOptions, scale: number): { ce: number; dice: number; grad: DeviceTensor } {
    if (lg.shape.length !== 5 || t.shape[0] !== lg.shape[0] || !same(t.shape.slice(2), lg.shape.slice(2))) throw new Error(`dcCeLoss: target [${t.shape}] does not match logits [${lg.shape}]`);
    const [n, K, s] = this.ncs(lg, 'dcCeLoss');
    const lab = this.t(t, 'dcCeLoss', 'int32').data as Int32Array;
    const ignore = o.ignoreLabel ?? -1;
    const probs = this.pool.take(n * K * s) as Float32Array;
    const st = new Float64Array(n * K * 3 + 2);
    this.addon.dcCeForward(this.f(lg, 'dcCeLoss'), lab, n, K, s, ignore, probs, st);
    const nValid = st[n * K * 3 + 1]!;
    let counted = 0;
    for (let i = 0; i < n * K; i++) counted += st[i * 3 + 2]!;
    if (counted !== nValid) throw new Error(`dcCeLoss: labels outside [0, ${K}) in the target (${nValid - counted} voxels)`);
    const { dc, A, B } = diceGradTerms(st, n, K, o, scale * (o.weightDice ?? 1));
    const ceMean = nValid > 0 ? st[n * K * 3]! / nValid : 0;
    const grad = this.out(lg.shape);
    this.addon.dcCeBackward(probs, lab, n, K, s, ignore, A, B, nValid > 0 ? (scale * (o.weightCe ?? 1)) / nValid : 0, grad.d);
    this.pool.give(probs);
    return { ce: ceMean, dice: K > (o.doBackground ? 0 : 1) ? -dc : 0, grad: grad.t };
  }

  // ------------------------------------------------------------ optimiser
  override clipGradNorm(grads: readonly DeviceTensor[], maxNorm: number, invScale: number): DeviceTensor {
    const gs = grads.map((g) => this.f(g, 'clipGradNorm'));
    if (invScale !== 1) this.addon.scale(gs, invScale);
    const norm = Math.sqrt(this.addon.sumSquares(gs));
    const finite = Number.isFinite(norm);
    const coef = maxNorm / (norm + 1e-6);
    if (finite && coef < 1) this.addon.scale(gs, coef);
    const r = this.out([2]);
    r.d.set([norm, finite ? 1 : 0]);
    return r.t;
  }

  override sgdStep(params: readonly DeviceTensor[], grads: readonly DeviceTensor[], momenta: readonly DeviceTensor[], decay: readonly boolean[], o: SgdStepOptions, guard?: DeviceTensor): void {
    if (guard && this.f(guard, 'sgdStep')[1] === 0) return;
    if (grads.length !== params.length || momenta.length !== params.length || decay.length < params.length) throw new Error(`sgdStep: ${params.length} parameters, ${grads.length} gradients, ${momenta.length} momenta, ${decay.length} decay flags`);
    const p = params.map((t) => this.f(t, 'sgdStep'));
    const g = grads.map((t) => this.f(t, 'sgdStep'));
    const m = momenta.map((t) => this.f(t, 'sgdStep'));
    p.forEach((v, k) => {
      if (g[k]!.length !== v.length || m[k]!.length !== v.length) throw new Error(`sgdStep: parameter ${k} [${params[k]!.shape}] has mismatched gradient or momentum`);
    });
    const wd = Float32Array.from(params, (_, k) => (decay[k] ? o.weightDecay : 0));
    this.addon.sgd(p, g, m, wd, o.lr, o.momentum, o.nesterov, 1);
  }

  // ------------------------------------------------------------ sliding window
  override flip(x: DeviceTensor, axes: readonly number[]): DeviceTensor {
    if (x.dtype === 'int32' || x.shape.length < 3) return super.flip(x, axes);
    const [Z, Y, X] = x.shape.slice(-3) as [number, number, number];
    for (const a of axes) if (a !== 0 && a !== 1 && a !== 2) throw new Error(`flip: axis ${a} is not a spatial axis (0 = z, 1 = y, 2 = x)`);
    const mask = axes.reduce((m, a) => m | (1 << a), 0);
    const { t, d } = this.out(x.shape);
    this.addon.flip(this.f(x, 'flip'), d, x.size / (Z * Y * X), Z, Y, X, mask);
    return t;
  }

  override accumulateTiles(acc: DeviceTensor, weight: DeviceTensor, tile: DeviceTensor, gauss: DeviceTensor, starts: readonly (readonly number[])[], scale: number): void {
    const [K, ...dims] = acc.shape as number[];
    const [B, Kt, ...patch] = tile.shape as number[];
    if (dims.length !== 3 || Kt !== K || B !== starts.length || !same(gauss.shape, patch) || weight.size !== prod(dims)) throw new Error(`accumulateTiles: acc [${acc.shape}], weight [${weight.shape}], tile [${tile.shape}], gauss [${gauss.shape}], ${starts.length} starts`);
    const [a, w, t, g] = [this.f(acc, 'accumulateTiles'), this.f(weight, 'accumulateTiles'), this.f(tile, 'accumulateTiles'), this.f(gauss, 'accumulateTiles')];
    const per = K! * prod(patch);
    starts.forEach((st, b) => {
      if (st.length !== 3 || st.some((v, i) => v < 0 || v + patch[i]! > dims[i]!)) throw new Error(`accumulateTiles: tile at [${st}] + [${patch}] outside [${dims}]`);
      const [z0, y0, x0] = st as [number, number, number];
      this.addon.accumulateWeighted(a, w, t.subarray(b * per, (b + 1) * per), g, K!, dims[0]!, dims[1]!, dims[2]!, patch[0]!, patch[1]!, patch[2]!, z0, y0, x0, scale);
    });
  }

  override crop(x: DeviceTensor, starts: readonly (readonly number[])[], size: readonly number[]): DeviceTensor {
    const [n, c, ...dims] = x.shape as number[];
    if (n !== 1 || dims.length !== 3 || size.length !== 3) throw new Error(`crop: x must be [1, c, z, y, x] and size [z, y, x], got [${x.shape}] and [${size}]`);
    const src = this.f(x, 'crop');
    const per = c! * prod(size);
    const { t, d } = this.out([starts.length, c!, ...size]);
    starts.forEach((st, b) => {
      if (st.length !== 3 || st.some((s, i) => s < 0 || s + size[i]! > dims[i]!)) throw new Error(`crop: window [${st}] + [${size}] outside [${dims}]`);
      this.addon.copyWindow(src, c!, dims[0]!, dims[1]!, dims[2]!, st[0]!, st[1]!, st[2]!, size[0]!, size[1]!, size[2]!, d.subarray(b * per, (b + 1) * per), null);
    });
    return t;
  }

  override normalizeAccumulator(acc: DeviceTensor, weight: DeviceTensor, start: readonly number[], size: readonly number[]): DeviceTensor {
    const [K, ...dims] = acc.shape as number[];
    if (dims.length !== 3 || start.length !== 3 || size.length !== 3 || weight.size !== prod(dims) || start.some((s, i) => s < 0 || s + size[i]! > dims[i]!)) throw new Error(`normalizeAccumulator: acc [${acc.shape}], weight [${weight.shape}], window [${start}] + [${size}]`);
    const { t, d } = this.out([K!, ...size]);
    this.addon.copyWindow(this.f(acc, 'normalizeAccumulator'), K!, dims[0]!, dims[1]!, dims[2]!, start[0]!, start[1]!, start[2]!, size[0]!, size[1]!, size[2]!, d, this.f(weight, 'normalizeAccumulator'));
    return t;
  }

  override argmax(x: DeviceTensor): DeviceTensor {
    if (x.shape.length !== 4) throw new Error(`argmax: expected [K, z, y, x], got [${x.shape}]`);
    const K = x.shape[0]!;
    const out = this.pool.take(x.size / K, 'i') as Int32Array;
    this.addon.argmax(this.f(x, 'argmax'), 1, K, x.size / K, out);
    return this.wrap(out, [1, ...x.shape.slice(1)], 'int32');
  }
}

/**
 * Dice value and the per-(n, c) coefficients of its gradient with respect to the probabilities, dp = A y + B
 * (y the one-hot target), from the native sums `st` ([n][K][tp, sum p, sum y]): MemoryEfficientSoftDiceLoss with
 * `dc = (2 tp + smooth) / max(sum y + sum p + smooth, 1e-8)` averaged over the included channels (and samples
 * without batch Dice), times `scale`. Background channel 0 gets A = B = 0 unless `doBackground`.
 */
export function diceGradTerms(st: Float64Array, n: number, K: number, o: Pick<DcCeLossOptions, 'batchDice' | 'doBackground' | 'smooth'>, scale: number): { dc: number; A: Float32Array; B: Float32Array } {
  const k0 = o.doBackground ? 0 : 1;
  const nd = o.batchDice ? 1 : n;
  const nTerms = nd * (K - k0);
  const sum = (b: number, k: number, j: number): number => {
    if (!o.batchDice) return st[(b * K + k) * 3 + j]!;
    let v = 0;
    for (let i = 0; i < n; i++) v += st[(i * K + k) * 3 + j]!;
    return v;
  };
  const A = new Float32Array(n * K);
  const B = new Float32Array(n * K);
  let dc = 0;
  for (let b = 0; b < n; b++)
    for (let k = k0; k < K; k++) {
      const raw = sum(b, k, 2) + sum(b, k, 1) + o.smooth;
      const den = Math.max(raw, 1e-8);
      const num = 2 * sum(b, k, 0) + o.smooth;
      if (!o.batchDice || b === 0) dc += num / den / nTerms;
      A[b * K + k] = (scale * -2) / den / nTerms;
      B[b * K + k] = raw > 1e-8 ? (scale * num) / (den * den) / nTerms : 0;
    }
  return { dc: nTerms > 0 ? dc : 0, A, B };
}

/** Creates the `cpu-native` device backend (see `CpuNativeDevice`). */
export async function createCpuNativeDevice(opts: CpuNativeDeviceOptions = {}): Promise<DeviceBackend> {
  return new CpuNativeDevice(opts);
}
