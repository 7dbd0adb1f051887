import type { Registry } from '../registry/registry.js';
import type { Planner } from '../contracts/planner.js';
import { nnUNetPlanner2018, nnUNetPlannerV1, nnUNetPlannerV1Original } from './planner-v1.js';
import { nnUNetPlanner, nnUNetPlannerLegacy, nnUNetPlannerResEncL, nnUNetPlannerResEncM, nnUNetPlannerResEncXL } from './planner-v2.js';

/** Every planner plugin defined in core/planning, in registration order. */
export function allPlanners(): Planner[] {
  return [
    nnUNetPlanner,
    nnUNetPlannerLegacy,
    nnUNetPlannerV1,
    nnUNetPlannerV1Original,
    nnUNetPlanner2018,
    nnUNetPlannerResEncM,
    nnUNetPlannerResEncL,
    nnUNetPlannerResEncXL,
    ...RESENC_PRESET_ALIASES.map(([alias, p]) => ({ ...p, name: alias })),
  ];
}

/**
 * The ResEnc presets are also known by their plans identifiers (`nnUNetResEncUNetMPlans` etc.,
 * nnU-Net `documentation/resenc_presets.md`); `--planner nnUNetResEncUNetM` selects the same planner as
 * `nnUNetPlannerResEncM`.
 */
export const RESENC_PRESET_ALIASES: [string, Planner][] = [
  ['nnUNetResEncUNetM', nnUNetPlannerResEncM],
  ['nnUNetResEncUNetL', nnUNetPlannerResEncL],
  ['nnUNetResEncUNetXL', nnUNetPlannerResEncXL],
];

/**
 * Register the planner plugins (`nnUNetPlanner`, `nnUNetPlannerLegacy`, `nnUNetPlannerV1`, `nnUNetPlannerV1Original`,
 * `nnUNetPlanner2018`,
 * `nnUNetPlannerResEncM/L/XL`, also as `nnUNetResEncUNetM/L/XL`) under kind 'planner'. Throws `PluginError` on a duplicate unless `override`.
 */
export function registerPlanners(registry: Registry, opts: { override?: boolean } = {}): void {
  for (const p of allPlanners()) registry.register('planner', p, opts);
}
