/**
 * The one place plans JSON is read (nnUNetPlans.json of a run, plans.json of a model folder): parse, convert the
 * legacy configuration form, validate against {@link PLANS_SCHEMA} and the structural rules of `validatePlans`,
 * resolve `inherits_from`. Everything downstream takes the `Plans` object this returns; nothing else parses plans.
 *
 * Format: nnU-Net v2 plans files as written by `ExperimentPlanner.plan_experiment`
 * (nnunetv2/experiment_planning/experiment_planners/default_experiment_planner.py) and read by `PlansManager` /
 * `ConfigurationManager` (nnunetv2/utilities/plans_handling/plans_handler.py), including the pre-2.3 form with
 * `UNet_class_name` / `pool_op_kernel_sizes` that `ConfigurationManager` still converts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import type { ArchitectureSpec, Plans, PlansConfiguration } from '../contracts/plans.js';
import { DataError } from '../util/errors.js';
import { convertLegacyPlans, getConfiguration, listConfigurations } from './plans-io.js';

/**
 * A configuration after `inherits_from` resolution with every field the pipeline uses present (what `loadPlans`
 * guarantees for each configuration of a plans file). Spatial lists are in the plans' transposed `[z, y, x]` order.
 */
export interface ResolvedConfiguration extends PlansConfiguration {
  data_identifier: string;
  preprocessor_name: string;
  batch_size: number;
  patch_size: number[];
  median_image_size_in_voxels: number[];
  spacing: number[];
  normalization_schemes: string[];
  use_mask_for_norm: boolean[];
  resampling_fn_data: string;
  resampling_fn_seg: string;
  resampling_fn_data_kwargs: Record<string, unknown>;
  resampling_fn_seg_kwargs: Record<string, unknown>;
  resampling_fn_probabilities: string;
  resampling_fn_probabilities_kwargs: Record<string, unknown>;
  architecture: ArchitectureSpec;
  batch_dice: boolean;
}

const intList = { type: 'array', items: { type: 'integer' } };
const numList = { type: 'array', items: { type: 'number' } };
const posNumList = { type: 'array', minItems: 2, maxItems: 3, items: { type: 'number', exclusiveMinimum: 0 } };
const posIntList = { type: 'array', minItems: 2, maxItems: 3, items: { type: 'integer', minimum: 1 } };
const kwargs = { type: 'object' };
const nested = { type: 'array', items: { type: 'array', items: { type: 'integer', minimum: 1 } } };

/** Fields of a configuration and their types (each may come from an `inherits_from` parent). */
const CONFIGURATION_PROPERTIES = {
  data_identifier: { type: 'string', minLength: 1 },
  preprocessor_name: { type: 'string', minLength: 1 },
  batch_size: { type: 'integer', minimum: 1 },
  patch_size: posIntList,
  median_image_size_in_voxels: numList,
  spacing: posNumList,
  normalization_schemes: { type: 'array', minItems: 1, items: { type: 'string' } },
  use_mask_for_norm: { type: 'array', items: { type: 'boolean' } },
  resampling_fn_data: { type: 'string' },
  resampling_fn_seg: { type: 'string' },
  resampling_fn_probabilities: { type: 'string' },
  resampling_fn_data_kwargs: kwargs,
  resampling_fn_seg_kwargs: kwargs,
  resampling_fn_probabilities_kwargs: kwargs,
  batch_dice: { type: 'boolean' },
  inherits_from: { type: 'string' },
  previous_stage: { type: 'string' },
  next_stage: { type: 'string' },
  architecture: {
    type: 'object',
    required: ['network_class_name', 'arch_kwargs'],
    properties: {
      network_class_name: { type: 'string', minLength: 1 },
      arch_kwargs: {
        type: 'object',
        required: ['n_stages', 'features_per_stage', 'kernel_sizes', 'strides', 'n_conv_per_stage_decoder'],
        properties: {
          n_stages: { type: 'integer', minimum: 1 },
          features_per_stage: { type: 'array', items: { type: 'integer', minimum: 1 } },
          kernel_sizes: nested,
          strides: nested,
          n_conv_per_stage: intList,
          n_blocks_per_stage: intList,
          n_conv_per_stage_decoder: intList,
        },
      },
    },
  },
} as const;

/** The fields a resolved configuration must have (nnU-Net's planners write all of them). */
export const REQUIRED_CONFIGURATION_FIELDS = Object.keys(CONFIGURATION_PROPERTIES).filter(
  (k) => !['inherits_from', 'previous_stage', 'next_stage'].includes(k),
) as (keyof ResolvedConfiguration)[];

