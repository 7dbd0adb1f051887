import type { Registry } from '../registry/registry.js';
import { corePostprocessors } from '../postprocessing/plugins.js';
import { registerPlanners } from '../planning/index.js';
import { registerPreprocessingDefaults } from '../preprocessing/index.js';

/**
 * Register the defaults that live in core: planners (core/src/planning `registerPlanners`), normalizers and the
 * resampler (core/src/preprocessing `registerPreprocessingDefaults`), and the postprocessors of
 * core/src/postprocessing. `override` replaces same-named plugins already registered.
 */
export function registerCoreDefaults(registry: Registry, opts: { override?: boolean } = {}): void {
  registerPlanners(registry, opts);
  registerPreprocessingDefaults(registry, opts);
  for (const p of corePostprocessors()) {
    if (!opts.override && registry.has('postprocessor', p.name)) continue;
    registry.register('postprocessor', p, opts);
  }
}

/** Core's defaults as a plugin module. */
export const corePlugin = { name: '@nnunet-ts/core', register: registerCoreDefaults };
