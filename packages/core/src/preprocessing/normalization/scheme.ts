import type { Normalizer } from '../../contracts/normalizer.js';
import { ctNormalization } from './ct.js';
import { noNormalization, rescaleTo01Normalization, rgbTo01Normalization } from './simple.js';
import { zScoreNormalization } from './zscore.js';

/** nnU-Net's `channel_name_to_normalization_mapping` (RULES.md §12), keys lower case. */
export const CHANNEL_NAME_TO_SCHEME: Readonly<Record<string, string>> = {
  ct: 'CTNormalization',
  nonorm: 'NoNormalization',
  zscore: 'ZScoreNormalization',
  rescale_to_0_1: 'RescaleTo01Normalization',
  rgb_to_0_1: 'RGBTo0_1Normalization',
};

/** Scheme for a dataset.json channel name, case-insensitive; anything else is `ZScoreNormalization` (RULES.md §12). */
export function normalizationSchemeForChannel(channelName: string): string {
  return CHANNEL_NAME_TO_SCHEME[channelName.toLowerCase()] ?? 'ZScoreNormalization';
}

/** The five default normalizer plugins, in registration order. */
export function defaultNormalizers(): Normalizer[] {
  return [ctNormalization(), zScoreNormalization(), noNormalization(), rescaleTo01Normalization(), rgbTo01Normalization()];
}
