import type { InjectionToken } from 'tsyringe';
import type { ImageReader, ImageWriter } from '../contracts/image-io.js';
import type { Resampler } from '../contracts/resampler.js';
import type { Normalizer } from '../contracts/normalizer.js';
import type { NetworkFactory } from '../contracts/network.js';
import type { LossFactory } from '../contracts/loss.js';
import type { AugmentationFactory } from '../contracts/augmentation.js';
import type { Postprocessor } from '../contracts/postprocessor.js';
import type { Planner } from '../contracts/planner.js';
import type { BackendPlugin } from '../contracts/backend.js';
import type { JobQueuePlugin } from '../contracts/jobs.js';

/**
 * The extension points. A plugin is a named plain object (or a factory making one) registered in the registry's
 * tsyringe container under `pluginToken(kind, name)`; the registry resolves by kind and name.
 */
export interface PluginKinds {
  reader: ImageReader;
  writer: ImageWriter;
  resampler: Resampler;
  normalizer: Normalizer;
  network: NetworkFactory;
  loss: LossFactory;
  augmentation: AugmentationFactory;
  postprocessor: Postprocessor;
  planner: Planner;
  backend: BackendPlugin;
  jobQueue: JobQueuePlugin;
}

export type PluginKind = keyof PluginKinds;

/** The kind prefixes of the tokens, `nnunet:<kind>`. */
export const TOKENS: { [K in PluginKind]: InjectionToken<PluginKinds[K]> } = {
  reader: 'nnunet:reader',
  writer: 'nnunet:writer',
  resampler: 'nnunet:resampler',
  normalizer: 'nnunet:normalizer',
  network: 'nnunet:network',
  loss: 'nnunet:loss',
  augmentation: 'nnunet:augmentation',
  postprocessor: 'nnunet:postprocessor',
  planner: 'nnunet:planner',
  backend: 'nnunet:backend',
  jobQueue: 'nnunet:job-queue',
};

/** Plugin kinds in a stable order (for listings). */
export const PLUGIN_KINDS: PluginKind[] = Object.keys(TOKENS) as PluginKind[];

/** The injection token of the plugin `key` of `kind`: `nnunet:<kind>:<key>` (networks: `<name>@<dims>d`). */
export function pluginToken<K extends PluginKind>(kind: K, key: string): InjectionToken<PluginKinds[K]> {
  return `${TOKENS[kind] as string}:${key}`;
}

/** The injection token of the pipeline stage `name`: `nnunet:stage:<name>` (see `Registry.provideStage`). */
export function stageToken(name: string): InjectionToken<unknown> {
  return `nnunet:stage:${name}`;
}
