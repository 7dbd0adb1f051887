import {
  ConvTranspose,
  SegHead,
  InitRng,
  pullParameters,
  pushParameters,
  type DeviceBackend,
  type DeviceTensor,
  type Module,
  type Network,
  type Parameter,
} from '@nnunet-ts/core';
import type { ResolvedArch } from './arch.js';
import { stackedConvBlocks } from './blocks.js';

/** One decoder stage: transposed conv up, concat with the skip, conv blocks, seg head. */
interface DecoderStage {
  up: ConvTranspose;
  convs: Module;
  seg: SegHead;
  /** Channels of the upsampled tensor and of the skip (the concat's split). */
  split: [number, number];
}

/**
 * U-Net with an arbitrary encoder (one module per stage, its output being the skip) and nnU-Net's `UNetDecoder`
 * (RULES.md §7): for decoder stage s (lowest resolution first) a transposed conv with kernel = stride of encoder
 * stage `n-s`, `features[n-1-s]` channels, concat `[upsampled, skip]`, `n_conv_per_stage_decoder[s]` conv blocks,
 * 1x1 seg head. Outputs highest resolution first; with deep supervision one per decoder stage, else only the last.
 * Parameter order and names follow PyTorch's `named_parameters()` of dynamic_network_architectures.
 *
 * Runs on a device backend (contracts/device.ts): activations stay on the device, parameters are uploaded once
 * (`pushParameters`). Not re-entrant: one forward/backward at a time.
 */
export class UNet implements Network {
  readonly parameters: Parameter[];
  private readonly dec: DecoderStage[] = [];
  private ds: boolean;
  private outStages: number[] = [];
  private trained = false;

  constructor(
    readonly device: DeviceBackend,
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
      stages.push(stackedConvBlocks(device, a, `decoder.stages.${s}`, a.nConvPerStageDecoder[s]!, 2 * skip, skip, a.kernels[n - 2 - s]!, [1, 1, 1], rng));
      ups.push(new ConvTranspose(device, { name: `decoder.transpconvs.${s}`, inChannels: below, outChannels: skip, kernel: st, stride: st, bias: a.convBias, rng }));
      segs.push(new SegHead(device, { name: `decoder.seg_layers.${s}`, inChannels: skip, numClasses, rng }));
      this.dec.push({ up: ups[s]!, convs: stages[s]!, seg: segs[s]!, split: [skip, skip] });
    }
    this.parameters = [
      ...encoder.flatMap((m) => m.parameters),
      ...stages.flatMap((m) => m.parameters),
      ...ups.flatMap((m) => m.parameters),
      ...segs.flatMap((m) => m.parameters),
    ];
    pushParameters(device, this.parameters);
  }

  setDeepSupervision(on: boolean): void {
    this.ds = on;
  }

  pushParameters(): void {
    pushParameters(this.device, this.parameters);
  }

  pullParameters(): Promise<void> {
    return pullParameters(this.device, this.parameters);
  }

  /** `x`: `[n, inputChannels, z, y, x]` float32 (2D: z = 1). Returns logits `[n, numClasses, ...]` per level. */
  forward(x: DeviceTensor, training: boolean): DeviceTensor[] {
    if (x.shape.length !== 5) throw new Error(`UNet.forward: input must be [n, c, z, y, x], got [${x.shape}]`);
    const skips: DeviceTensor[] = [];
    let h = x;
    for (const stage of this.encoder) skips.push((h = stage.forward(h, training)));
    const outs: DeviceTensor[] = [];
    const outStages: number[] = [];
    const nDec = this.dec.length;
    for (let s = 0; s < nDec; s++) {
      const d = this.dec[s]!;
      const up = d.up.forward(h, training);
      const skip = skips[nDec - 1 - s]!;
      if (up.shape.slice(2).join() !== skip.shape.slice(2).join())
        throw new Error(`UNet: decoder stage ${s} upsampled to [${up.shape}] but the skip is [${skip.shape}] (patch not divisible by the strides?)`);
      const cat = this.device.concatChannels([up, skip]);
      this.device.dispose(up); // the concat copied it; its backward needs neither input
      h = d.convs.forward(cat, training);
      if (this.ds || s === nDec - 1) {
        outs.push(d.seg.forward(h, training));
        outStages.push(s);
      }
    }
    this.outStages = outStages.reverse();
    this.trained = training;
    return outs.reverse();
  }

  /**
   * Backward from dL/d(outputs) (same order as `forward`'s result; null = no gradient for that level).
   * Adds into each parameter's `gradTensor`. Throws `Error` without a preceding training forward.
   */
  backward(gradOutputs: (DeviceTensor | null)[]): void {
    if (!this.trained) throw new Error('UNet.backward: call forward(x, true) first');
    if (gradOutputs.length !== this.outStages.length) throw new Error(`UNet.backward: ${gradOutputs.length} gradients for ${this.outStages.length} outputs`);
    const dev = this.device;
    const segGrad = new Map<number, DeviceTensor | null>();
    this.outStages.forEach((s, i) => segGrad.set(s, gradOutputs[i] ?? null));
    const nDec = this.dec.length;
    const skipGrads: (DeviceTensor | null)[] = new Array(nDec).fill(null);
    let g: DeviceTensor | null = null;
    for (let s = nDec - 1; s >= 0; s--) {
      const d = this.dec[s]!;
      const sg = segGrad.get(s) ?? null;
      if (sg) {
        const gh = d.seg.backward(sg)!;
        if (g) {
          dev.axpy(1, gh, g);
          dev.dispose(gh);
        } else g = gh;
      }
      if (!g) continue;
      const dcat = d.convs.backward(g)!;
      dev.dispose(g);
      const [dUp, dSkip] = dev.splitChannels(dcat, d.split);
      dev.dispose(dcat);
      skipGrads[nDec - 1 - s] = dSkip!;
      g = d.up.backward(dUp!);
      dev.dispose(dUp!);
    }
    this.backwardEncoder(g, skipGrads);
    this.trained = false;
  }

  private backwardEncoder(gTop: DeviceTensor | null, skipGrads: (DeviceTensor | null)[]): void {
    const dev = this.device;
    let g = gTop;
    for (let s = this.encoder.length - 1; s >= 0; s--) {
      const sk = s < skipGrads.length ? skipGrads[s] : null;
      if (sk) {
        if (g) {
          dev.axpy(1, sk, g);
          dev.dispose(sk);
        } else g = sk;
      }
      if (!g) continue;
      const next = this.encoder[s]!.backward(g);
      dev.dispose(g);
      g = next;
    }
    if (g) dev.dispose(g);
  }
}
