import {
  ConvTranspose,
  SegHead,
  InitRng,
  ensureBuffer,
  type ComputeBackend,
  type Module,
  type Network,
  type Parameter,
  type Tensor,
} from '@nnunet-ts/core';
import type { ResolvedArch } from './arch.js';
import { stackedConvBlocks } from './blocks.js';
import { addInPlace, concatChannels, splitChannels } from './channels.js';

/** One decoder stage: transposed conv up, concat with the skip, conv blocks, seg head. */
interface DecoderStage {
  up: ConvTranspose;
  convs: Module;
  seg: SegHead;
  cat: Float32Array | null;
  dUp: Float32Array | null;
  dSkip: Float32Array | null;
  upShape: number[];
  skipShape: number[];
}

/**
 * U-Net with an arbitrary encoder (one module per stage, its output being the skip) and nnU-Net's `UNetDecoder`
 * (spec 1.7): for decoder stage s (lowest resolution first) a transposed conv with kernel = stride of encoder
 * stage `n-s`, `features[n-1-s]` channels, concat `[upsampled, skip]`, `n_conv_per_stage_decoder[s]` conv blocks,
 * 1x1 seg head. Outputs highest resolution first; with deep supervision one per decoder stage, else only the last.
 * Parameter order and names follow PyTorch's `named_parameters()` of dynamic_network_architectures.
 *
 * Activation buffers are layer-owned and reused between calls; tensors returned by `forward` are fresh
 * (seg head outputs come from the backend). Not re-entrant: one forward/backward at a time.
 */
export class UNet implements Network {
  readonly parameters: Parameter[];
  private readonly dec: DecoderStage[] = [];
  private ds: boolean;
  private skips: Tensor[] = [];
  private outStages: number[] = [];
  private trained = false;

  constructor(
    readonly backend: ComputeBackend,
    readonly arch: ResolvedArch,
    readonly encoder: Module[],
    readonly numClasses: number,
    deepSupervision: boolean,
    rng: InitRng,
  ) {
    this.ds = deepSupervision;
    const a = arch;
    const n = a.nStages;
    const ups: ConvTranspose[] = [];
    const stages: Module[] = [];
    const segs: SegHead[] = [];
    for (let s = 0; s < n - 1; s++) {
      const below = a.features[n - 1 - s]!;
      const skip = a.features[n - 2 - s]!;
      const st = a.strides[n - 1 - s]!;
      stages.push(stackedConvBlocks(backend, a, `decoder.stages.${s}`, a.nConvPerStageDecoder[s]!, 2 * skip, skip, a.kernels[n - 2 - s]!, [1, 1, 1], rng));
      ups.push(new ConvTranspose(backend, { name: `decoder.transpconvs.${s}`, inChannels: below, outChannels: skip, kernel: st, stride: st, bias: a.convBias, rng }));
      segs.push(new SegHead(backend, { name: `decoder.seg_layers.${s}`, inChannels: skip, numClasses, rng }));
    }
    for (let s = 0; s < n - 1; s++) this.dec.push({ up: ups[s]!, convs: stages[s]!, seg: segs[s]!, cat: null, dUp: null, dSkip: null, upShape: [], skipShape: [] });
    this.parameters = [
      ...encoder.flatMap((m) => m.parameters),
      ...stages.flatMap((m) => m.parameters),
      ...ups.flatMap((m) => m.parameters),
      ...segs.flatMap((m) => m.parameters),
    ];
  }

  setDeepSupervision(on: boolean): void {
    this.ds = on;
  }

  /** `x`: `[n, inputChannels, z, y, x]` float32 (2D: z = 1). Returns logits `[n, numClasses, ...]` per level. */
  forward(x: Tensor, training: boolean): Tensor[] {
    if (x.shape.length !== 5) throw new Error(`UNet.forward: input must be [n, c, z, y, x], got [${x.shape}]`);
    const skips: Tensor[] = [];
    let h = x;
    for (const stage of this.encoder) skips.push((h = stage.forward(h, training)));
    const outs: Tensor[] = [];
    const outStages: number[] = [];
    const nDec = this.dec.length;
    for (let s = 0; s < nDec; s++) {
      const d = this.dec[s]!;
      const up = d.up.forward(h, training);
      const skip = skips[nDec - 1 - s]!;
      d.cat = ensureBuffer(d.cat, up.data.length + skip.data.length);
      const catShape = concatChannels(up.data, up.shape, skip.data, skip.shape, d.cat);
      d.upShape = up.shape;
      d.skipShape = skip.shape;
      h = d.convs.forward({ data: d.cat, shape: catShape }, training);
      if (this.ds || s === nDec - 1) {
        outs.push(d.seg.forward(h, training));
        outStages.push(s);
      }
    }
    this.skips = training ? skips : [];
    this.outStages = outStages.reverse();
    this.trained = training;
    return outs.reverse();
  }

  /**
   * Backward from dL/d(outputs) (same order as `forward`'s result; null = no gradient for that level).
   * Accumulates into each `Parameter.grad`. Throws `Error` without a preceding training forward.
   */
  backward(gradOutputs: (Tensor | null)[]): void {
    if (!this.trained) throw new Error('UNet.backward: call forward(x, true) first');
    if (gradOutputs.length !== this.outStages.length) throw new Error(`UNet.backward: ${gradOutputs.length} gradients for ${this.outStages.length} outputs`);
    const segGrad = new Map<number, Tensor | null>();
    this.outStages.forEach((s, i) => segGrad.set(s, gradOutputs[i] ?? null));
    const nDec = this.dec.length;
    const skipGrads: (Float32Array | null)[] = new Array(nDec).fill(null);
    let g: Tensor | null = null;
    for (let s = nDec - 1; s >= 0; s--) {
      const d = this.dec[s]!;
      const sg = segGrad.get(s) ?? null;
      if (sg) {
        const gh = d.seg.backward(sg)!;
        if (g) addInPlace(g.data, gh.data);
        else g = gh;
      }
      if (!g) continue;
      const dcat = d.convs.backward(g)!;
      const n = d.upShape[0]!;
      d.dUp = ensureBuffer(d.dUp, d.upShape.reduce((p, v) => p * v, 1));
      d.dSkip = ensureBuffer(d.dSkip, d.skipShape.reduce((p, v) => p * v, 1));
      splitChannels(dcat.data, n, d.dUp, d.dSkip);
      skipGrads[nDec - 1 - s] = d.dSkip;
      g = d.up.backward({ data: d.dUp, shape: d.upShape });
    }
    for (let s = this.encoder.length - 1; s >= 0; s--) {
      const sk = s < nDec ? skipGrads[s] : null;
      if (sk) {
        if (g) addInPlace(g.data, sk);
        else g = { data: sk, shape: this.skips[s]!.shape };
      }
      if (!g) continue;
      g = this.encoder[s]!.backward(g);
    }
    this.skips = [];
    this.trained = false;
  }
}
