/**
 * Reader faults found by the second set of fuzz targets (docs/FAULTS.md rows F-R01..F-R05): a fingerprint, a model
 * folder's dataset.json or postprocessing.json, and an nnU-Net checkpoint's pickle that are damaged now fail with an
 * error naming the file instead of a TypeError, a plugin error without a file, or a silently ignored postprocessing.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTemp, tempDir } from '../bad-inputs/generate.js';
import { cli, core, makeRegistry } from '../bad-inputs/harness.js';

afterAll(cleanupTemp);

const SHARED = process.env.NNUNET_SHARED ?? resolve(import.meta.dirname, '..', '..', '..', 'shared');
const NNUNET_MODEL = join(SHARED, 'models', 'Dataset004_Hippocampus', 'nnUNetTrainer_16x30__nnUNetPlans__3d_fullres');
const FINGERPRINT = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'packages', 'core', 'src', 'fingerprint', '__fixtures__', 'fingerprint.json'), 'utf8')).fingerprint;

/** A copy of the shared nnU-Net model folder's json files with an empty checkpoint (enough for readModelFolder). */
function modelFolder(): string {
  const dir = join(tempDir('nnunet-readers-'), 'nnUNetTrainer__nnUNetPlans__3d_fullres');
  mkdirSync(join(dir, 'fold_0'), { recursive: true });
  for (const f of ['plans.json', 'dataset.json']) cpSync(join(NNUNET_MODEL, f), join(dir, f));
  writeFileSync(join(dir, 'fold_0', 'checkpoint_final.pth'), '');
  return dir;
}

async function run(args: string[]): Promise<{ code: number; stderr: string }> {
  const err: string[] = [];
  const code = await cli.runCli(args, { out: () => {} }, (s) => err.push(s));
  return { code, stderr: err.join('\n') };
}

function error(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return `${(e as Error).message} | hint: ${(e as core.NnunetError).hint}`;
  }
  return 'no error';
}

describe('dataset_fingerprint.json', () => {
  it('F-R01: plan --fingerprint with a negative spacing or a missing channel names the file and the field', async () => {
    const dir = tempDir('nnunet-readers-');
    const fp = join(dir, 'dataset_fingerprint.json');
    const ds = join(dir, 'dataset.json');
    writeFileSync(ds, JSON.stringify({ channel_names: { 0: 'CT', 1: 'MR' }, labels: { background: 0, a: 1 }, numTraining: 3, file_ending: '.nii.gz' }));
    writeFileSync(fp, JSON.stringify({ ...FINGERPRINT, spacings: [[2, -1, 0.5], ...FINGERPRINT.spacings.slice(1)] }));
    let r = await run(['plan', '--fingerprint', fp, '--dataset-json', ds, '-o', join(dir, 'plans.json'), '-q']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${fp}: invalid dataset fingerprint: spacings.0.1 must be > 0`);
    expect(r.stderr).toContain('extract it again: nnunet-ts fingerprint <dataset> -o <run>');
    const { 1: _drop, ...oneChannel } = FINGERPRINT.foreground_intensity_properties_per_channel;
    writeFileSync(fp, JSON.stringify({ ...FINGERPRINT, foreground_intensity_properties_per_channel: oneChannel }));
    r = await run(['plan', '--fingerprint', fp, '--dataset-json', ds, '-o', join(dir, 'plans.json'), '-q']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('foreground_intensity_properties_per_channel has 1 channel(s), dataset.json declares 2');
    writeFileSync(fp, JSON.stringify(FINGERPRINT));
    r = await run(['plan', '--fingerprint', fp, '--dataset-json', ds, '-o', join(dir, 'plans.json'), '-q']);
    expect(r.code, r.stderr).toBe(0);
  });
});

describe('model folders', () => {
  it("F-R02: a postprocessing.json that is not valid JSON is an error, not silently 'no postprocessing'", () => {
    const dir = modelFolder();
    writeFileSync(join(dir, 'postprocessing.json'), '{"postprocessing_fns": [');
    expect(error(() => core.readModelFolder(dir))).toContain(join(dir, 'postprocessing.json'));
  });

  it('F-R03: a postprocessing step with bad kwargs or an unknown name names postprocessing.json and the step', () => {
    const dir = modelFolder();
    const pp = join(dir, 'postprocessing.json');
    const step = (kwargs: unknown, name = core.KEEP_LARGEST) => writeFileSync(pp, JSON.stringify({ postprocessing_fns: [{ name, kwargs }] }));
    step({ labels_or_regions: [1, 'x'] });
    expect(error(() => core.readModelFolder(dir))).toContain(`${pp}: postprocessing step 0 (${core.KEEP_LARGEST}): labels_or_regions must be a label or a list of labels and regions, got [1,"x"]`);
    step({ labels_or_regions: 1, connectivity: 8 });
    expect(error(() => core.readModelFolder(dir))).toContain('connectivity must be 6 or 26, got 8');
    step({ labels_or_regions: 1 }, 'remove_small_things');
    const folder = core.readModelFolder(dir);
    expect(error(() => core.checkPostprocessingPlan(folder.postprocessing, pp, makeRegistry()))).toContain(`${pp}: postprocessing step 0: no postprocessor named 'remove_small_things' | hint: registered: ${core.KEEP_LARGEST}`);
    step({ labels_or_regions: [1, [1, 2]] });
    expect(core.readModelFolder(dir).postprocessing!.postprocessing_fns).toHaveLength(1);
  });

  it("F-R04: a model folder's dataset.json without labels names the file", () => {
    const dir = modelFolder();
    const ds = join(dir, 'dataset.json');
    const { labels: _l, ...rest } = JSON.parse(readFileSync(ds, 'utf8'));
    writeFileSync(ds, JSON.stringify(rest));
    expect(error(() => core.readModelFolder(dir))).toMatch(new RegExp(`^${ds.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: .*labels`));
  });
});

describe('nnU-Net checkpoints', () => {
  it('F-R05: a pickle string that is not UTF-8 and a tensor without a storage name the .pth file', () => {
    const file = '/x/fold_0/checkpoint_final.pth';
    const zip = (root: core.PickleValue) => core.writeTorchZip(root, new Map([['0', new Float32Array([1, 2])]]), 'checkpoint_final');
    const good = zip({ network_weights: new core.PickleOrderedDict([['w', new core.PickleTensor('0', 2, [2])]]), trainer_name: 'nnUNetTrainer' });
    expect(core.readNnunetCheckpoint(good, file).weights.size).toBe(1);
    // the trainer name's bytes replaced by an invalid UTF-8 sequence (the zip entries are stored, CRC not checked by the reader)
    const bad = new Uint8Array(good);
    const at = Buffer.from(bad).indexOf(Buffer.from('nnUNetTrainer'));
    bad[at] = 0xff;
    bad[at + 1] = 0xfe;
    expect(error(() => core.readNnunetCheckpoint(bad, file))).toContain(`${file}: pickle: a string of 13 bytes is not valid UTF-8`);
  });
});
