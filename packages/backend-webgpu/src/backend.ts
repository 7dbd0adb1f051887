/**
 * `webgpu`: the device-resident compute contract (`DeviceBackend`, core) in WGSL compute shaders. Every tensor is a
 * GPU storage buffer; ops only record dispatches, and `read` submits and maps. A training step therefore moves
 * the batch and labels up and the `[loss, ce, dice]` values (plus the clip's finite flag) down, nothing else.
 * The same code runs on Dawn in Node and on `navigator.gpu` in browsers.
 */
import type {
  ConvParams, DcCeLossOptions, DcCeLossResult, DeviceBackend, DeviceFloatDType, DeviceInfo, DeviceInstanceNormOptions,
  DeviceInstanceNormState, DeviceMemory, DeviceTensor, ParamGrads, SgdStepOptions,
} from '@nnunet-ts/core';
import type { Engine } from './engine.js';
import { GpuTensor } from './tensor.js';
import type { AdapterChoice } from './gpu/adapter.js';
import * as conv from './kernels/conv.js';
import * as ew from './kernels/elementwise.js';
import * as norm from './kernels/norm.js';
import * as optim from './kernels/optim.js';
import { dcCeLevel } from './kernels/loss.js';
import { convGeometry, sameShape, spatial, vol } from './shapes.js';

type T = DeviceTensor;

/** The `webgpu` DeviceBackend on an open engine. */
export class WebGpuBackend implements DeviceBackend {
  readonly info: DeviceInfo;
  private readonly scopes: Set<GpuTensor>[] = [];
  private live = new Set<GpuTensor>();
  private ones: GPUBuffer | null = null;

  constructor(
    readonly engine: Engine,
    readonly adapter: AdapterChoice,
  ) {
    const lim = engine.limits.maxStorageBufferBindingSize;
    this.info = {
      name: 'webgpu',
      description: `WGSL compute shaders on ${adapter.label}${adapter.software ? ' (software adapter: correct, not fast)' : ''} via ${adapter.via}`,
      gpu: !adapter.software,
      capabilities: { dtypes: ['float32'], syncRead: false, maxBufferBytes: lim },
    };
  }

