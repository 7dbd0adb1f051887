/**
 * End to end through the CLI on a compute backend against `cpu-native` from the same seed (issue 10): the helpers
 * of `tests/e2e-webgpu.test.ts` and `tests/e2e-tfjs.test.ts`.
 *
 * The task is the synthetic sphere task (6 training + 2 test cubes of 12^3 voxels). nnU-Net's plan for it is cut
 * down (`smallPlans`) to a network a software GPU (SwiftShader) or tfjs's JavaScript kernels train within CI time:
 * the same PlainConvUNet family (3x3x3 kernels, 2 convs per stage, strided-conv downsampling, instance norm,
 * LeakyReLU, transposed-conv upsampling, deep supervision), 3 stages of 4-8-16 features on an 8^3 patch at batch 2
 * (SwiftShader runs a 4->4 3x3x3 convolution of 2 x 16^3 voxels in ~0.1 CPU-s per pass, so a 16^3 patch made the
 * webgpu half take minutes).
 * The Hippocampus-plan comparison needs a GPU (`bench/compare-devices.mjs`, `bench/gpu.sh`).
 */
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Plans, type Registry, type TrainedModel, loadTrainedModel, predictPreprocessed, preprocessCase, readImage, readNpz, runLayout,
} from '@nnunet-ts/core';
import { createDefaultRegistry, runCli } from '@nnunet-ts/cli';
import { makeSphereTask } from '../fixtures/synthetic.js';

// The reference is cpu-native with its AVX2 micro-kernels, which sum in the order tfjs and the WGSL kernels do (the
// loss curves agree to ~1e-7). On an AVX-512 machine cpu-native's default micro-kernels sum in another order: ~1e-7
// per step that 20 SGD steps on this 8^3 task grow to 1e-3 (measured 2026-12-07 on an AVX-512 AMD EPYC: 1.3e-4 at
// iteration 7, 1.0e-3 at iteration 16, against 0 to 2.6e-7 with AVX2), which says nothing about the device backends.
// The AVX-512 kernels are checked against the others op by op in packages/backend-cpu. Read by the addon at its first
// kernel call; an instruction set the CPU lacks falls back to 'auto'.
process.env.NNUNET_CPU_ISA ??= 'avx2';

/** Training iterations: epochs of one iteration each, so `train_losses` of the checkpoint is the per-iteration curve. */
export const ITERATIONS = 20;

/** Edge of the task's cubes (voxels): 2 x 2 x 2 tiles of the 8^3 patch at step 0.5. */
export const SIZE = 12;

/** A prepared task: raw dataset, the budget file, a run folder planned (small plan) and preprocessed. */
export interface PreparedTask {
  parent: string;
  root: string;
  config: string;
  /** Planned and preprocessed run folder; `trainOn` copies it. */
  prepared: string;
  cli: (...args: string[]) => Promise<number>;
  errs: string[];
  registry: Registry;
}

/** Cut the run folder's 3d_fullres plan down (see the file comment); other configurations dropped. */
export function smallPlans(plansFile: string): void {
  const plans = JSON.parse(readFileSync(plansFile, 'utf8')) as Plans;
  const cfg = plans.configurations['3d_fullres']!;
  cfg.patch_size = [8, 8, 8];
  cfg.batch_size = 2;
  Object.assign(cfg.architecture!.arch_kwargs as Record<string, unknown>, {
    n_stages: 3,
    features_per_stage: [4, 8, 16],
    kernel_sizes: [[3, 3, 3], [3, 3, 3], [3, 3, 3]],
    strides: [[1, 1, 1], [2, 2, 2], [2, 2, 2]],
    n_conv_per_stage: [2, 2, 2],
    n_conv_per_stage_decoder: [2, 2],
  });
  plans.configurations = { '3d_fullres': cfg };
  writeFileSync(plansFile, JSON.stringify(plans, null, 2));
}

/**
 * Write the sphere task, plan it (`nnunet-ts plan`), cut the plan down, preprocess it (`nnunet-ts preprocess`).
 * `extraArgs` are added to every CLI call (e.g. `--plugin`). The budget: fold 0, `ITERATIONS` epochs of 1 iteration,
 * 1 validation iteration, no mirroring, no calibration (`estimate: false`).
 */
export async function prepareTask(prefix: string, extraArgs: string[] = []): Promise<PreparedTask> {
  const parent = mkdtempSync(join(tmpdir(), prefix));
  const registry = createDefaultRegistry();
  const writer = registry.all('writer').find((w) => w.extensions.includes('.nii.gz'))!;
  const root = await makeSphereTask(parent, (p, img, isLabel) => writer.write(p, img, { dtype: isLabel ? 'uint8' : 'float32' }), { size: SIZE });
  const errs: string[] = [];
  const cli = (...args: string[]) => runCli([...args, ...extraArgs, '-q'], { out: () => {} }, (s) => errs.push(s));
  const config = join(parent, 'budget.json');
  writeFileSync(config, JSON.stringify({
    configurations: ['3d_fullres'], folds: [0], epochs: ITERATIONS, iterationsPerEpoch: 1, validationIterations: 1, mirror: false, estimate: false,
  }));
  const prepared = join(parent, 'prepared');
  if (await cli('plan', root, '-o', prepared)) throw new Error(`plan failed: ${errs.join('\n')}`);
  smallPlans(runLayout(prepared).plans);
  if (await cli('preprocess', root, '-o', prepared, '--config', config)) throw new Error(`preprocess failed: ${errs.join('\n')}`);
  return { parent, root, config, prepared, cli, errs, registry };
}

