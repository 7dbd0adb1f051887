import type { Rng, Sample, Transform } from '@nnunet-ts/core';
import { binaryClosing, binaryDilation, binaryErosion, binaryOpening, connectedComponents } from './morphology.js';
import { oneHotPreviousStage } from './one-hot.js';

type Op = 'dilation' | 'erosion' | 'opening' | 'closing';
const OPS: Op[] = ['dilation', 'erosion', 'closing', 'opening'];
const OP_FN = { dilation: binaryDilation, erosion: binaryErosion, opening: binaryOpening, closing: binaryClosing };

/** Image channels addressed by (possibly negative, Python-style) indices. */
function resolveChannels(idx: number[], c: number): number[] {
  return idx.map((i) => (i < 0 ? c + i : i));
}

function shuffled<T>(a: T[], rng: Rng): T[] {
  const out = [...a];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Options of `applyRandomBinaryOperatorTransform`. */
export interface BinaryOperatorOptions {
  /** Image channels holding the one-hot previous-stage seg (negative = from the end), e.g. `[-2, -1]`. */
  channels: number[];
  /** Probability the transform runs on a sample (RULES.md §10: 0.4). */
  p?: number;
  /**
   * Probability per channel: 0.5 as nnU-Net v2's trainer passes it since v2.7.0
   * (nnunetv2/training/nnUNetTrainer/nnUNetTrainer.py `get_training_transforms`; v2.4.2 passed 1).
   */
  pPerLabel?: number;
  /** Inclusive integer radius range of the ball (RULES.md §10: 1..8). */
  strelSize?: [number, number];
}

/** Drawn parameters: channels in random order, the morphological operation and ball radius of each. */
export interface BinaryOperatorParams {
  channels: number[];
  ops: Op[];
  radii: number[];
}

/**
 * nnU-Net's `ApplyRandomBinaryOperatorTransform` for the cascade (RULES.md §10): with probability `p`, for each
 * one-hot channel (random order, each with `pPerLabel`) apply dilation, erosion, closing or opening with a
 * ball / disk of random integer radius in `strelSize`; voxels the operation added are removed from the other
 * one-hot channels so the encoding stays exclusive. Radii are integers (nnU-Net samples a float radius; the
 * ball of a float radius is not a voxel-centred ball, so this is a documented simplification).
 */
export function applyRandomBinaryOperatorTransform(o: BinaryOperatorOptions): Transform<BinaryOperatorParams> {
  const p = o.p ?? 0.4;
  const pl = o.pPerLabel ?? 0.5;
  const [r0, r1] = o.strelSize ?? [1, 8];
  return {
    name: 'ApplyRandomBinaryOperatorTransform',
    targets: ['previousStageSegmentation'],
    getParameters(sample: Sample, rng: Rng): BinaryOperatorParams | null {
      if (rng.next() >= p) return null;
      const channels = shuffled(resolveChannels(o.channels, sample.shape[0]!), rng).filter(() => rng.next() < pl);
      return { channels, ops: channels.map(() => OPS[rng.int(0, OPS.length)]!), radii: channels.map(() => rng.int(r0, r1 + 1)) };
    },
    apply(sample: Sample, params: BinaryOperatorParams): Sample {
      const sp = sample.shape.slice(1);
      const n = sp.reduce((a, b) => a * b, 1);
      const img = sample.image;
      const all = resolveChannels(o.channels, sample.shape[0]!);
      params.channels.forEach((c, i) => {
        const ch = img.subarray(c * n, (c + 1) * n);
        const before = Uint8Array.from(ch, (v) => (v !== 0 ? 1 : 0));
        const after = OP_FN[params.ops[i]!](before, sp, params.radii[i]!);
        for (const oc of all) {
          if (oc === c) continue;
          const other = img.subarray(oc * n, (oc + 1) * n);
          for (let v = 0; v < n; v++) if (after[v] && !before[v]) other[v] = 0;
        }
        for (let v = 0; v < n; v++) ch[v] = after[v]!;
      });
      return sample;
    },
  };
}

/** Options of `removeRandomConnectedComponentTransform`. */
export interface RemoveComponentOptions {
  channels: number[];
  /** Probability the transform runs on a sample (nnU-Net v2: `RandomTransform(..., apply_probability=0.2)`). */
  p?: number;
  /**
   * Probability per one-hot channel: 0.5 as nnU-Net v2's trainer passes it since v2.7.0
   * (nnunetv2/training/nnUNetTrainer/nnUNetTrainer.py `get_training_transforms`, `p_per_label=0.5`; v2.4.2 passed 1).
   */
  pPerLabel?: number;
  /** Only components smaller than this fraction of the patch are removed (nnU-Net v2: 0.15). */
  maxFraction?: number;
  /** Probability the removed component is written into another one-hot channel (nnU-Net v2: 0). */
  fillWithOtherClassP?: number;
}

/** Drawn parameters: per channel a uniform number choosing the component, and the fill decision. */
export interface RemoveComponentParams {
  channels: number[];
  pick: number[];
  fillWith: (number | null)[];
}

/**
 * nnU-Net's `RemoveRandomConnectedComponentFromOneHotEncodingTransform` (batchgeneratorsv2
 * transforms/nnunet/remove_connected_components.py; RULES.md §10): with probability `p` (0.2), for each one-hot channel
 * (random order, each with `pPerLabel` 0.5) holding foreground, remove one connected component (full connectivity,
 * chosen uniformly) among those smaller than `maxFraction` (0.15) of the patch; optionally paint it into another
 * channel (`fillWithOtherClassP`, 0 in nnU-Net's trainer).
 */
export function removeRandomConnectedComponentTransform(o: RemoveComponentOptions): Transform<RemoveComponentParams> {
  const p = o.p ?? 0.2;
  const pl = o.pPerLabel ?? 0.5;
  const maxFraction = o.maxFraction ?? 0.15;
  const fillP = o.fillWithOtherClassP ?? 0;
  return {
    name: 'RemoveRandomConnectedComponentFromOneHotEncodingTransform',
    targets: ['previousStageSegmentation'],
    getParameters(sample: Sample, rng: Rng): RemoveComponentParams | null {
      if (rng.next() >= p) return null;
      const all = resolveChannels(o.channels, sample.shape[0]!);
      const channels = shuffled(all, rng).filter(() => rng.next() < pl);
      const pick = channels.map(() => rng.next());
      const fillWith = channels.map((c) => {
        const others = all.filter((x) => x !== c);
        return rng.next() < fillP && others.length ? others[rng.int(0, others.length)]! : null;
      });
      return { channels, pick, fillWith };
    },
    apply(sample: Sample, params: RemoveComponentParams): Sample {
      const sp = sample.shape.slice(1);
      const n = sp.reduce((a, b) => a * b, 1);
      const img = sample.image;
      params.channels.forEach((c, i) => {
        const ch = img.subarray(c * n, (c + 1) * n);
        const { labels, sizes } = connectedComponents(Uint8Array.from(ch, (v) => (v !== 0 ? 1 : 0)), sp);
        const valid = sizes.map((s, k) => [s, k + 1] as const).filter(([s]) => s < n * maxFraction).map(([, k]) => k);
        if (!valid.length) return;
        const id = valid[Math.min(valid.length - 1, Math.floor(params.pick[i]! * valid.length))]!;
        const fill = params.fillWith[i];
        for (let v = 0; v < n; v++)
          if (labels[v] === id) {
            ch[v] = 0;
            if (fill !== null && fill !== undefined) img[fill * n + v] = 1;
          }
      });
      return sample;
    },
  };
}

/**
 * Appends the one-hot previous-stage segmentation to the image (nnU-Net's `MoveSegAsOneHotToData`):
 * reads `sample.properties[key]` (int16 over the sample's spatial shape), adds `foregroundLabels.length`
 * channels and removes the property. Deterministic (parameters are always `{}`). Throws `Error` when absent.
 */
export function moveSegAsOneHotToDataTransform(foregroundLabels: number[], key = 'previousStageSeg'): Transform<Record<string, never>> {
  return {
    name: 'MoveSegAsOneHotToDataTransform',
    targets: ['image', 'previousStageSegmentation'],
    getParameters: () => ({}),
    apply(sample: Sample): Sample {
      const seg = sample.properties?.[key];
      if (!(seg instanceof Int16Array)) throw new Error(`MoveSegAsOneHotToDataTransform: sample.properties.${key} (Int16Array) is missing`);
      const sp = sample.shape.slice(1);
      const oh = oneHotPreviousStage(seg, sp, foregroundLabels);
      const image = new Float32Array(sample.image.length + oh.length);
      image.set(sample.image);
      image.set(oh, sample.image.length);
      const properties = { ...sample.properties };
      delete properties[key];
      return { ...sample, image, shape: [sample.shape[0]! + foregroundLabels.length, ...sp], properties };
    },
  };
}

/** The cascade's training transforms in nnU-Net's order: one-hot move, binary operator (p 0.4), component removal (p 0.2). */
export function cascadeTransforms(foregroundLabels: number[], key = 'previousStageSeg'): Transform[] {
  const channels = foregroundLabels.map((_, i) => i - foregroundLabels.length);
  return [
    moveSegAsOneHotToDataTransform(foregroundLabels, key),
    applyRandomBinaryOperatorTransform({ channels }),
    removeRandomConnectedComponentTransform({ channels }),
  ] as Transform[];
}
