/**
 * `exportNnunetModel` (CLI `export-nnunet`): one of our model folders written as an nnU-Net v2 results folder.
 * The model folder is made here from nnU-Net's real plans (shared/models, models A and C) with He-initialised
 * weights; the exported checkpoint is read back by our restricted reader (names and aliases equal nnU-Net's own
 * state dict, listed in the reference manifest) and by PyTorch (tests/python/nnunet_export_check.py: torch.load,
 * a PlainConvUNet in plain torch built from the plans, strict load_state_dict, logits compared with ours).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  emptyLog, exportNnunetModel, getConfiguration, loadPlans, loadTrainedModel, nnunetStateDictEntries, readNnunetCheckpoint, saveCheckpoint,
  forwardHost, saveParameters, selectBackend, writeNpy, type Network,
} from '@nnunet-ts/core';
import { createDefaultRegistry } from '@nnunet-ts/cli';
import { REPO_ROOT, sharedPath } from './helpers/paths.js';

const MODELS = { A: 'nnUNetTrainer_16x30__nnUNetPlans__3d_fullres', C: 'nnUNetTrainer_1x5__nnUNetPlans__2d' } as const;
const registry = createDefaultRegistry();
/** Python with torch: $NNUNET_PYTHON, else Debian's /usr/bin/python3 (python3-torch), else python3 on PATH. */
const PYTHON = process.env.NNUNET_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Our model folder for nnU-Net's plans of model `m`, fold 0, seeded He weights. Returns its folder and network. */
async function makeOurModel(m: keyof typeof MODELS): Promise<{ dir: string; net: Network; patch: number[] }> {
  const src = sharedPath('models', 'Dataset004_Hippocampus', MODELS[m]);
  const configuration = m === 'C' ? '2d' : '3d_fullres';
  const dir = join(mkdtempSync(join(tmpdir(), 'nnunet-export-')), `nnUNetTrainer__nnUNetPlans__${configuration}`);
  tmp.push(dir);
  mkdirSync(join(dir, 'fold_0'), { recursive: true });
  for (const f of ['plans.json', 'dataset.json', 'dataset_fingerprint.json']) copyFileSync(join(src, f), join(dir, f));
  const plans = loadPlans(join(dir, 'plans.json'));
  const config = getConfiguration(plans, configuration);
  const dims = config.patch_size!.length as 2 | 3;
  const backend = await selectBackend(registry, 'auto', () => {});
  const net = registry.get('network', config.architecture!.network_class_name, dims).create({ architecture: config.architecture!, inputChannels: 1, numClasses: 3, deepSupervision: false, backend, seed: 7 });
  await saveCheckpoint(join(dir, 'fold_0'), 'final', {
    parameters: saveParameters(net.parameters), optimizer: [],
    meta: {
      format: 'nnunet-ts-checkpoint/1', trainer_name: 'nnUNetTrainer', configuration, fold: 0, plans_name: plans.plans_name, dataset_name: plans.dataset_name,
      network_class_name: config.architecture!.network_class_name, dims, input_channels: 1, num_classes: 3, patch_size: config.patch_size!,
      inference_allowed_mirroring_axes: dims === 2 ? [0, 1] : [0, 1, 2], current_epoch: 3, num_epochs: 3, num_iterations_per_epoch: 1,
      num_val_iterations_per_epoch: 1, batch_size: 2, seed: 7, augmentation: 'default', best_ema: 0.25, rng: {}, logging: { ...emptyLog(), lrs: [0.01, 0.005, 0] },
    },
  });
  return { dir, net, patch: config.patch_size! };
}

