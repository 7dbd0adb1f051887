import type { Registry } from '../registry/registry.js';
import { DataError } from '../util/errors.js';
import type { PostprocessingPlan } from './determine.js';
import { KEEP_LARGEST } from './plugins.js';

const isLabel = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0;
const isLabelOrRegion = (v: unknown): boolean => isLabel(v) || (Array.isArray(v) && v.length > 0 && v.every(isLabel));

/**
 * Check a parsed `postprocessing.json` of a model folder (the form `determinePostprocessing` writes, nnU-Net's
 * `postprocessing.pkl` as JSON): `postprocessing_fns` a list of `{ name, kwargs }`; for nnU-Net's keep-largest step
 * `kwargs.labels_or_regions` a label, or a list of labels and regions (lists of labels). With `registry`, every step's
 * name must be a registered postprocessor.
 * @throws DataError naming `file`, the step and the fix
 */
export function checkPostprocessingPlan(value: unknown, file: string, registry?: Registry): PostprocessingPlan {
  const hint = 'delete it to predict without postprocessing, or determine it again: nnunet-ts find-best -o <run>';
  const fns = (value as { postprocessing_fns?: unknown } | null)?.postprocessing_fns;
  if (!value || typeof value !== 'object' || Array.isArray(value) || !Array.isArray(fns)) {
    throw new DataError("invalid postprocessing plan: expected an object with a 'postprocessing_fns' list", { file, hint });
  }
  fns.forEach((s: unknown, i) => {
    const step = s as { name?: unknown; kwargs?: unknown } | null;
    if (!step || typeof step !== 'object' || typeof step.name !== 'string' || !step.kwargs || typeof step.kwargs !== 'object' || Array.isArray(step.kwargs)) {
      throw new DataError(`invalid postprocessing step ${i}: expected { "name": string, "kwargs": object }, got ${JSON.stringify(s)?.slice(0, 100)}`, { file, hint });
    }
    if (registry && !registry.has('postprocessor', step.name)) {
      throw new DataError(`postprocessing step ${i}: no postprocessor named '${step.name}'`, { file, hint: `registered: ${registry.names('postprocessor').join(', ')}; ${hint}` });
    }
    const k = step.kwargs as Record<string, unknown>;
    if (step.name !== KEEP_LARGEST) return;
    const bad = [
      !(isLabel(k.labels_or_regions) || (Array.isArray(k.labels_or_regions) && k.labels_or_regions.every(isLabelOrRegion))) && `labels_or_regions must be a label or a list of labels and regions, got ${JSON.stringify(k.labels_or_regions)?.slice(0, 100)}`,
      k.background_label !== undefined && !isLabel(k.background_label) && `background_label must be a label, got ${JSON.stringify(k.background_label)}`,
      k.connectivity !== undefined && k.connectivity !== 6 && k.connectivity !== 26 && `connectivity must be 6 or 26, got ${JSON.stringify(k.connectivity)}`,
    ].filter(Boolean);
    if (bad.length) throw new DataError(`postprocessing step ${i} (${step.name}): ${bad.join('; ')}`, { file, hint });
  });
  return value as PostprocessingPlan;
}
