/**
 * Memory, scopes, elementwise, channel and sliding-window ops of the tfjs device backend (the part of the
 * contract with no learned parameters). `TfjsDeviceBackend` adds convolution, normalisation, loss and optimiser.
 */
import type { DeviceFloatDType, DeviceInfo, DeviceMemory, DeviceTensor } from '@nnunet-ts/core';
import { TfHandle, type Tf, type TfTensor } from './handle.js';

type T = DeviceTensor;

/** Shared base: handles, scopes, and the parameter-free ops. */
export abstract class TfjsDeviceBase {
  private readonly scopes: Set<TfHandle>[] = [];
  private readonly live = new Set<TfHandle>();

  constructor(
    protected readonly tf: Tf,
    readonly info: DeviceInfo,
  ) {}

  protected wrap(t: TfTensor): TfHandle {
    const h = new TfHandle(t, this.info.name);
    this.live.add(h);
    this.scopes[this.scopes.length - 1]?.add(h);
    return h;
  }

  /** The handle, checked: this backend's and not disposed. */
  protected h(x: T, op: string): TfHandle {
    if (!(x instanceof TfHandle) || x.backend !== this.info.name) throw new Error(`${this.info.name}.${op}: tensor of backend '${x.backend}' passed to ${this.info.name}`);
    if (x.isDisposed) throw new Error(`${this.info.name}.${op}: tensor [${x.shape.join(', ')}] was disposed`);
    return x;
  }

  protected t(x: T, op: string): TfTensor {
    return this.h(x, op).t;
  }

  private float(dtype: DeviceFloatDType | undefined, op: string): void {
    if (dtype && dtype !== 'float32') throw new Error(`${this.info.name}.${op}: dtype ${dtype} is not supported (float32 only)`);
  }

  upload(data: Float32Array, shape: readonly number[], dtype?: DeviceFloatDType): T {
    this.float(dtype, 'upload');
    if (shape.reduce((a, b) => a * b, 1) !== data.length) throw new Error(`${this.info.name}.upload: ${data.length} values for shape [${shape.join(', ')}]`);
    return this.wrap(this.tf.tensor(data.slice(), [...shape], 'float32')); // a copy: tfjs-cpu keeps the array
  }

  uploadLabels(data: Int16Array | Int32Array | Uint8Array, shape: readonly number[]): T {
    if (shape.reduce((a, b) => a * b, 1) !== data.length) throw new Error(`${this.info.name}.uploadLabels: ${data.length} values for shape [${shape.join(', ')}]`);
    return this.wrap(this.tf.tensor(Int32Array.from(data), [...shape], 'int32'));
  }

  zeros(shape: readonly number[], dtype?: DeviceFloatDType, value = 0): T {
    this.float(dtype, 'zeros');
    return this.wrap(this.tf.fill([...shape], value, 'float32'));
  }

  async read(x: T): Promise<Float32Array> {
    const t = this.t(x, 'read');
    if (t.dtype !== 'float32') throw new Error(`${this.info.name}.read: expected a float32 tensor, got ${t.dtype}`);
    return Float32Array.from((await t.data()) as Float32Array);
  }

  async readInt(x: T): Promise<Int32Array> {
    const t = this.t(x, 'readInt');
    if (t.dtype !== 'int32') throw new Error(`${this.info.name}.readInt: expected an int32 tensor, got ${t.dtype}`);
    return Int32Array.from((await t.data()) as Int32Array);
  }

  dispose(x: T | readonly (T | null | undefined)[]): void {
    const list = (Array.isArray(x) ? x : [x]) as (T | null | undefined)[];
    for (const h of list) if (h instanceof TfHandle && h.free()) this.live.delete(h);
  }

  beginScope(): void {
    this.scopes.push(new Set());
  }

  endScope(keep: readonly (T | null | undefined)[] = []): void {
    const scope = this.scopes.pop();
    if (!scope) throw new Error(`${this.info.name}.endScope: no open scope`);
    const kept = new Set(keep);
    const outer = this.scopes[this.scopes.length - 1];
    for (const h of scope) {
      if (kept.has(h)) outer?.add(h);
      else this.dispose(h);
    }
  }

  memory(): DeviceMemory {
    let bytes = 0;
    for (const h of this.live) bytes += h.size * 4;
    return { tensors: this.live.size, bytes };
  }

  async sync(): Promise<void> {
    // a one-element read waits for everything queued before it
    const probe = this.tf.zeros([1]);
    await probe.data();
    probe.dispose();
  }

  destroy(): void {
    this.dispose([...this.live]);
  }

  add(a: T, b: T): T {
    this.same('add', a, b);
    return this.wrap(this.tf.add(this.t(a, 'add'), this.t(b, 'add')));
  }

  axpy(alpha: number, x: T, y: T): void {
    this.same('axpy', x, y);
    const h = this.h(y, 'axpy');
    h.swap(this.tf.tidy(() => this.tf.add(h.t, this.tf.mul(this.t(x, 'axpy'), alpha))));
  }

  scale(x: T, alpha: number): void {
    const h = this.h(x, 'scale');
    h.swap(this.tf.mul(h.t, alpha));
  }

  fill(x: T, value: number): void {
    const h = this.h(x, 'fill');
    h.swap(this.tf.fill([...h.t.shape], value, h.t.dtype));
  }

  copy(src: T, dst: T): void {
    this.same('copy', src, dst);
    this.h(dst, 'copy').swap(this.tf.clone(this.t(src, 'copy')));
  }

