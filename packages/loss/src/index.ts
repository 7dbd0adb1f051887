/** @nnunet-ts/loss: nnU-Net's compound loss `DC_and_CE_loss` with deep supervision (spec 1.15-1.16). */
import type { PluginModule, Registry } from '@nnunet-ts/core';
import { dcAndCeLossFactory } from './dc-and-ce.js';

export { dcAndCeLoss, dcAndCeLevel, dcAndCeLossFactory } from './dc-and-ce.js';

/** Losses this package registers. */
export const losses = [dcAndCeLossFactory];

/** Registers `DC_and_CE_loss`. Throws `PluginError` on duplicates unless `override`. */
export function registerDefaults(registry: Registry, opts?: { override?: boolean }): void {
  for (const l of losses) registry.register('loss', l, opts);
}

export const plugin: PluginModule = { name: '@nnunet-ts/loss', register: registerDefaults };