  // ------------------------------------------------------------------ memory
  private make(shape: readonly number[], dtype: GpuTensor['dtype'] = 'float32'): GpuTensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const t = new GpuTensor(this.engine.alloc(Math.max(1, n) * 4), [...shape], dtype);
    this.live.add(t);
    this.scopes[this.scopes.length - 1]?.add(t);
    return t;
  }

  /** The handle's buffer; throws for a disposed or foreign handle. */
  buf(t: T, op: string): GPUBuffer {
    if (!(t instanceof GpuTensor)) throw new Error(`webgpu.${op}: tensor of backend '${t.backend}' passed to webgpu`);
    if (t.isDisposed) throw new Error(`webgpu.${op}: tensor [${t.shape.join(', ')}] was disposed`);
    return t.buffer;
  }

  private float(t: T, op: string): GPUBuffer {
    if (t.dtype !== 'float32') throw new Error(`webgpu.${op}: expected a float32 tensor, got ${t.dtype}`);
    return this.buf(t, op);
  }

  upload(data: Float32Array, shape: readonly number[], dtype: DeviceFloatDType = 'float32'): T {
    if (dtype !== 'float32') throw new Error(`webgpu.upload: dtype ${dtype} is not supported (float32 only)`);
    if (vol(shape) !== data.length) throw new Error(`webgpu.upload: ${data.length} values for shape [${shape.join(', ')}]`);
    const t = this.make(shape);
    this.engine.write(t.buffer, data);
    return t;
  }

  uploadLabels(data: Int16Array | Int32Array | Uint8Array, shape: readonly number[]): T {
    if (vol(shape) !== data.length) throw new Error(`webgpu.uploadLabels: ${data.length} values for shape [${shape.join(', ')}]`);
    const t = this.make(shape, 'int32');
    this.engine.write(t.buffer, data instanceof Int32Array ? data : Int32Array.from(data));
    return t;
  }

  zeros(shape: readonly number[], dtype: DeviceFloatDType = 'float32', value = 0): T {
    if (dtype !== 'float32') throw new Error(`webgpu.zeros: dtype ${dtype} is not supported (float32 only)`);
    const t = this.make(shape);
    ew.fill(this.engine, t.size, t.buffer, value);
    return t;
  }

  async read(t: T): Promise<Float32Array> {
    const b = this.float(t, 'read');
    return new Float32Array(await this.engine.read(b, t.size * 4));
  }

  async readInt(t: T): Promise<Int32Array> {
    const b = this.buf(t, 'readInt');
    if (t.dtype !== 'int32') throw new Error(`webgpu.readInt: expected an int32 tensor, got ${t.dtype}`);
    return new Int32Array(await this.engine.read(b, t.size * 4));
  }

  dispose(t: T | readonly (T | null | undefined)[]): void {
    const list = Array.isArray(t) ? t : [t];
    for (const x of list as (T | null | undefined)[]) {
      if (x instanceof GpuTensor && x.markDisposed()) {
        this.live.delete(x);
        this.engine.release(x.buffer);
      }
    }
  }

  beginScope(): void {
    this.scopes.push(new Set());
  }

  endScope(keep: readonly (T | null | undefined)[] = []): void {
    const scope = this.scopes.pop();
    if (!scope) throw new Error('webgpu.endScope: no open scope');
    const kept = new Set(keep);
    const outer = this.scopes[this.scopes.length - 1];
    for (const t of scope) {
      if (kept.has(t)) outer?.add(t);
      else this.dispose(t);
    }
  }

  memory(): DeviceMemory {
    let bytes = 0;
    for (const t of this.live) bytes += t.size * 4;
    return { tensors: this.live.size, bytes };
  }

  async sync(): Promise<void> {
    await this.engine.sync();
  }

  destroy(): void {
    this.dispose([...this.live]);
    this.engine.dispose();
  }

  // ------------------------------------------------------------------ elementwise
  add(a: T, b: T): T {
    sameShape('add', a, b);
    const o = this.make(a.shape);
    ew.add(this.engine, a.size, this.float(a, 'add'), this.float(b, 'add'), o.buffer);
    return o;
  }

  axpy(alpha: number, x: T, y: T): void {
    sameShape('axpy', x, y);
    ew.axpy(this.engine, x.size, alpha, this.float(x, 'axpy'), this.float(y, 'axpy'));
  }

  scale(x: T, alpha: number): void {
    ew.scale(this.engine, x.size, this.float(x, 'scale'), alpha);
  }

  fill(x: T, value: number): void {
    if (x.dtype === 'int32') ew.fillInt(this.engine, x.size, this.buf(x, 'fill'), value);
    else ew.fill(this.engine, x.size, this.float(x, 'fill'), value);
  }

  copy(src: T, dst: T): void {
    sameShape('copy', src, dst);
    if (src.dtype !== dst.dtype) throw new Error(`webgpu.copy: ${src.dtype} -> ${dst.dtype} is not supported`);
    this.engine.copy(this.buf(src, 'copy'), 0, this.buf(dst, 'copy'), 0, src.size * 4);
  }

  cast(x: T, dtype: DeviceFloatDType): T {
    if (dtype !== 'float32') throw new Error(`webgpu.cast: dtype ${dtype} is not supported (float32 only)`);
    const o = this.make(x.shape);
    this.copy(x, o);
    return o;
  }

  // ------------------------------------------------------------------ convolution
  conv(x: T, w: T, bias: T | null, p: ConvParams): T {
    const g = convGeometry('conv', x.shape, w.shape, p);
    if (bias && (bias.shape.length !== 1 || bias.shape[0] !== g.cOut)) throw new Error(`webgpu.conv: bias [${bias.shape.join(', ')}] for ${g.cOut} output channels`);
    const y = this.make([g.n, g.cOut, ...g.outS]);
    conv.convForward(this.engine, g, this.float(x, 'conv'), this.float(w, 'conv'), bias ? this.float(bias, 'conv') : null, y.buffer);
    return y;
  }

  convBackwardData(dy: T, w: T, xShape: readonly number[], p: ConvParams): T {
    const g = convGeometry('convBackwardData', xShape, w.shape, p);
    if (dy.shape.join() !== [g.n, g.cOut, ...g.outS].join()) {
      throw new Error(`webgpu.convBackwardData: dy [${dy.shape.join(', ')}] does not match x [${xShape.join(', ')}] and w [${w.shape.join(', ')}]`);
    }
    const dx = this.make(xShape);
    conv.convBackwardData(this.engine, g, this.float(dy, 'convBackwardData'), this.float(w, 'convBackwardData'), dx.buffer);
    return dx;
  }

  convBackwardFilter(x: T, dy: T, p: ConvParams, grads: ParamGrads): void {
    const wShape = grads.weight?.shape;
    if (wShape) {
      const g = convGeometry('convBackwardFilter', x.shape, wShape, p);
      if (dy.shape.join() !== [g.n, g.cOut, ...g.outS].join()) {
        throw new Error(`webgpu.convBackwardFilter: dy [${dy.shape.join(', ')}] does not match x [${x.shape.join(', ')}] and w [${wShape.join(', ')}]`);
      }
      const dst = this.float(grads.weight!, 'convBackwardFilter');
      if (grads.accumulate) {
        const tmp = this.engine.alloc(vol(wShape) * 4);
        conv.convBackwardFilter(this.engine, g, this.float(x, 'convBackwardFilter'), this.float(dy, 'convBackwardFilter'), tmp);
        ew.axpy(this.engine, vol(wShape), 1, tmp, dst);
        this.engine.release(tmp);
      } else {
        conv.convBackwardFilter(this.engine, g, this.float(x, 'convBackwardFilter'), this.float(dy, 'convBackwardFilter'), dst);
      }
    }
    if (grads.bias) this.biasGrad(dy, grads.bias, grads.accumulate);
  }

  addBias(x: T, bias: T): void {
    const c = x.shape[1]!;
    if (bias.size !== c) throw new Error(`webgpu.addBias: bias [${bias.shape.join(', ')}] for ${c} channels`);
    ew.addBias(this.engine, x.size, this.float(x, 'addBias'), this.float(bias, 'addBias'), c, vol(spatial(x.shape)));
  }

  biasGrad(dy: T, grad: T, accumulate: boolean): void {
    const [n, c] = [dy.shape[0]!, dy.shape[1]!];
    if (grad.size !== c) throw new Error(`webgpu.biasGrad: gradient [${grad.shape.join(', ')}] for ${c} channels`);
    norm.channelSum(this.engine, n, c, vol(spatial(dy.shape)), this.float(dy, 'biasGrad'), this.float(grad, 'biasGrad'), accumulate);
  }

  // ------------------------------------------------------------------ normalisation and activation
  instanceNorm(x: T, gamma: T | null, beta: T | null, o: DeviceInstanceNormOptions): { y: T; state: DeviceInstanceNormState | null } {
    if (x.shape.length !== 5) throw new Error(`webgpu.instanceNorm: x must be [n, c, z, y, x], got [${x.shape.join(', ')}]`);
    const [n, c] = [x.shape[0]!, x.shape[1]!];
    if ((gamma && gamma.size !== c) || (beta && beta.size !== c)) throw new Error(`webgpu.instanceNorm: affine parameters must be [${c}]`);
    const y = this.make(x.shape);
    const xh = o.training ? this.make(x.shape) : null;
    const inv = this.make([n, c]);
    norm.instanceNormForward(
      this.engine, n * c, c, vol(spatial(x.shape)), this.float(x, 'instanceNorm'), gamma ? this.float(gamma, 'instanceNorm') : null,
      beta ? this.float(beta, 'instanceNorm') : null, y.buffer, xh?.buffer ?? null, inv.buffer, o.eps, o.leakySlope,
    );
    if (!xh) {
      this.dispose(inv);
      return { y, state: null };
    }
    return { y, state: { xhat: xh, invStd: inv } };
  }

  instanceNormBackward(dy: T, state: DeviceInstanceNormState, gamma: T | null, beta: T | null, leakySlope: number | undefined, grads: ParamGrads): T {
    sameShape('instanceNormBackward', dy, state.xhat);
    const [n, c] = [dy.shape[0]!, dy.shape[1]!];
    const dx = this.make(dy.shape);
    const op = 'instanceNormBackward';
    norm.instanceNormBackward(
      this.engine, n, c, vol(spatial(dy.shape)), this.float(dy, op), this.float(state.xhat, op), this.float(state.invStd, op),
      gamma ? this.float(gamma, op) : null, beta ? this.float(beta, op) : null, leakySlope, dx.buffer,
      grads.weight ? this.float(grads.weight, op) : null, grads.bias ? this.float(grads.bias, op) : null, grads.accumulate,
    );
    return dx;
  }

  leakyRelu(x: T, slope: number): T {
    const y = this.make(x.shape);
    ew.leakyRelu(this.engine, x.size, this.float(x, 'leakyRelu'), y.buffer, slope);
    return y;
  }

  leakyReluBackward(dy: T, y: T, slope: number): T {
    sameShape('leakyReluBackward', dy, y);
    const dx = this.make(dy.shape);
    ew.leakyReluBackward(this.engine, dy.size, this.float(dy, 'leakyReluBackward'), this.float(y, 'leakyReluBackward'), dx.buffer, slope);
    return dx;
  }

  avgPool(x: T, kernel: [number, number, number]): T {
    const S = spatial(x.shape);
    const s = S.map((v, i) => Math.floor(v / kernel[i]!));
    const y = this.make([x.shape[0]!, x.shape[1]!, ...s]);
    ew.avgPool(this.engine, x.shape[0]! * x.shape[1]!, S, s, kernel, this.float(x, 'avgPool'), y.buffer, false);
    return y;
  }

  avgPoolBackward(dy: T, kernel: [number, number, number], xShape: readonly number[]): T {
    const dx = this.make(xShape);
    ew.avgPool(this.engine, xShape[0]! * xShape[1]!, spatial(xShape), spatial(dy.shape), kernel, this.float(dy, 'avgPoolBackward'), dx.buffer, true);
    return dx;
  }

  // ------------------------------------------------------------------ channels
  concatChannels(xs: readonly T[]): T {
    if (!xs.length) throw new Error('webgpu.concatChannels: no tensors');
    const [n, , ...S] = xs[0]!.shape;
    for (const x of xs) {
      if (x.shape[0] !== n || spatial(x.shape).join() !== S.join()) throw new Error(`webgpu.concatChannels: shapes ${xs.map((t) => `[${t.shape.join(', ')}]`).join(', ')} differ outside the channel axis`);
    }
    const c = xs.reduce((a, x) => a + x.shape[1]!, 0);
    const v = vol(S);
    const y = this.make([n!, c, ...S]);
    for (let b = 0; b < n!; b++) {
      let off = 0;
      for (const x of xs) {
        const cx = x.shape[1]!;
        this.engine.copy(this.float(x, 'concatChannels'), b * cx * v * 4, y.buffer, (b * c + off) * v * 4, cx * v * 4);
        off += cx;
      }
    }
    return y;
  }

  splitChannels(x: T, sizes: readonly number[]): T[] {
    const [n, c, ...S] = x.shape;
    if (sizes.reduce((a, b) => a + b, 0) !== c) throw new Error(`webgpu.splitChannels: sizes ${sizes.join('+')} != ${c} channels`);
    const v = vol(S);
    const src = this.float(x, 'splitChannels');
    let off = 0;
    return sizes.map((cs) => {
      const y = this.make([n!, cs, ...S]);
      for (let b = 0; b < n!; b++) this.engine.copy(src, (b * c! + off) * v * 4, y.buffer, b * cs * v * 4, cs * v * 4);
      off += cs;
      return y;
    });
  }

  softmax(x: T): T {
    const five = x.shape.length === 5;
    const n = five ? x.shape[0]! : 1;
    const k = x.shape[five ? 1 : 0]!;
    const v = x.size / (n * k);
    const y = this.make(x.shape);
    ew.softmax(this.engine, n * v, k, v, this.float(x, 'softmax'), y.buffer);
    return y;
  }

  sigmoid(x: T): T {
    const y = this.make(x.shape);
    ew.sigmoid(this.engine, x.size, this.float(x, 'sigmoid'), y.buffer);
    return y;
  }

  // ------------------------------------------------------------------ loss
  downsampleLabels(labels: T, outShape: readonly number[]): T {
    if (labels.dtype !== 'int32') throw new Error('webgpu.downsampleLabels: labels must be int32');
    const o = this.make(outShape, 'int32');
    ew.downsampleLabels(this.engine, labels.shape[0]!, spatial(labels.shape), spatial(outShape), this.buf(labels, 'downsampleLabels'), o.buffer);
    return o;
  }

  dcCeLoss(logits: readonly T[], targets: readonly T[], o: DcCeLossOptions): DcCeLossResult {
    return dcCeLoss(this, logits, targets, o);
  }

  // ------------------------------------------------------------------ optimiser
  clipGradNorm(grads: readonly T[], maxNorm: number, invScale: number): T {
    const r = this.make([2]);
    const list = grads.map((g) => ({ buf: this.float(g, 'clipGradNorm'), n: g.size }));
    optim.clipGradNorm(this.engine, list, maxNorm, invScale, r.buffer);
    return r;
  }

  sgdStep(params: readonly T[], grads: readonly T[], momenta: readonly T[], decay: readonly boolean[], o: SgdStepOptions, guard?: T): void {
    if (grads.length !== params.length || momenta.length !== params.length) throw new Error('webgpu.sgdStep: params, grads and momenta differ in number');
    const g = guard ? this.float(guard, 'sgdStep') : this.onesBuffer();
    params.forEach((p, i) => {
      sameShape('sgdStep', p, grads[i]!);
      const opts = { ...o, weightDecay: decay[i] ? o.weightDecay : 0 };
      optim.sgdStep(this.engine, p.size, this.float(p, 'sgdStep'), this.float(grads[i]!, 'sgdStep'), this.float(momenta[i]!, 'sgdStep'), g, opts);
    });
  }

  private onesBuffer(): GPUBuffer {
    if (!this.ones) {
      this.ones = this.engine.alloc(16);
      ew.fill(this.engine, 4, this.ones, 1);
    }
    return this.ones;
  }

  // ------------------------------------------------------------------ sliding window
  flip(x: T, axes: readonly number[]): T {
    const S = spatial(x.shape);
    const y = this.make(x.shape);
    ew.flip(this.engine, x.size, S, [0, 1, 2].map((a) => axes.includes(a)), this.float(x, 'flip'), y.buffer);
    return y;
  }

  crop(x: T, starts: readonly (readonly number[])[], size: readonly number[]): T {
    const c = x.shape[1]!;
    const S = spatial(x.shape);
    const y = this.make([starts.length, c, ...size]);
    const per = c * vol(size);
    starts.forEach((s, b) => {
      if (s.some((v, i) => v < 0 || v + size[i]! > S[i]!)) throw new Error(`webgpu.crop: window at [${s.join(', ')}] of size [${size.join(', ')}] leaves [${S.join(', ')}]`);
      ew.cropOne(this.engine, c, S, size, s, this.float(x, 'crop'), y.buffer, b * per);
    });
    return y;
  }

  accumulateTiles(acc: T, weight: T, tile: T, gauss: T, starts: readonly (readonly number[])[], scale: number): void {
    const k = acc.shape[0]!;
    const S = acc.shape.slice(1);
    const s = tile.shape.slice(2);
    const per = k * vol(s);
    const op = 'accumulateTiles';
    starts.forEach((st, b) => {
      ew.accumulateTile(this.engine, k, S, s, st, this.float(tile, op), b * per, this.float(gauss, op), this.float(acc, op), this.float(weight, op), scale);
    });
  }

  normalizeAccumulator(acc: T, weight: T, start: readonly number[], size: readonly number[]): T {
    const k = acc.shape[0]!;
    const o = this.make([k, ...size]);
    ew.normalizeAccumulator(this.engine, k, acc.shape.slice(1), size, start, this.float(acc, 'normalizeAccumulator'), this.float(weight, 'normalizeAccumulator'), o.buffer);
    return o;
  }

  argmax(x: T): T {
    const k = x.shape[0]!;
    const S = x.shape.slice(1);
    const o = this.make([1, ...S], 'int32');
    ew.argmax(this.engine, k, vol(S), this.float(x, 'argmax'), o.buffer);
    return o;
  }
}

