/**
 * Malformed model folders (docs/FAULTS.md rows F-M01..F-M07), as `predict`, `export-onnx` and `export-nnunet` meet
 * them: plans.json without the folder's configuration, a fold that is missing or holds no checkpoint, a checkpoint
 * .json without its .bin, dataset.json missing or without labels, and -m given the results folder above the model
 * folder. Each gives exit 1 and an error naming the FILE, with a hint saying what to do.
 */
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTemp, tempDir } from '../bad-inputs/generate.js';
import { cli, core } from '../bad-inputs/harness.js';

afterAll(cleanupTemp);

const SHARED = process.env.NNUNET_SHARED ?? resolve(import.meta.dirname, '..', '..', '..', 'shared');
const NNUNET_MODEL = join(SHARED, 'models', 'Dataset004_Hippocampus', 'nnUNetTrainer_16x30__nnUNetPlans__3d_fullres');
const CASE = resolve(import.meta.dirname, '..', '..', 'examples', 'Task04_Hippocampus_subset', 'imagesTs', 'hippocampus_008.nii.gz');

/** A model folder `<root>/<name>` with the shared nnU-Net model's plans.json and dataset.json and an empty fold_0/. */
function modelFolder(name = 'nnUNetTrainer__nnUNetPlans__3d_fullres', root = tempDir('nnunet-mf-')): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'fold_0'), { recursive: true });
  for (const f of ['plans.json', 'dataset.json']) cpSync(join(NNUNET_MODEL, f), join(dir, f));
  return dir;
}

/** The shared model's real nnU-Net checkpoint in `dir/fold_<f>/`. */
function withCheckpoint(dir: string, fold = 0): string {
  mkdirSync(join(dir, `fold_${fold}`), { recursive: true });
  cpSync(join(NNUNET_MODEL, 'fold_0', 'checkpoint_final.pth'), join(dir, `fold_${fold}`, 'checkpoint_final.pth'));
  return dir;
}

function editJson(file: string, edit: (j: Record<string, unknown>) => void): void {
  const j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(j);
  writeFileSync(file, JSON.stringify(j));
}

async function run(args: string[]): Promise<{ code: number; stderr: string }> {
  const err: string[] = [];
  const code = await cli.runCli(args, { out: () => {} }, (s) => err.push(s));
  return { code, stderr: err.join('\n') };
}

/** `predict` on an empty input folder (the model folder is checked before any image is read). */
async function predict(model: string, ...extra: string[]): Promise<{ code: number; stderr: string }> {
  const io = tempDir('nnunet-mf-io-');
  mkdirSync(join(io, 'in'));
  return run(['predict', '-i', join(io, 'in'), '-o', join(io, 'out'), '-m', model, '-q', ...extra]);
}

