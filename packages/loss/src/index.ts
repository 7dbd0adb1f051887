/** @nnunet-ts/loss: nnU-Net's compound losses `DC_and_CE_loss` and (regions) `DC_and_BCE_loss` with deep supervision (RULES.md §15-§16). */
import type { PluginModule, Registry } from '@nnunet-ts/core';
import { dcAndCeLossFactory } from './dc-and-ce.js';
import { dcAndBceLossFactory } from './dc-and-bce.js';

export { dcAndCeLoss, dcAndCeLevel, dcAndCeLossFactory } from './dc-and-ce.js';
export { dcAndBceLoss, dcAndBceLevel, dcAndBceLossFactory, type RegionLossOptions } from './dc-and-bce.js';

/** Losses this package registers. */
export const losses = [dcAndCeLossFactory, dcAndBceLossFactory];

/** Registers `DC_and_CE_loss` and `DC_and_BCE_loss`. Throws `PluginError` on duplicates unless `override`. */
export function registerDefaults(registry: Registry, opts?: { override?: boolean }): void {
  for (const l of losses) registry.register('loss', l, opts);
}

export const plugin: PluginModule = { name: '@nnunet-ts/loss', register: registerDefaults };
