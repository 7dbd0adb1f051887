/** One v2 configuration from a request, and the 3d_lowres search (RULES.md §10). */
import type { PlansConfiguration } from '../contracts/plans.js';
import { determineResampling } from './decisions.js';
import { prod, roundHalfEven } from './math.js';
import type { ConfigurationRequest, PlanningContext } from './v2-types.js';

/** The full configuration entry (nnU-Net field order) for one request, via `decide.patchAndBatch`. */
export function configurationFor(ctx: PlanningContext, name: string, req: ConfigurationRequest): PlansConfiguration {
  const r = ctx.settings.decide.patchAndBatch(ctx.settings, req);
  return {
    data_identifier: ctx.settings.dataIdentifier(ctx.plansName, name),
    preprocessor_name: 'DefaultPreprocessor',
    batch_size: r.batchSize,
    patch_size: r.patchSize,
    median_image_size_in_voxels: [...req.medianShape],
    spacing: [...req.spacing],
    normalization_schemes: [...ctx.normalization.schemes],
    use_mask_for_norm: [...ctx.normalization.useMaskForNorm],
    ...determineResampling(),
    architecture: r.architecture,
  };
}

/**
 * v2 3d_lowres search (RULES.md §10): grow the spacing by `spacingIncreaseFactor` (first only the axes more than 2x
 * finer than the coarsest) until the lowres patch covers >= `lowresCreationThreshold` of the lowres median image;
 * dropped when the lowres median image is not at least 2x smaller than the fullres one. Returns undefined when none.
 */
export function planLowres(
  ctx: PlanningContext,
  fullres: PlansConfiguration,
  newMedianT: readonly number[],
  numTraining: number,
  base: { numInputChannels: number; numClasses: number; gpuMemoryTargetGb: number },
): PlansConfiguration | undefined {
  const s = ctx.settings;
  const fullSpacing = fullres.spacing!;
  let medianVoxels = prod(newMedianT);
  let patchVoxels = prod(fullres.patch_size!);
  const lowSpacing = [...fullSpacing];
  let lowres: PlansConfiguration | undefined;
  let guard = 0;
  while (patchVoxels / medianVoxels < s.lowresCreationThreshold) {
    if (++guard > 10000) throw new Error('3d_lowres search did not terminate');
    const maxSp = Math.max(...lowSpacing);
    const fine = lowSpacing.map((v) => maxSp / v > 2);
    if (fine.some(Boolean)) {
      for (let i = 0; i < lowSpacing.length; i++) if (fine[i]) lowSpacing[i]! *= s.spacingIncreaseFactor;
    } else {
      for (let i = 0; i < lowSpacing.length; i++) lowSpacing[i]! *= s.spacingIncreaseFactor;
    }
    const medLow = fullSpacing.map((v, i) => (v / lowSpacing[i]!) * newMedianT[i]!);
    medianVoxels = prod(medLow);
    lowres = configurationFor(ctx, '3d_lowres', {
      ...base,
      spacing: [...lowSpacing],
      medianShape: medLow.map(roundHalfEven),
      approxVoxelsDataset: medianVoxels * numTraining,
    });
    patchVoxels = prod(lowres.patch_size!);
  }
  if (prod(newMedianT) / medianVoxels < 2) return undefined;
  return lowres;
}
