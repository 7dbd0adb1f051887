// Entry of a data-loading worker (Piscina): builds the fold's loaders and augmentation once from the
// `BatchWorkerSetup` in workerData, then makes one packed batch per task. Not part of the package's API.
import { move, workerData } from 'piscina';
import type { AugmentationFactory } from '../contracts/augmentation.js';
import { Registry, type PluginModule } from '../registry/registry.js';
import { defaultCaseSource } from './cache-source.js';
import { CaseStore } from './case-store.js';
import { PatchLoader } from './data-loader.js';
import { makeBatch, packBatch, type BatchEnv, type BatchRequest, type BatchWorkerSetup } from './batches.js';
import { augmentSample, validationSample } from './trainer-setup.js';

let env: Promise<BatchEnv> | null = null;

/** The augmentation factory `name` as registered by `module` (its `registerDefaults` or PluginModule). */
async function augmentation(module: string, name: string): Promise<AugmentationFactory> {
  const mod = (await import(module)) as { registerDefaults?: (r: Registry) => void; plugin?: PluginModule; default?: PluginModule };
  const registry = new Registry();
  const register = mod.registerDefaults ?? ((r: Registry) => (mod.plugin ?? mod.default)?.register(r));
  register(registry);
  if (!registry.has('augmentation', name)) throw new Error(`data-loading worker: module '${module}' registers no augmentation '${name}'`);
  return registry.get('augmentation', name);
}

async function setup(s: BatchWorkerSetup): Promise<BatchEnv> {
  const store = new CaseStore(await defaultCaseSource(s.preprocessedDir), s.cacheBytes);
  const transforms = (await augmentation(s.augmentation.module, s.augmentation.name)).create(s.augmentation.options);
  return {
    trainLoader: new PatchLoader(store, s.train.ids, s.train.loader),
    valLoader: s.val ? new PatchLoader(store, s.val.ids, s.val.loader) : null,
    transforms, cascade: null, patch3: s.patch3, batchSeeds: s.batchSeeds,
  };
}

/** One task: the batch `r`, packed into one transferred buffer (`packBatch`). */
export default async function batchTask(r: BatchRequest): Promise<unknown> {
  env ??= setup(workerData as BatchWorkerSetup);
  const e = await env;
  const b = await makeBatch(e, r, (smp, rng) => augmentSample(e, smp, rng), (smp) => validationSample(e, smp));
  return move(packBatch(b));
}
