import {
  InitRng,
  LeakyReLU,
  Sequential,
  ensureBuffer,
  type ComputeBackend,
  type Module,
  type NetworkBuildInput,
  type NetworkFactory,
  type Parameter,
  type Tensor,
} from '@nnunet-ts/core';
import { resolveArchitecture, type ResolvedArch } from './arch.js';
import { convNormAct, stackedConvBlocks } from './blocks.js';
import { addInPlace } from './channels.js';
import { UNet } from './unet.js';

type Triple = [number, number, number];

/**
 * Average pooling with kernel = stride (no padding, floor mode): `[n, c, z, y, x] -> [n, c, z/sz, y/sy, x/sx]`.
 * Used on the skip path of a strided residual block. Output/gradient buffers are layer-owned.
 */
export class AvgPool implements Module {
  readonly parameters: Parameter[] = [];
  private out: Float32Array | null = null;
  private dx: Float32Array | null = null;
  private xShape: number[] = [];

  constructor(readonly k: Triple) {}

  forward(x: Tensor): Tensor {
    const [n, c, D, H, W] = x.shape as [number, number, number, number, number];
    const [kd, kh, kw] = this.k;
    const [od, oh, ow] = [Math.floor(D / kd), Math.floor(H / kh), Math.floor(W / kw)];
    const out = (this.out = ensureBuffer(this.out, n * c * od * oh * ow));
    out.fill(0);
    const inv = 1 / (kd * kh * kw);
    const xd = x.data;
    for (let b = 0; b < n * c; b++)
      for (let z = 0; z < od * kd; z++)
        for (let y = 0; y < oh * kh; y++) {
          const src = ((b * D + z) * H + y) * W;
          const dst = ((b * od + Math.floor(z / kd)) * oh + Math.floor(y / kh)) * ow;
          for (let xx = 0; xx < ow * kw; xx++) out[dst + Math.floor(xx / kw)]! += xd[src + xx]! * inv;
        }
    this.xShape = x.shape.slice();
    return { data: out, shape: [n, c, od, oh, ow] };
  }

  backward(dy: Tensor): Tensor {
    const [n, c, D, H, W] = this.xShape as [number, number, number, number, number];
    const [kd, kh, kw] = this.k;
    const [, , od, oh, ow] = dy.shape as [number, number, number, number, number];
    const dx = (this.dx = ensureBuffer(this.dx, n * c * D * H * W));
    dx.fill(0);
    const inv = 1 / (kd * kh * kw);
    const g = dy.data;
    for (let b = 0; b < n * c; b++)
      for (let z = 0; z < od * kd; z++)
        for (let y = 0; y < oh * kh; y++) {
          const dst = ((b * D + z) * H + y) * W;
          const src = ((b * od + Math.floor(z / kd)) * oh + Math.floor(y / kh)) * ow;
          for (let xx = 0; xx < ow * kw; xx++) dx[dst + xx] = g[src + Math.floor(xx / kw)]! * inv;
        }
    return { data: dx, shape: this.xShape };
  }
}

/**
 * ResNet-D basic block of dynamic_network_architectures (`BasicBlockD`): `conv1` (conv-norm-nonlin, carries the
 * stride) -> `conv2` (conv-norm), plus the skip (identity, or avg-pool with kernel = stride and/or a 1x1 conv
 * without bias + norm when the channels change), then the nonlinearity. PyTorch parameter names
 * `<name>.conv1.*`, `<name>.conv2.*`, `<name>.skip.<i>.*`.
 */
export class BasicBlockD implements Module {
  readonly parameters: Parameter[];
  private readonly conv1: Module;
  private readonly conv2: Module;
  private readonly pool: AvgPool | null;
  private readonly proj: Module | null;
  private readonly act: LeakyReLU;
  private sum: Float32Array | null = null;

  constructor(backend: ComputeBackend, a: ResolvedArch, name: string, cin: number, cout: number, kernel: Triple, stride: Triple, rng: InitRng, needsInputGrad = true) {
    this.conv1 = convNormAct(backend, a, `${name}.conv1`, cin, cout, kernel, stride, rng, needsInputGrad);
    this.conv2 = convNormAct(backend, a, `${name}.conv2`, cout, cout, kernel, [1, 1, 1], rng, true, false);
    const strided = stride.some((s) => s !== 1);
    this.pool = strided ? new AvgPool(stride) : null;
    const projArch = { ...a, convBias: false };
    this.proj = cin !== cout ? convNormAct(backend, projArch, `${name}.skip.${strided ? 1 : 0}`, cin, cout, [1, 1, 1], [1, 1, 1], rng, needsInputGrad, false) : null;
    this.act = new LeakyReLU(a.slope);
    this.parameters = [...this.conv1.parameters, ...this.conv2.parameters, ...(this.proj?.parameters ?? [])];
  }

  forward(x: Tensor, training: boolean): Tensor {
    let r = x;
    if (this.pool) r = this.pool.forward(r);
    if (this.proj) r = this.proj.forward(r, training);
    const main = this.conv2.forward(this.conv1.forward(x, training), training);
    const sum = (this.sum = ensureBuffer(this.sum, main.data.length));
    sum.set(main.data);
    addInPlace(sum, r.data);
    return this.act.forward({ data: sum, shape: main.shape }, training);
  }

  backward(dy: Tensor): Tensor | null {
    const ds = this.act.backward(dy);
    const dx = this.conv1.backward(this.conv2.backward(ds)!);
    let dr: Tensor | null = ds;
    if (this.proj) dr = this.proj.backward(dr);
    if (dr && this.pool) dr = this.pool.backward(dr);
    if (!dx) return null;
    if (dr) addInPlace(dx.data, dr.data);
    return dx;
  }
}

/**
 * Builds dynamic_network_architectures' `ResidualEncoderUNet` (nnU-Net ResEnc presets, spec 1.21): stem (one
 * conv-norm-nonlin to `features[0]`), encoder stages of `n_blocks_per_stage[s]` `BasicBlockD`s (the first with
 * `strides[s]`), and the plain `UNet` decoder. `dims` as in `buildPlainConvUNet`. Throws `NnunetError` on a bad block.
 */
export function buildResidualEncoderUNet(input: NetworkBuildInput, dims: 2 | 3 = 3): UNet {
  const a = resolveArchitecture(input.architecture, dims, 'n_blocks_per_stage');
  const rng = new InitRng(input.seed ?? 0);
  const be = input.backend;
  const stem = stackedConvBlocks(be, a, 'encoder.stem', 1, input.inputChannels, a.features[0]!, a.kernels[0]!, [1, 1, 1], rng, false);
  const encoder: Module[] = [];
  let cin = a.features[0]!;
  for (let s = 0; s < a.nStages; s++) {
    const blocks: Module[] = [];
    for (let i = 0; i < a.nConvPerStage[s]!; i++)
      blocks.push(new BasicBlockD(be, a, `encoder.stages.${s}.blocks.${i}`, i === 0 ? cin : a.features[s]!, a.features[s]!, a.kernels[s]!, i === 0 ? a.strides[s]! : [1, 1, 1], rng));
    encoder.push(s === 0 ? new Sequential([stem, ...blocks]) : new Sequential(blocks));
    cin = a.features[s]!;
  }
  return new UNet(be, a, encoder, input.numClasses, input.deepSupervision, rng);
}

/** Network plugin `ResidualEncoderUNet` (3D). */
export const residualEncoderUNet3d: NetworkFactory = {
  name: 'ResidualEncoderUNet',
  dims: 3,
  create: (input) => buildResidualEncoderUNet(input, 3),
};
