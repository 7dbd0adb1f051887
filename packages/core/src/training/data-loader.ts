import type { Rng, Sample } from '../contracts/augmentation.js';
import type { PreprocessedCaseData } from './case-source.js';
import { PREVIOUS_STAGE_KEY } from './cascade.js';
import { CaseStore, storeOf } from './case-store.js';
import type { ClassOrRegion } from '../dataset/label-manager.js';
import { chooseLocationKey, classLocations, cropWithPadding, forceForeground, getBbox } from './patch-sampler.js';

/** Options of {@link PatchLoader}. */
export interface PatchLoaderOptions {
  /** Final patch `[z, y, x]` or `[y, x]` (2d configurations). */
  patchSize: number[];
  /** Window the loader cuts (>= patch; larger when the spatial transform rotates/scales), same axes. */
  initialPatchSize: number[];
  batchSize: number;
  /** Foreground oversampling fraction (RULES.md §15: 0.33). */
  oversampleForeground?: number;
  /**
   * Classes or regions to locate when a case has no stored `class_locations` (`locationClasses` of the label
   * manager). Default: the labels > 0 present in the seg.
   */
  locationClasses?: ClassOrRegion[];
  /**
   * `class_locations` key of the annotated voxels (`annotatedKey`; datasets with an ignore label): unforced windows
   * are centred on one of them, forced ones on a class other than it (nnU-Net `get_bbox`).
   */
  annotatedKey?: string | null;
}

/**
 * nnU-Net's training data loader (v2 `nnUNetDataLoader3D/2D`, RULES.md §15): each batch draws `batchSize` cases with
 * replacement; sample j is forced to contain foreground when `j >= round(bs * (1 - 0.33))` (a random foreground label
 * of the case, then a random stored voxel of it as the window centre); other windows are uniform over the allowed
 * range, or, with an ignore label, centred on a random annotated voxel. 2d configurations first pick a slice along axis 0 (one containing the chosen label when forced).
 * Outside the image, data is 0 and seg -1. Samples are `[c, z, y, x]` (2D: z = 1) of the initial patch size.
 * All randomness comes from the `rng` passed to `nextBatch`. Cases come from a {@link CaseStore} (or an in-memory map).
 */
export class PatchLoader {
  private readonly locs = new Map<string, Map<string, number[][]>>();
  private readonly store: CaseStore;

  constructor(cases: CaseStore | Map<string, PreprocessedCaseData>, private readonly ids: string[], private readonly o: PatchLoaderOptions) {
    if (!ids.length) throw new Error('PatchLoader: no cases');
    this.store = cases instanceof CaseStore ? cases : storeOf(cases);
  }

  /** One batch of samples (before augmentation), and which were forced to foreground. */
  async nextBatch(rng: Rng): Promise<{ samples: Sample[]; forced: boolean[] }> {
    const samples: Sample[] = [];
    const forced: boolean[] = [];
    const chosen = Array.from({ length: this.o.batchSize }, () => this.ids[rng.int(0, this.ids.length)]!);
    for (let j = 0; j < chosen.length; j++) {
      const force = forceForeground(j, this.o.batchSize, this.o.oversampleForeground ?? 0.33);
      forced.push(force);
      samples.push(this.sample(chosen[j]!, await this.store.get(chosen[j]!), force, rng));
    }
    return { samples, forced };
  }

  private locations(id: string, c: PreprocessedCaseData): Map<string, number[][]> {
    let l = this.locs.get(id);
    if (!l) this.locs.set(id, (l = classLocations(c, this.o.locationClasses)));
    return l;
  }

  /**
   * One window of case `id` (data `c`); `force` centres it on a voxel of a random class when the case has any. With
   * an ignore label, unforced windows are centred on a random annotated voxel (see `chooseLocationKey`).
   */
  sample(id: string, c: PreprocessedCaseData, force: boolean, rng: Rng): Sample {
    const annotated = this.o.annotatedKey ?? null;
    const locs = force || annotated !== null ? this.locations(id, c) : null;
    const key = locs ? chooseLocationKey(locs, force, annotated, rng) : null;
    const voxels = key !== null ? locs!.get(key)! : null;
    const [C, Z, Y, X] = c.shape as [number, number, number, number];
    if (this.o.patchSize.length === 3) {
      const fg = voxels ? voxels[rng.int(0, voxels.length)]! : null;
      const lo = getBbox([Z, Y, X], this.o.initialPatchSize, this.o.patchSize, rng, fg);
      const { image, seg } = cropWithPadding(c.data, c.seg, c.shape, lo, this.o.initialPatchSize);
      const properties: Record<string, unknown> = { case: id };
      // cascade: the previous stage's segmentation, cut from the same window (-1 outside, like the label)
      if (c.previousStageSeg) properties[PREVIOUS_STAGE_KEY] = cropWithPadding(new Float32Array(0), c.previousStageSeg, [0, Z, Y, X], lo, this.o.initialPatchSize).seg;
      return { image, seg, shape: [C, ...this.o.initialPatchSize], properties };
    }
    // 2D: choose a slice (weighted by foreground voxels when forced), then a window in it.
    let fg: number[] | null = null;
    let slice: number;
    if (voxels) {
      const v = voxels[rng.int(0, voxels.length)]!;
      slice = v[0]!;
      const inSlice = voxels.filter((p) => p[0] === slice);
      const w = inSlice[rng.int(0, inSlice.length)]!;
      fg = [w[1]!, w[2]!];
    } else slice = rng.int(0, Z);
    const lo2 = getBbox([Y, X], this.o.initialPatchSize, this.o.patchSize, rng, fg);
    const size = [1, ...this.o.initialPatchSize];
    const { image, seg } = cropWithPadding(c.data, c.seg, c.shape, [slice, ...lo2], size);
    return { image, seg, shape: [C, ...size], properties: { case: id, slice } };
  }
}

/**
 * Stack samples (`[c, z, y, x]` each, same shape) into a batch `[n, c, z, y, x]` and a seg `[n, 1, z, y, x]` with
 * -1 mapped to 0 (the loss never sees -1).
 */
export function assembleBatch(samples: Sample[]): { data: Float32Array; seg: Int16Array; shape: number[]; segShape: number[] } {
  const s0 = samples[0]!;
  const per = s0.image.length;
  const segPer = per / s0.shape[0]!;
  const data = new Float32Array(samples.length * per);
  const seg = new Int16Array(samples.length * segPer);
  samples.forEach((s, i) => {
    if (s.shape.join(',') !== s0.shape.join(',')) throw new Error(`assembleBatch: sample ${i} shape [${s.shape}] != [${s0.shape}]`);
    data.set(s.image, i * per);
    if (s.seg) seg.set(s.seg, i * segPer);
  });
  for (let i = 0; i < seg.length; i++) if (seg[i]! < 0) seg[i] = 0;
  return { data, seg, shape: [samples.length, ...s0.shape], segShape: [samples.length, 1, ...s0.shape.slice(1)] };
}
