import {
  applyPostprocessing,
  exportPrediction,
  labelManager,
  predictPreprocessed,
  preprocessCase,
  type MedicalImage,
} from '@nnunet-ts/core';
import type { WebModel } from './model.js';

/** Options of {@link segmentCase}. */
export interface SegmentOptions {
  /** Mirroring test-time augmentation (default true, as `nnunet-ts predict`). */
  mirror?: boolean;
  /** Tile step as a fraction of the patch (default 0.5, RULES.md §18). */
  stepSize?: number;
  /** Called with a stage name and, during the sliding window, tiles done / total. */
  onProgress?: (stage: 'preprocess' | 'predict' | 'export', done: number, total: number) => void;
}

/**
 * Segments one case in the page exactly as `nnunet-ts predict` does for a single-stage model
 * (`segmentImageFull` in core's predict stage): core's `preprocessCase` (crop to nonzero, normalise, resample to the
 * configuration's spacing), `predictPreprocessed` (Gaussian-weighted sliding window over every fold, mirroring
 * TTA), `exportPrediction` (logits back to the cropped grid, argmax, paste into the crop box, transpose back) and
 * the model's postprocessing. `image` is `[c, z, y, x]` with its geometry; returns the label map `[z, y, x]` on the
 * input's grid.
 * @throws the core functions' errors (`DataError`/`NnunetError`) for images the plans cannot handle.
 */
export async function segmentCase(model: WebModel, image: MedicalImage, opts: SegmentOptions = {}): Promise<Int16Array> {
  const { plans, configuration, dataset, postprocessing } = model.manifest;
  const registry = model.registry;
  opts.onProgress?.('preprocess', 0, 1);
  const pp = preprocessCase(
    { image: Float32Array.from(image.data), shape: [...image.shape], spacing: [...image.spacing], seg: null },
    plans,
    configuration,
    registry,
    { consumeInput: true },
  );
  const logits = await predictPreprocessed(model, pp.data, pp.shape, {
    stepSize: opts.stepSize ?? 0.5,
    mirror: opts.mirror ?? true,
    onProgress: (d, t) => opts.onProgress?.('predict', d, t),
  });
  opts.onProgress?.('export', 0, 1);
  const n = pp.shape[1]! * pp.shape[2]! * pp.shape[3]!;
  const shape = [logits.length / n, pp.shape[1]!, pp.shape[2]!, pp.shape[3]!];
  const { seg } = exportPrediction(logits, shape, pp.properties, plans, configuration, registry, {
    returnProbabilities: false,
    regionsClassOrder: labelManager(dataset, 'dataset.json').regionsClassOrder ?? undefined,
  });
  return postprocessing?.length ? applyPostprocessing(seg, image.shape.slice(1), postprocessing, registry) : seg;
}
