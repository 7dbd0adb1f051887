/** A preprocessed training case as the cache returns it (`readPreprocessedCase`, nnU-Net names in `properties`). */
export interface PreprocessedCaseData {
  /** `[c, z, y, x]` float32. */
  data: Float32Array;
  /** `[z, y, x]` int16 with -1 outside the nonzero mask; null for unlabeled cases (not usable for training). */
  seg: Int16Array | null;
  /** `[c, z, y, x]`. */
  shape: number[];
  /**
   * Cascade only: the previous stage's segmentation resampled to this grid (`[z, y, x]` int16), appended by the
   * trainer as one-hot channels (RULES.md §10).
   */
  previousStageSeg?: Int16Array | null;
  properties: {
    /** Sampled foreground voxel indices `[z, y, x]` per label (string keys), for oversampling (RULES.md §14, §15). */
    class_locations?: Record<string, number[][]>;
    [key: string]: unknown;
  };
}

/** Where the trainer gets cases from. `load` throws `DataError` naming the file for a corrupt case (B45). */
export interface CaseSource {
  load(id: string): Promise<PreprocessedCaseData>;
}

/** A {@link CaseSource} over cases held in memory (tests, small datasets). */
export function memoryCaseSource(cases: Record<string, PreprocessedCaseData>): CaseSource {
  return {
    async load(id) {
      const c = cases[id];
      if (!c) throw new Error(`case '${id}' is not in the in-memory case source`);
      return c;
    },
  };
}