describe('export-nnunet', () => {
  it("writes network_weights with nnU-Net's state-dict names and aliases, in its order (manifest of model A)", async () => {
    const { dir } = await makeOurModel('A');
    const out = join(dir, '..', 'exported');
    expect(await exportNnunetModel(dir, out)).toEqual([0]);
    const file = join(out, 'fold_0', 'checkpoint_final.pth');
    const ck = readNnunetCheckpoint(readFileSync(file), file);
    const manifest = JSON.parse(readFileSync(sharedPath('models', 'references', 'Dataset004_Hippocampus', MODELS.A, 'manifest.json'), 'utf8')) as {
      checkpoint: { state_dict_entries: { key: string; shape: number[] }[] };
    };
    expect([...ck.weights.keys()]).toEqual(manifest.checkpoint.state_dict_entries.map((e) => e.key));
    expect([...ck.weights.values()].map((t) => t.shape)).toEqual(manifest.checkpoint.state_dict_entries.map((e) => e.shape));
    expect(ck.trainerName).toBe('nnUNetTrainer');
    expect(ck.mirrorAxes).toEqual([0, 1, 2]);
    expect(ck.configuration).toBe('3d_fullres');
    expect(ck.keys).toEqual(['network_weights', 'grad_scaler_state', 'logging', '_best_ema', 'current_epoch', 'init_args', 'trainer_name', 'inference_allowed_mirroring_axes']);
    // and it loads back as an nnU-Net results folder, giving the same parameters
    const back = await loadTrainedModel(out, [0], registry, await selectBackend(registry, 'auto', () => {}));
    expect(back.nnunetCheckpoints?.[0]?.trainerName).toBe('nnUNetTrainer');
  });

  it('ResidualEncoderUNet names (manifest of model B) come out the same', () => {
    const manifest = JSON.parse(readFileSync(sharedPath('models', 'references', 'Dataset004_Hippocampus', 'nnUNetTrainer_1x2__nnUNetResEncUNetMPlans_gpu0p1GB__3d_fullres', 'manifest.json'), 'utf8')) as {
      checkpoint: { state_dict_entries: { key: string }[] };
    };
    const keys = manifest.checkpoint.state_dict_entries.map((e) => e.key);
    const params = keys.filter((k) => !k.includes('all_modules') && !k.startsWith('decoder.encoder.'));
    expect(nnunetStateDictEntries(params).map(([n]) => n)).toEqual(keys);
  });

  for (const m of ['A', 'C'] as const) {
    it(`model ${m} plans: torch.load reads the export and a plain-torch PlainConvUNet gives our logits (1e-3)`, async () => {
      const { dir, net, patch } = await makeOurModel(m);
      const out = join(dir, '..', 'exported');
      await exportNnunetModel(dir, out);
      const spatial = patch.length === 2 ? [1, ...patch] : patch;
      const n = spatial.reduce((a, b) => a * b, 1);
      const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) + 0.1 * Math.cos(i * 0.011));
      const y = forwardHost(net, { data: x, shape: [1, 1, ...spatial] }, false)[0]!;
      writeFileSync(join(out, 'input.npy'), writeNpy({ descr: '<f4', shape: [1, 1, ...patch], data: x }));
      writeFileSync(join(out, 'ours.npy'), writeNpy({ descr: '<f4', shape: [1, 3, ...patch], data: y.data }));
      const script = join(REPO_ROOT, 'tests', 'python', 'nnunet_export_check.py');
      let stdout: string;
      try {
        stdout = execFileSync(PYTHON, [script, out, m === 'C' ? '2d' : '3d_fullres', join(out, 'input.npy'), join(out, 'ours.npy')], { encoding: 'utf8' });
      } catch (e) {
        throw new Error(`python check failed (needs python3 with torch and numpy: apt-get install python3-torch): ${(e as { stdout?: string; stderr?: string }).stdout ?? ''} ${(e as { stderr?: string }).stderr ?? ''}`);
      }
      const r = JSON.parse(stdout.trim().split('\n').pop()!) as { ok: boolean; max_abs_diff: number; missing_keys: string[]; n_state_dict_entries: number; mirror_axes: number[] };
      console.log(`export-nnunet model ${m} plans: ${JSON.stringify(r)}`);
      expect(r.missing_keys).toEqual([]);
      expect(r.max_abs_diff).toBeLessThan(1e-3);
      expect(r.mirror_axes).toEqual(m === 'C' ? [0, 1] : [0, 1, 2]);
      expect(r.ok).toBe(true);
    });
  }
});