/** `nnunet-ts train` on a copy of the prepared run folder with `--backend <backend>`: the run folder, the loss curve, seconds. */
export async function trainOn(t: PreparedTask, backend: string): Promise<{ run: string; losses: number[]; seconds: number }> {
  const run = join(t.parent, `run-${backend}`);
  cpSync(t.prepared, run, { recursive: true });
  const t0 = performance.now();
  const code = await t.cli('train', t.root, '-o', run, '--config', t.config, '--backend', backend);
  if (code) throw new Error(`train --backend ${backend} failed: ${t.errs.join('\n')}`);
  const ck = join(modelDir(run), 'fold_0', 'checkpoint_final.json');
  const losses = (JSON.parse(readFileSync(ck, 'utf8')) as { logging: { train_losses: number[] } }).logging.train_losses;
  return { run, losses, seconds: (performance.now() - t0) / 1000 };
}

/** The run's 3d_fullres model folder. */
export const modelDir = (run: string): string => runLayout(run).modelDir('3d_fullres');

/** Relative difference per iteration, `|a - b| / |a|`. */
export const relativeDiffs = (a: number[], b: number[]): number[] => a.map((v, i) => Math.abs(v - b[i]!) / Math.abs(v));

/** Agreement of two prediction folders of the same cases: voxels that differ, probabilities' largest difference. */
export interface PredictionAgreement {
  case: string;
  voxels: number;
  differ: number;
  maxProbDiff: number;
}

/**
 * `nnunet-ts predict` of the test images with the model of `run` (the same weights) on `--backend a` and
 * `--backend b` (no mirroring, probabilities saved), compared case by case.
 */
export async function comparePredictions(t: PreparedTask, run: string, a: string, b: string): Promise<PredictionAgreement[]> {
  const dirs = [a, b].map((name) => join(t.parent, `pred-${name}`));
  for (const [i, name] of [a, b].entries()) {
    const code = await t.cli('predict', '-i', join(t.root, 'imagesTs'), '-o', dirs[i]!, '-m', modelDir(run), '--disable-tta', '--save-probabilities', '--backend', name);
    if (code) throw new Error(`predict --backend ${name} failed: ${t.errs.join('\n')}`);
  }
  const cases = readdirSync(dirs[0]!).filter((f) => f.endsWith('.nii.gz')).sort();
  if (!cases.length) throw new Error(`predict --backend ${a} wrote no segmentation`);
  const out: PredictionAgreement[] = [];
  for (const f of cases) {
    const [sa, sb] = await Promise.all(dirs.map((d) => readImage(t.registry, join(d, f))));
    let differ = 0;
    for (let i = 0; i < sa!.data.length; i++) if (sa!.data[i] !== sb!.data[i]) differ++;
    const id = f.replace(/\.nii\.gz$/, '');
    const [pa, pb] = dirs.map((d) => readNpz(join(d, `${id}.npz`), 'probabilities').data as Float32Array);
    let maxProbDiff = 0;
    for (let i = 0; i < pa!.length; i++) maxProbDiff = Math.max(maxProbDiff, Math.abs(pa![i]! - pb![i]!));
    out.push({ case: id, voxels: sa!.data.length, differ, maxProbDiff });
  }
  return out;
}

/**
 * The sliding window's logits (`[K, z, y, x]` on the preprocessed grid, no mirroring) of the first test image with
 * the model of `run`, loaded onto each named backend's device; the largest absolute difference from the first.
 */
export async function logitsMaxAbsDiff(t: PreparedTask, run: string, backends: [string, string]): Promise<number> {
  const file = readdirSync(join(t.root, 'imagesTs')).filter((f) => f.endsWith('.nii.gz')).sort()[0]!;
  const img = await readImage(t.registry, join(t.root, 'imagesTs', file));
  const logits: Float32Array[] = [];
  for (const name of backends) {
    const device = await t.registry.get('backend', name).createDevice!();
    const model: TrainedModel = await loadTrainedModel(modelDir(run), [0], t.registry, device);
    const p = preprocessCase({ image: Float32Array.from(img.data), shape: img.shape, spacing: img.spacing, seg: null }, model.plans, '3d_fullres', t.registry);
    logits.push(await predictPreprocessed(model, p.data, p.shape, { mirror: false }));
    device.destroy?.();
  }
  let max = 0;
  for (let i = 0; i < logits[0]!.length; i++) max = Math.max(max, Math.abs(logits[0]![i]! - logits[1]![i]!));
  if (logits[0]!.length !== logits[1]!.length || !logits[0]!.length) throw new Error('logits of different lengths');
  return max;
}
