import {
  appendPreviousStage,
  applyPostprocessing,
  cascadeTransformsFrom,
  exportPrediction,
  labelManager,
  predictPreprocessed,
  preprocessCase,
  previousStageToGrid,
  type MedicalImage,
} from '@nnunet-ts/core';
import type { WebModel } from './model.js';

/** Options of {@link segmentCase}. */
export interface SegmentOptions {
  /** Mirroring test-time augmentation (default true, as `nnunet-ts predict`). */
  mirror?: boolean;
  /** Tile step as a fraction of the patch (default 0.5, RULES.md §18). */
  stepSize?: number;
  /** Apply the model's postprocessing (default true; a cascade's previous stage runs without, as in nnU-Net). */
  postprocessing?: boolean;
  /**
   * Called with a stage name and, during the sliding window, tiles done / total; `configuration` says which model
   * (the previous stage's first for a cascade).
   */
  onProgress?: (stage: 'preprocess' | 'predict' | 'export', done: number, total: number, configuration: string) => void;
}

/**
 * Segments one case in the page exactly as `nnunet-ts predict` does (`segmentImageFull` and `preprocessForModel` in
 * core's predict stage): core's `preprocessCase` (crop to nonzero, normalise, resample to the configuration's
 * spacing); for a cascade stage, the previous stage's segmentation of the image (every fold, no postprocessing)
 * brought onto the preprocessed grid (`previousStageToGrid`) and appended as one-hot channels
 * (`appendPreviousStage`, RULES.md §10); `predictPreprocessed` (Gaussian-weighted sliding window over every fold,
 * mirroring TTA), `exportPrediction` (logits back to the cropped grid, argmax, paste into the crop box, transpose
 * back) and the model's postprocessing. `image` is `[c, z, y, x]` with its geometry; returns the label map
 * `[z, y, x]` on the input's grid.
 * @throws the core functions' errors (`DataError`/`NnunetError`) for images the plans cannot handle.
 */
export async function segmentCase(model: WebModel, image: MedicalImage, opts: SegmentOptions = {}): Promise<Int16Array> {
  const { plans, configuration, dataset, postprocessing } = model.manifest;
  const registry = model.registry;
  const prevSeg = model.previous ? await segmentCase(model.previous, image, { ...opts, postprocessing: false }) : null;
  const progress = (stage: 'preprocess' | 'predict' | 'export', done: number, total: number): void => opts.onProgress?.(stage, done, total, configuration);
  progress('preprocess', 0, 1);
  let pp = preprocessCase(
    { image: Float32Array.from(image.data), shape: [...image.shape], spacing: [...image.spacing], seg: null },
    plans,
    configuration,
    registry,
    { consumeInput: true },
  );
  if (prevSeg) {
    const grid = previousStageToGrid(prevSeg, pp.properties, pp.shape.slice(1), plans, configuration, registry);
    const cascade = cascadeTransformsFrom(registry, dataset, { patchSize: model.patchSize, dims: 3, mirrorAxes: [], doDummy2D: false });
    pp = { ...pp, ...appendPreviousStage(cascade, pp.data, pp.shape, grid) };
  }
  const logits = await predictPreprocessed(model, pp.data, pp.shape, {
    stepSize: opts.stepSize ?? 0.5,
    mirror: opts.mirror ?? true,
    onProgress: (d, t) => progress('predict', d, t),
  });
  progress('export', 0, 1);
  const n = pp.shape[1]! * pp.shape[2]! * pp.shape[3]!;
  const shape = [logits.length / n, pp.shape[1]!, pp.shape[2]!, pp.shape[3]!];
  const { seg } = exportPrediction(logits, shape, pp.properties, plans, configuration, registry, {
    returnProbabilities: false,
    regionsClassOrder: labelManager(dataset, 'dataset.json').regionsClassOrder ?? undefined,
  });
  return opts.postprocessing !== false && postprocessing?.length ? applyPostprocessing(seg, image.shape.slice(1), postprocessing, registry) : seg;
}