describe('model folders', () => {
  it("F-M01: plans.json without the configuration the folder name asks for names plans.json and the configurations it holds", async () => {
    const dir = withCheckpoint(modelFolder('nnUNetTrainer__nnUNetPlans__3d_lowres'));
    const plans = join(dir, 'plans.json');
    const expected = `${plans}: plans 'nnUNetPlans' has no configuration '3d_lowres', which the folder name nnUNetTrainer__nnUNetPlans__3d_lowres asks for`;
    const r = await predict(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(expected);
    expect(r.stderr).toContain('hint: plans.json holds 2d, 3d_fullres: use the plans.json this model was trained with');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // a plans.json that lost 3d_fullres (the folder's and the checkpoint's configuration): export-onnx, which takes the
    // configuration from the checkpoint as nnU-Net's predictor does, names plans.json and the checkpoint
    const full = withCheckpoint(modelFolder());
    editJson(join(full, 'plans.json'), (j) => delete (j.configurations as Record<string, unknown>)['3d_fullres']);
    for (const [res, why] of [[await predict(full), 'the folder name nnUNetTrainer__nnUNetPlans__3d_fullres'], [await run(['export-onnx', '-m', full, '-o', join(full, 'x.onnx'), '-q']), `the checkpoint ${join(full, 'fold_0', 'checkpoint_final.pth')}`]] as const) {
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(`${join(full, 'plans.json')}: plans 'nnUNetPlans' has no configuration '3d_fullres', which ${why} asks for`);
      expect(res.stderr).toContain('hint: plans.json holds 2d:');
    }
  });

  it('F-M02: -f with a fold the folder does not have names fold_<k>/ and the trained folds', async () => {
    const dir = withCheckpoint(modelFolder());
    const r = await predict(dir, '-f', '3');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: ${join(dir, 'fold_3')}: fold 3 is not in the model folder (no fold_3/)`);
    expect(r.stderr).toContain('hint: trained folds: 0: pass -f 0 (or leave -f out for every trained fold), or train fold 3');
  });

  it('F-M03: a fold without a checkpoint names the checkpoint file it lacks and lists what the fold holds', async () => {
    const dir = modelFolder();
    writeFileSync(join(dir, 'fold_0', 'debug.json'), '{}');
    let r = await predict(dir, '-f', '0');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: ${join(dir, 'fold_0', 'checkpoint_final.json')}: fold 0 has no checkpoint: expected checkpoint_final.json + checkpoint_final.bin (nnunet-ts) or checkpoint_final.pth (nnU-Net v2); fold_0/ holds debug.json`);
    expect(r.stderr).toContain(`hint: copy the fold's checkpoint files into ${join(dir, 'fold_0')}`);
    const none = `error: ${dir}: model folder has no trained fold: no fold_<k>/ holds checkpoint_final.json + checkpoint_final.bin (nnunet-ts) or checkpoint_final.pth (nnU-Net v2) (fold_0/ holds debug.json)`;
    for (const args of [[], ['export-onnx', '-m', dir, '-o', join(dir, 'x.onnx'), '-q'], ['export-nnunet', '-m', dir, '-o', join(dir, 'exported'), '-q']]) {
      r = args.length ? await run(args) : await predict(dir);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain(none);
    }
  });

  it('F-M04: a checkpoint .json without its .bin names the .bin and says both files are needed', async () => {
    const dir = modelFolder();
    writeFileSync(join(dir, 'fold_0', 'checkpoint_final.json'), JSON.stringify({ format: 'nnunet-ts-checkpoint/1', blobs: [] }));
    const r = await predict(dir);
    expect(r.code).toBe(1);
    const bin = join(dir, 'fold_0', 'checkpoint_final.bin');
    expect(r.stderr).toContain(`error: ${bin}: checkpoint weights missing: checkpoint_final.json is here but checkpoint_final.bin is not`);
    expect(r.stderr).toContain('hint: copy checkpoint_final.bin together with checkpoint_final.json (a checkpoint is both files)');
  });

  it('F-M05: dataset.json missing, or without labels, is named with the model-folder fix', async () => {
    const dir = withCheckpoint(modelFolder());
    const ds = join(dir, 'dataset.json');
    editJson(ds, (j) => delete j.labels);
    for (const r of [await predict(dir), await run(['export-onnx', '-m', dir, '-o', join(dir, 'x.onnx'), '-q'])]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`error: ${ds}: dataset.json is missing required key(s) 'labels'`);
      expect(r.stderr).toContain('hint: a model folder needs the dataset.json it was trained with');
    }
    rmSync(ds);
    const r = await predict(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: ${ds}: not a trained model folder: dataset.json missing`);
    expect(r.stderr).toContain('hint: a model folder holds plans.json and dataset.json beside fold_<k>/: copy dataset.json from the run the model was trained in');
  });

  it('F-M06: -m given the results folder above the model folders names plans.json and lists the model folders below', async () => {
    const root = tempDir('nnunet-mf-');
    const a = modelFolder('nnUNetTrainer__nnUNetPlans__3d_fullres', join(root, 'Dataset004_Hippocampus'));
    const b = modelFolder('nnUNetTrainer__nnUNetPlans__2d', join(root, 'Dataset004_Hippocampus'));
    const r = await predict(root);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: ${join(root, 'plans.json')}: not a trained model folder: plans.json missing`);
    expect(r.stderr).toContain(`hint: this folder holds model folders: pass one of them with -m: ${b}, ${a}`);
  });

  it("F-M07: nnU-Net's fold_all (the model trained on every case): predict -f all uses it (was: \"bad fold list 'all'\", exit 2), without -f an error names -f all (was: \"no trained fold\"); export-web -f all exports it (was: a crash for any -f)", { timeout: 300_000 }, async () => {
    // a model folder shared as nnU-Net trains fold 'all': plans.json, dataset.json and fold_all/checkpoint_final.pth only
    const dir = join(tempDir('nnunet-mf-all-'), 'nnUNetTrainer_16x30__nnUNetPlans__3d_fullres');
    mkdirSync(join(dir, 'fold_all'), { recursive: true });
    for (const f of ['plans.json', 'dataset.json']) cpSync(join(NNUNET_MODEL, f), join(dir, f));
    cpSync(join(NNUNET_MODEL, 'fold_0', 'checkpoint_final.pth'), join(dir, 'fold_all', 'checkpoint_final.pth'));
    let r = await predict(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: ${join(dir, 'fold_all')}: the model folder's only trained fold is fold_all (nnU-Net's model trained on every case), which is used only when asked for: pass -f all`);
    expect(r.stderr).toContain('hint: predict with -f all (as nnUNetv2_predict -f all)');
    // -f all segments with fold_all: the same bytes as the same checkpoint used as fold_0
    const io = tempDir('nnunet-mf-io-');
    mkdirSync(join(io, 'in'));
    cpSync(CASE, join(io, 'in', 'hippocampus_008.nii.gz'));
    const config = join(io, 'c.json');
    writeFileSync(config, JSON.stringify({ estimate: false }));
    const opts = ['--backend', 'cpu-native', '--disable-tta', '--config', config, '-q'];
    r = await run(['predict', '-i', join(io, 'in'), '-o', join(io, 'all'), '-m', dir, '-f', 'all', ...opts]);
    expect(r.code, r.stderr).toBe(0);
    r = await run(['predict', '-i', join(io, 'in'), '-o', join(io, 'f0'), '-m', NNUNET_MODEL, '-f', '0', ...opts]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(io, 'all', 'hippocampus_008.nii.gz'))).toEqual(readFileSync(join(io, 'f0', 'hippocampus_008.nii.gz')));
    // a folder with fold_0 and fold_all: by default only fold_<k> (as nnU-Net), fold_all when asked, both with -f 0,all
    withCheckpoint(dir, 0);
    expect(core.readModelFolder(dir).folds).toEqual([0]);
    expect(core.readModelFolder(dir, ['all']).folds).toEqual(['all']);
    expect(core.readModelFolder(dir, [0, 'all']).folds).toEqual([0, 'all']);
    // -f all where there is no fold_all/ names it, with how nnU-Net trains it
    const none = withCheckpoint(modelFolder());
    r = await predict(none, '-f', 'all');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: ${join(none, 'fold_all')}: fold all is not in the model folder (no fold_all/)`);
    expect(r.stderr).toContain("hint: trained folds: 0: pass -f 0 (or leave -f out for every trained fold), or train it with nnU-Net (nnUNetv2_train <dataset> <configuration> all; nnunet-ts train -f all trains folds 0-4, not nnU-Net's fold 'all')");
    // export-web -f all (and -f 0) writes the site with that fold's network
    rmSync(join(dir, 'fold_0'), { recursive: true });
    r = await run(['export-web', '-m', dir, '-f', 'all', '-o', join(io, 'site'), '-q']);
    expect(r.code, r.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(io, 'site', 'model', 'manifest.json'), 'utf8')) as { weights: { fold: number | string; file: string }[] };
    expect(manifest.weights.map((w) => [w.fold, w.file])).toEqual([['all', 'fold_all.params']]);
    r = await run(['export-web', '-m', NNUNET_MODEL, '-f', '0', '-o', join(io, 'site0'), '-q']);
    expect(r.code, r.stderr).toBe(0);
  });
});