  cast(x: T, dtype: DeviceFloatDType): T {
    this.float(dtype, 'cast');
    return this.wrap(this.tf.clone(this.t(x, 'cast')));
  }

  avgPool(x: T, kernel: [number, number, number]): T {
    const tf = this.tf;
    return this.wrap(tf.tidy(() => {
      const xt = this.t(x, 'avgPool');
      const [n, c, D, H, W] = xt.shape as number[];
      const s = [D!, H!, W!].map((v, i) => Math.floor(v / kernel[i]!));
      const cut = tf.slice(xt, [0, 0, 0, 0, 0], [n!, c!, s[0]! * kernel[0], s[1]! * kernel[1], s[2]! * kernel[2]]);
      const r = tf.reshape(cut, [n! * c! * s[0]!, kernel[0], s[1]!, kernel[1], s[2]!, kernel[2]]);
      return tf.reshape(tf.mean(r, [1, 3, 5]), [n!, c!, ...s]);
    }));
  }

  avgPoolBackward(dy: T, kernel: [number, number, number], xShape: readonly number[]): T {
    const tf = this.tf;
    return this.wrap(tf.tidy(() => {
      const d = this.t(dy, 'avgPoolBackward');
      const [n, c, z, y, x] = d.shape as number[];
      const r = tf.reshape(tf.div(d, kernel[0] * kernel[1] * kernel[2]), [n! * c! * z!, 1, y!, 1, x!, 1]);
      const b = tf.broadcastTo(r, [n! * c! * z!, kernel[0], y!, kernel[1], x!, kernel[2]]);
      const up = tf.reshape(b, [n!, c!, z! * kernel[0], y! * kernel[1], x! * kernel[2]]);
      const rest = [2, 3, 4].map((a) => xShape[a]! - up.shape[a]!);
      return tf.pad(up, [[0, 0], [0, 0], [0, rest[0]!], [0, rest[1]!], [0, rest[2]!]]);
    }));
  }

  concatChannels(xs: readonly T[]): T {
    return this.wrap(this.tf.concat(xs.map((x) => this.t(x, 'concatChannels')), 1));
  }

  splitChannels(x: T, sizes: readonly number[]): T[] {
    return this.tf.split(this.t(x, 'splitChannels'), [...sizes], 1).map((t) => this.wrap(t));
  }

  softmax(x: T): T {
    const axis = x.shape.length === 5 ? 1 : 0;
    const tf = this.tf;
    return this.wrap(tf.tidy(() => {
      const xt = this.t(x, 'softmax');
      const e = tf.exp(tf.sub(xt, tf.max(xt, axis, true)));
      return tf.div(e, tf.sum(e, axis, true));
    }));
  }

  sigmoid(x: T): T {
    return this.wrap(this.tf.sigmoid(this.t(x, 'sigmoid')));
  }

  flip(x: T, axes: readonly number[]): T {
    const off = x.shape.length - 3;
    return this.wrap(this.tf.reverse(this.t(x, 'flip'), axes.map((a) => a + off)));
  }

  crop(x: T, starts: readonly (readonly number[])[], size: readonly number[]): T {
    const xt = this.t(x, 'crop');
    const c = xt.shape[1]!;
    return this.wrap(this.tf.tidy(() => this.tf.concat(starts.map((s) => this.tf.slice(xt, [0, 0, ...s], [1, c, ...size])), 0)));
  }

  accumulateTiles(acc: T, weight: T, tile: T, gauss: T, starts: readonly (readonly number[])[], scale: number): void {
    const tf = this.tf;
    const [ah, wh] = [this.h(acc, 'accumulateTiles'), this.h(weight, 'accumulateTiles')];
    const S = ah.t.shape.slice(1);
    const r = tf.tidy(() => {
      const g = this.t(gauss, 'accumulateTiles');
      const tl = this.t(tile, 'accumulateTiles');
      const s = tl.shape.slice(2);
      let a = ah.t;
      let w = wh.t;
      starts.forEach((st, b) => {
        const pads = [0, 1, 2].map((i) => [st[i]!, S[i]! - st[i]! - s[i]!] as [number, number]);
        const t = tf.mul(tf.squeeze(tf.slice(tl, [b, 0, 0, 0, 0], [1, -1, -1, -1, -1]), [0]), tf.mul(g, scale));
        a = tf.add(a, tf.pad(t, [[0, 0], ...pads]));
        w = tf.add(w, tf.pad(tf.expandDims(g, 0), [[0, 0], ...pads]));
      });
      return { a, w };
    });
    ah.swap(r.a);
    wh.swap(r.w);
  }

  normalizeAccumulator(acc: T, weight: T, start: readonly number[], size: readonly number[]): T {
    const tf = this.tf;
    return this.wrap(tf.tidy(() => {
      const a = tf.slice(this.t(acc, 'normalizeAccumulator'), [0, ...start], [-1, ...size]);
      const w = tf.slice(this.t(weight, 'normalizeAccumulator'), [0, ...start], [-1, ...size]);
      return tf.div(a, w);
    }));
  }

  argmax(x: T): T {
    const xt = this.t(x, 'argmax');
    return this.wrap(this.tf.tidy(() => this.tf.expandDims(this.tf.argMax(xt, 0), 0)));
  }

  protected same(op: string, a: T, b: T): void {
    if (a.shape.join() !== b.shape.join()) throw new Error(`${this.info.name}.${op}: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
  }
}
