import type { Registry } from '../registry/registry.js';
import { defaultNormalizers } from './normalization/scheme.js';
import { defaultResampler } from './resampling/default-resampler.js';

/**
 * Registers the preprocessing defaults: normalizers `CTNormalization`, `ZScoreNormalization`, `NoNormalization`,
 * `RescaleTo01Normalization`, `RGBTo0_1Normalization` (RULES.md §12) and the resampler `default` (RULES.md §13).
 * @throws PluginError on a duplicate name unless `override`
 */
export function registerPreprocessingDefaults(registry: Registry, opts: { override?: boolean } = {}): void {
  for (const n of defaultNormalizers()) registry.register('normalizer', n, opts);
  registry.register('resampler', defaultResampler(), opts);
}