/** Region tables are uploaded once per distinct `regions` list. */
const regionTables = new WeakMap<readonly number[][], { t: GpuTensor; labels: number }>();

function regionTable(be: WebGpuBackend, regions: number[][]): { table: GPUBuffer; labels: number } {
  let e = regionTables.get(regions);
  if (!e || e.t.isDisposed) {
    const labels = Math.max(0, ...regions.flat()) + 1;
    const data = new Float32Array(regions.length * labels);
    regions.forEach((r, i) => r.forEach((l) => (data[i * labels + l] = 1)));
    be.beginScope();
    const t = be.upload(data, [data.length]) as GpuTensor;
    be.endScope([t]);
    e = { t, labels };
    regionTables.set(regions, e);
  }
  return { table: e.t.buffer, labels: e.labels };
}

function dcCeLoss(be: WebGpuBackend, logits: readonly T[], targets: readonly T[], o: DcCeLossOptions): DcCeLossResult {
  if (logits.length !== targets.length || logits.length !== o.weights.length) {
    throw new Error(`webgpu.dcCeLoss: ${logits.length} logits, ${targets.length} targets, ${o.weights.length} weights`);
  }
  const values = be.zeros([3]);
  const vbuf = be.buf(values, 'dcCeLoss');
  const grads: (T | null)[] = [];
  const regions = o.regions ? regionTable(be, o.regions) : null;
  logits.forEach((l, i) => {
    const t = targets[i]!;
    const [n, k] = [l.shape[0]!, l.shape[1]!];
    if (t.dtype !== 'int32' || t.shape[0] !== n || spatial(t.shape).join() !== spatial(l.shape).join()) {
      throw new Error(`webgpu.dcCeLoss: level ${i} target [${t.shape.join(', ')}] (${t.dtype}) for logits [${l.shape.join(', ')}]`);
    }
    const w = o.weights[i]!;
    if (w === 0) {
      grads.push(null);
      return;
    }
    const g = be.zeros(l.shape);
    dcCeLevel(be.engine, {
      n, k, vol: vol(spatial(l.shape)), weight: w, lossScale: o.lossScale ?? 1, batchDice: o.batchDice, doBackground: o.doBackground,
      smooth: o.smooth, ignoreLabel: o.ignoreLabel, regions, bcePerChannel: o.ignoreLabel === undefined,
      weightCe: o.weightCe ?? 1, weightDice: o.weightDice ?? 1,
    }, be.buf(l, 'dcCeLoss'), be.buf(t, 'dcCeLoss'), vbuf, be.buf(g, 'dcCeLoss'), false);
    grads.push(g);
  });
  return { values, grads };
}
