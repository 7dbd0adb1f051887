// The real Hippocampus 3d_fullres setup shared by the UNet and sliding-window cases and bench/compare-tfjs-cpu.mjs:
// the fingerprint of examples/Task04_Hippocampus_subset (the project's extractFingerprint, ~2 s), planned by the
// registered `nnUNetPlanner` (8 GB target, as `nnunet-ts plan`), and one training step exactly as train-fold.ts does
// it: forward with deep supervision, DC_and_CE_loss (@nnunet-ts/loss) with nnU-Net's deep supervision weights on
// targets downsampled to each output, backward, clipGradNorm(12), SGD (lr 1e-2, momentum 0.99, nesterov, wd 3e-5).
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { rand } from './lib.mjs';

export const EXAMPLE = process.env.NNUNET_BENCH_EXAMPLE ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'examples', 'Task04_Hippocampus_subset');

let cached;
/** `{ plans, cfg, arch, numClasses, dataset, registry, core, fingerprintSeconds }`; throws when a package is not built. */
export async function hippocampusPlan() {
  if (cached) return cached;
  const core = await import('@nnunet-ts/core');
  const nifti = await import('@nnunet-ts/io-nifti');
  const registry = new core.Registry();
  core.registerDefaults?.(registry);
  nifti.registerDefaults(registry);
  if (!registry.has?.('planner', 'nnUNetPlanner')) core.registerPlanners(registry, { override: true });
  const t = performance.now();
  const dataset = await core.loadDataset(EXAMPLE);
  async function* cases() {
    for (const c of dataset.cases) yield await core.readCase(registry, c);
  }
  const fp = await core.extractFingerprint(cases(), { numCases: dataset.cases.length });
  const fingerprintSeconds = (performance.now() - t) / 1000;
  const plans = registry.get('planner', 'nnUNetPlanner').plan(fp, dataset.json, { gpuMemoryTargetGb: 8, datasetName: 'Dataset004_Hippocampus' });
  const cfg = plans.configurations['3d_fullres'];
  const numClasses = Object.keys(dataset.json.labels).length;
  const k = cfg.architecture.arch_kwargs;
  // nnU-Net's documented Hippocampus 3d_fullres plan; fail loudly if the planner ever drifts from it
  const want = { patch: '40,56,40', stages: 4, features: '32,64,128,256' };
  const got = { patch: cfg.patch_size.join(','), stages: k.n_stages, features: k.features_per_stage.join(',') };
  if (JSON.stringify(want) !== JSON.stringify(got)) throw new Error(`planner gave ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  cached = { plans, cfg, arch: cfg.architecture, numClasses, dataset, registry, core, fingerprintSeconds };
  return cached;
}

/** Short description of the planned configuration for result rows. */
export function planSummary(p) {
  const k = p.arch.arch_kwargs;
  return {
    planner: 'nnUNetPlanner',
    network: p.arch.network_class_name.split('.').pop(),
    patch: p.cfg.patch_size,
    planBatchSize: p.cfg.batch_size,
    features: k.features_per_stage,
    strides: k.strides,
    batchDice: p.cfg.batch_dice,
  };
}

/** Deterministic label map [b, 1, ...patch]: an ellipsoid of class 1 with a class-2 half, background elsewhere. */
export function labels(batch, patch) {
  const [d, h, w] = patch;
  const seg = new Int16Array(batch * d * h * w);
  let i = 0;
  for (let b = 0; b < batch; b++)
    for (let z = 0; z < d; z++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++, i++) {
          const r = ((z - d / 2) / (d / 3)) ** 2 + ((y - h / 2) / (h / 3)) ** 2 + ((x - w / 2 - b) / (w / 3)) ** 2;
          seg[i] = r < 1 ? (x < w / 2 ? 1 : 2) : 0;
        }
  return { data: seg, shape: [batch, 1, ...patch] };
}

/**
 * Builds the planned network on `backend` (a device backend, or a compute backend wrapped by `resolveDevice`) with
 * deep supervision, the loss and SGD, and returns `step()` (async: one training iteration on a fixed batch exactly
 * as train-fold.ts runs it, resolves to `{ loss }`) and the network. `patch` defaults to the plan's (a software GPU
 * adapter runs a smaller one).
 */
export async function trainingStep(p, backend, batch, { seed = 0, inputSeed = 5, patch = p.cfg.patch_size } = {}) {
  const net3d = await import('@nnunet-ts/net-unet3d');
  const lossPkg = await import('@nnunet-ts/loss');
  const { core, arch, cfg, numClasses } = p;
  const device = core.resolveDevice({ backend });
  const net = net3d.buildPlainConvUNet({ architecture: arch, inputChannels: 1, numClasses, deepSupervision: true, device, seed });
  const nDs = Math.max(1, arch.arch_kwargs.strides.length - 1);
  const loss = lossPkg.dcAndCeLoss({ batchDice: cfg.batch_dice ?? true, deepSupervisionWeights: core.deepSupervisionWeights(nDs) });
  const opt = new core.DeviceSGD(device, net.parameters, { lr: 1e-2, momentum: 0.99, nesterov: true, weightDecay: 3e-5 });
  const x = { data: rand(batch * patch.reduce((a, b) => a * b, 1), inputSeed), shape: [batch, 1, ...patch] };
  const seg = labels(batch, patch);
  // the trainer's device step (core trainStep): batch up, loss back, everything else on the device
  const step = async () => ({ loss: await core.trainStep(net, opt, loss, { x, seg: seg.data, segShape: seg.shape }, undefined) });
  return { step, net };
}