/** JSON schema of a plans file (unknown keys are allowed: nnU-Net variants add their own). */
export const PLANS_SCHEMA = {
  type: 'object',
  required: ['dataset_name', 'plans_name', 'transpose_forward', 'transpose_backward', 'configurations', 'foreground_intensity_properties_per_channel'],
  properties: {
    dataset_name: { type: 'string' },
    plans_name: { type: 'string' },
    original_median_spacing_after_transp: numList,
    original_median_shape_after_transp: numList,
    image_reader_writer: { type: 'string' },
    transpose_forward: { type: 'array', minItems: 3, maxItems: 3, items: { enum: [0, 1, 2] } },
    transpose_backward: { type: 'array', minItems: 3, maxItems: 3, items: { enum: [0, 1, 2] } },
    experiment_planner_used: { type: 'string' },
    label_manager: { type: 'string' },
    foreground_intensity_properties_per_channel: { type: 'object' },
    configurations: {
      type: 'object',
      minProperties: 1,
      additionalProperties: { type: 'object', properties: CONFIGURATION_PROPERTIES },
    },
  },
} as const;

/** Schema of one configuration after `inherits_from` resolution: every field of {@link ResolvedConfiguration}. */
export const RESOLVED_CONFIGURATION_SCHEMA = { type: 'object', required: REQUIRED_CONFIGURATION_FIELDS, properties: CONFIGURATION_PROPERTIES };

let validators: { plans: ReturnType<Ajv['compile']>; config: ReturnType<Ajv['compile']> } | undefined;
/**
 * The plans validators (ajv), compiled once per process on first use (~0.2 s on an idle core; more under load). A
 * process about to run queued jobs calls it before taking one (`prepareJobProcess`), so its first job does not pay.
 */
export function compiledPlansValidators() {
  if (!validators) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    validators = { plans: ajv.compile(PLANS_SCHEMA), config: ajv.compile(RESOLVED_CONFIGURATION_SCHEMA) };
  }
  return validators;
}

function schemaProblems(errors: ErrorObject[] | null | undefined, prefix: string): string[] {
  return (errors ?? []).map((e) => {
    const at = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '';
    if (e.keyword === 'required') return `${prefix}${at ? `${at}: ` : ''}missing field '${(e.params as { missingProperty: string }).missingProperty}'`;
    return `${prefix}${at || '(top level)'}: ${e.message}`;
  });
}

/** Every configuration of `plans` resolved (`inherits_from` applied); one that cannot be is a problem pushed to `problems`. */
function resolvedConfigurations(plans: Plans, problems: string[]): [string, PlansConfiguration][] {
  const out: [string, PlansConfiguration][] = [];
  for (const name of listConfigurations(plans)) {
    try {
      out.push([name, getConfiguration(plans, name)]);
    } catch (e) {
      problems.push(`${name}: ${(e as Error).message}`);
    }
  }
  return out;
}

/**
 * Every problem of a parsed plans object: schema violations of the file, of each resolved configuration (missing
 * fields), inheritance errors and `validatePlans`' structural rules. Empty when the plans are usable.
 */
export function plansProblems(plans: Plans): string[] {
  const v = compiledPlansValidators();
  if (!v.plans(plans)) return schemaProblems(v.plans.errors, '');
  const problems: string[] = [];
  for (const [name, c] of resolvedConfigurations(plans, problems)) {
    if (!v.config(c)) problems.push(...schemaProblems(v.config.errors, `configuration '${name}' `));
  }
  return problems.length ? problems : validatePlans(plans);
}

/**
 * Turn parsed JSON into validated plans: legacy configurations converted to the arch-dict form, then
 * {@link plansProblems} checked. `where` names the source in errors.
 * @throws DataError naming `where`, every problem and the fix.
 */
export function parsePlans(raw: unknown, where: string): Plans {
  const r = raw as Plans | null;
  if (!r || typeof r !== 'object' || typeof r.configurations !== 'object' || r.configurations === null) {
    throw new DataError('not an nnU-Net v2 plans file (no "configurations" object)', {
      file: where,
      hint: 'nnU-Net v1 plans (plans_per_stage) must be re-planned: run `nnunet-ts plan`',
    });
  }
  const plans = convertLegacyPlans(r, where);
  const problems = plansProblems(plans);
  if (problems.length) {
    throw new DataError(`invalid plans: ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? `; ... (${problems.length} problems)` : ''}`, {
      file: where,
      hint: 'fix the hand-edited fields (patch_size divisible by the product of the strides, batch_size >= 1, ...) or plan again',
    });
  }
  return plans;
}

/**
 * Read and validate a plans file (nnUNetPlans.json or a model folder's plans.json). NaN/Infinity are not valid
 * plans values and are rejected by the JSON parser.
 * @throws DataError naming the file when it is missing, not JSON, or not valid plans (each problem listed).
 */
