/**
 * Memory estimates the planners size patches with (RULES.md §8). The v2 numbers are counts of conv OUTPUT
 * feature-map elements (not bytes), exactly as dynamic_network_architectures' `compute_conv_feature_map_size`;
 * batch size and input channels are not included.
 */

/** What the v2 estimate needs from an architecture (all lists stage 0 first, spatial order `[z, y, x]`). */
export interface VramArch {
  /** Channels per encoder stage. */
  featuresPerStage: readonly number[];
  /** Stride per encoder stage (stage 0 = stem, all ones in nnU-Net plans). */
  strides: readonly (readonly number[])[];
  /** PlainConvUNet: convs per encoder stage (`n_conv_per_stage`). */
  nConvPerStage?: readonly number[];
  /** ResidualEncoderUNet: residual blocks per encoder stage (`n_blocks_per_stage`); when set, the ResEnc formula is used. */
  nBlocksPerStage?: readonly number[];
  /** Convs per decoder stage (`n_conv_per_stage_decoder`), length n_stages - 1. */
  nConvPerStageDecoder: readonly number[];
}

const floorDiv = (a: readonly number[], b: readonly number[]): number[] => a.map((v, i) => Math.floor(v / b[i]!));

/**
 * v2 estimate (RULES.md §8): `net.compute_conv_feature_map_size(patch_size)` for a PlainConvUNet (or, with
 * `nBlocksPerStage`, a ResidualEncoderUNet: a 1-conv stem at full resolution, two convs per BasicBlockD plus a
 * projection skip when channels or size change) with `deep_supervision=False`.
 * - encoder: per stage, per conv, `C_out * prod(size // stride)`; the next stage starts from `size // stride`;
 * - decoder: per stage at the skip resolution `n_conv * C_skip * prod(skip)` + transposed-conv output
 *   `C_skip * prod(skip)`, + `numClasses * prod(skip)` for the last (highest-resolution) stage only.
 * @param patchSize voxels `[z, y, x]` or `[y, x]`.
 * @param numClasses `len(dataset.json labels)` (background included).
 * @returns element count (an integer; exact in float64 below 2^53).
 */
export function computeVramEstimate(patchSize: readonly number[], arch: VramArch, numClasses: number): number {
  const { featuresPerStage: f, strides } = arch;
  const nStages = f.length;
  let total = 0;
  let size = [...patchSize];
  if (arch.nBlocksPerStage) {
    // stem: one conv, stride 1, features_per_stage[0] channels
    total += f[0]! * prodInt(size);
    let inCh = f[0]!;
    for (let s = 0; s < nStages; s++) {
      const after = floorDiv(size, strides[s]!);
      const n = arch.nBlocksPerStage[s]!;
      for (let b = 0; b < n; b++) {
        const blockIn = b === 0 ? size : after;
        const blockInCh = b === 0 ? inCh : f[s]!;
        const changes = blockInCh !== f[s]! || blockIn.some((v, i) => v !== after[i]);
        total += (changes ? 3 : 2) * f[s]! * prodInt(after);
      }
      inCh = f[s]!;
      size = after;
    }
  } else {
    const nConv = arch.nConvPerStage ?? new Array<number>(nStages).fill(2);
    for (let s = 0; s < nStages; s++) {
      const after = floorDiv(size, strides[s]!);
      total += nConv[s]! * f[s]! * prodInt(after);
      size = after;
    }
  }
  // decoder
  const skips: number[][] = [];
  let cur = [...patchSize];
  for (let s = 0; s < nStages - 1; s++) {
    cur = floorDiv(cur, strides[s]!);
    skips.push(cur);
  }
  const nDec = nStages - 1;
  for (let s = 0; s < nDec; s++) {
    const skip = skips[skips.length - 1 - s]!;
    const cSkip = f[nStages - 2 - s]!;
    const p = prodInt(skip);
    total += arch.nConvPerStageDecoder[s]! * cSkip * p; // conv blocks
    total += cSkip * p; // transposed conv output
    if (s === nDec - 1) total += numClasses * p; // seg head of the last stage only
  }
  return total;
}

/**
 * v1 `Generic_UNet.compute_approx_vram_consumption` (RULES.md §8 v1):
 * `(2*cps+1)*prod(patch)*base + inCh*prod(patch) + nCls*prod(patch)`, then per pooling p (map floor-divided by
 * its kernel, features doubled up to `maxFeatures`) `((2*cps+1) if p < npool-1 else cps) * prod(map) * f`.
 * @param patchSize voxels; @param poolKernels v1 kernels WITHOUT the stem stage.
 */
export function computeVramEstimateV1(
  patchSize: readonly number[],
  poolKernels: readonly (readonly number[])[],
  baseFeatures: number,
  maxFeatures: number,
  numInputChannels: number,
  numClasses: number,
  convPerStage = 2,
): number {
  const map = [...patchSize];
  const npool = poolKernels.length;
  const p0 = prodInt(map);
  let tmp = (convPerStage * 2 + 1) * p0 * baseFeatures + numInputChannels * p0 + numClasses * p0;
  let nf = baseFeatures;
  for (let p = 0; p < npool; p++) {
    for (let i = 0; i < map.length; i++) map[i] = Math.trunc(map[i]! / poolKernels[p]![i]!);
    nf = Math.min(nf * 2, maxFeatures);
    const blocks = p < npool - 1 ? convPerStage * 2 + 1 : convPerStage;
    tmp += blocks * prodInt(map) * nf;
  }
  return tmp;
}

function prodInt(v: readonly number[]): number {
  let p = 1;
  for (const x of v) p *= x;
  return p;
}
