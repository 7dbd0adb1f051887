import type { Plans } from '../contracts/plans.js';
import type { Registry } from '../registry/registry.js';
import { readImage } from '../dataset/read.js';
import type { Dataset } from '../dataset/types.js';
import { getConfiguration } from '../planning/plans-io.js';

/**
 * Patch axes that must never be mirrored, in training augmentation and in test-time augmentation, because
 * dataset.json declares lateralized labels (`"lateralized_labels": true`, e.g. left and right thalamus as different
 * classes; bad input B35). The left-right axis is the image axis whose direction is closest to world x (LPS), taken
 * from the first training image, then followed through `transpose_forward` to the configuration's patch axes
 * (2d configurations: `[y, x]` of the transposed image; nothing to exclude when slicing along it).
 */
export async function lateralizedMirrorExclusion(ds: Dataset, plans: Plans, configuration: string, registry: Registry): Promise<number[]> {
  if (ds.json.lateralized_labels !== true || !ds.cases.length) return [];
  const img = await readImage(registry, ds.cases[0]!.images[0]!);
  // direction is row-major; column j is the world direction of index axis j (0 = x/i, 1 = y/j, 2 = z/k)
  let j = 0;
  for (let c = 1; c < 3; c++) if (Math.abs(img.direction[c]!) > Math.abs(img.direction[j]!)) j = c;
  const arrayAxis = 2 - j; // arrays are [z, y, x]
  const t = plans.transpose_forward.indexOf(arrayAxis);
  const patch = getConfiguration(plans, configuration).patch_size ?? [];
  if (patch.length === 2) return t === 0 ? [] : [t - 1];
  return [t];
}