export function loadPlans(file: string): Plans {
  if (!existsSync(file)) {
    throw new DataError('plans file not found', {
      file,
      hint: 'run `nnunet-ts plan <dataset> -o <run>` first, or point to a trained model folder with plans.json',
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new DataError(`plans file is not valid JSON (${(e as Error).message})`, { file, cause: e });
  }
  return parsePlans(raw, file);
}

/**
 * The configuration `name` of validated plans with every field present.
 * @throws NnunetError for an unknown configuration (listing the available ones); DataError when a field is
 * missing (plans that did not come through `loadPlans`).
 */
export function resolvedConfiguration(plans: Plans, name: string): ResolvedConfiguration {
  const c = getConfiguration(plans, name);
  const v = compiledPlansValidators();
  if (!v.config(c)) {
    throw new DataError(`plans '${plans.plans_name}' configuration '${name}': ${schemaProblems(v.config.errors, '').join('; ')}`, { hint: 'plan again' });
  }
  return c as ResolvedConfiguration;
}

/** Types of the configuration fields `validatePlans` and the pipeline rely on (a hand-edited or damaged plans file). */
function configurationTypeProblems(c: PlansConfiguration): string[] {
  const out: string[] = [];
  const ints = (v: unknown, min = 1) => Array.isArray(v) && v.length > 0 && v.every((x) => Number.isInteger(x) && x >= min);
  const a = c.architecture!.arch_kwargs as unknown as Record<string, unknown>;
  if (!ints(c.patch_size)) out.push(`patch_size must be a list of positive integers, got ${JSON.stringify(c.patch_size)}`);
  if (c.spacing !== undefined && !(Array.isArray(c.spacing) && c.spacing.every((v) => Number.isFinite(v) && v > 0))) out.push(`spacing must be a list of positive numbers, got ${JSON.stringify(c.spacing)}`);
  if (!Number.isInteger(a.n_stages) || (a.n_stages as number) < 1) out.push(`arch_kwargs.n_stages must be a positive integer, got ${JSON.stringify(a.n_stages)}`);
  for (const k of ['strides', 'kernel_sizes']) {
    if (!Array.isArray(a[k]) || !(a[k] as unknown[]).every((s) => ints(s))) out.push(`arch_kwargs.${k} must be a list of integer lists, got ${JSON.stringify(a[k])}`);
  }
  if (!ints(a.features_per_stage)) out.push(`arch_kwargs.features_per_stage must be a list of positive integers, got ${JSON.stringify(a.features_per_stage)}`);
  const dec = a.n_conv_per_stage_decoder;
  if (!(Array.isArray(dec) && dec.every((x) => Number.isInteger(x) && x >= 1))) out.push(`arch_kwargs.n_conv_per_stage_decoder must be a list of positive integers, got ${JSON.stringify(a.n_conv_per_stage_decoder)}`);
  const enc = a.n_conv_per_stage ?? a.n_blocks_per_stage;
  if (enc !== undefined && !ints(enc)) out.push(`arch_kwargs.n_conv_per_stage must be a list of positive integers, got ${JSON.stringify(enc)}`);
  return out;
}

/**
 * Structural checks of a plans object (after `inherits_from` resolution): every configuration with an architecture
 * has consistent stage counts (`n_stages` == strides == kernel_sizes == features_per_stage, decoder n_stages - 1)
 * and a patch divisible by the product of its strides per axis (RULES.md §6: 2^pools), a batch size >= 1, and spacing,
 * patch and median shape of the same dimensionality. Returns the list of problems (empty when valid).
 */
export function validatePlans(plans: Plans): string[] {
  const problems: string[] = [];
  for (const [name, c] of resolvedConfigurations(plans, problems)) {
    const a = c.architecture?.arch_kwargs;
    const patch = c.patch_size;
    if (!a || !patch) {
      problems.push(`${name}: missing architecture or patch_size`);
      continue;
    }
    const typeErrors = configurationTypeProblems(c);
    if (typeErrors.length) {
      problems.push(...typeErrors.map((t) => `${name}: ${t}`));
      continue;
    }
    const n = a.n_stages;
    if (a.strides.length !== n || a.kernel_sizes.length !== n || a.features_per_stage.length !== n) {
      problems.push(`${name}: n_stages ${n} but ${a.strides.length} strides, ${a.kernel_sizes.length} kernel sizes, ${a.features_per_stage.length} feature counts`);
    }
    if (a.n_conv_per_stage_decoder.length !== n - 1) problems.push(`${name}: ${a.n_conv_per_stage_decoder.length} decoder stages for ${n} stages`);
    const enc = a.n_conv_per_stage ?? a.n_blocks_per_stage;
    if (!enc || enc.length !== n) problems.push(`${name}: encoder conv/block counts missing or not one per stage`);
    patch.forEach((p, ax) => {
      const div = a.strides.reduce((acc, s) => acc * (s[ax] ?? 1), 1);
      if (p % div !== 0) problems.push(`${name}: patch axis ${ax} = ${p} is not divisible by ${div} (product of strides)`);
    });
    if (c.spacing && c.spacing.length !== patch.length) problems.push(`${name}: spacing and patch_size differ in length`);
    if (a.strides.some((s) => s.length !== patch.length)) problems.push(`${name}: strides and patch_size differ in dimensionality`);
    if (!(Number(c.batch_size) >= 1)) problems.push(`${name}: batch_size ${c.batch_size} < 1`);
  }
  return problems;
}
