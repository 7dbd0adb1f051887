/**
 * Prediction inputs that `predict` used to take silently or with a message without the file (docs/FAULTS.md,
 * "Prediction inputs", rows F-P01..F-P09): a 4D image for a one-channel model, files with another ending than the
 * model's file_ending (or its gzip twin), a 2D image for a 3D model, a true 2D image (dim[0] = 2) whose output must
 * stay 2D, NaN/Inf voxels, a constant image, intensities or spacings far from the training fingerprint. Real nnU-Net
 * models (the shared Hippocampus 3d_fullres and 2d) and real images of the embedded example, changed per test.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MedicalImage } from '@nnunet-ts/core';
import { readNifti, writeNifti } from '@nnunet-ts/io-nifti';
import { cleanupTemp, tempDir } from '../bad-inputs/generate.js';
import { core } from '../bad-inputs/harness.js';
import { predictCli } from '../helpers/predict-cli.js';

afterAll(cleanupTemp);

const SHARED = process.env.NNUNET_SHARED ?? resolve(import.meta.dirname, '..', '..', '..', 'shared');
const NNUNET_MODEL = join(SHARED, 'models', 'Dataset004_Hippocampus', 'nnUNetTrainer_16x30__nnUNetPlans__3d_fullres');
/** The shared 2d model (nnU-Net, default plans, 2d configuration, trained 1 x 5 epochs). */
const NNUNET_MODEL_2D = join(SHARED, 'models', 'Dataset004_Hippocampus', 'nnUNetTrainer_1x5__nnUNetPlans__2d');
const EXAMPLE = resolve(import.meta.dirname, '..', '..', 'examples', 'Task04_Hippocampus_subset');
const CASE = join(EXAMPLE, 'imagesTs', 'hippocampus_008.nii.gz');
/** The MSD Hippocampus test image of shared/data: uint8, values 1..168, an ordinary member of the dataset. */
const HIP_TS = join(SHARED, 'data', 'Task04_Hippocampus', 'imagesTs', 'hippocampus_118.nii.gz');
/** The MSD Spleen CT crop of shared/data, float32 HU (-1019..949). */
const SPLEEN = join(SHARED, 'data', 'Task09_Spleen_subset', 'imagesTr', 'spleen_2.nii.gz');

/** `predict` with the shared model (cpu-native, no mirroring, no estimate): exit code and everything on stderr. */
async function predict(input: string, output = join(tempDir('nnunet-pi-out-'), 'out'), ...extra: string[]): Promise<{ code: number; log: string; output: string }> {
  return predictWith(NNUNET_MODEL, input, output, ...extra);
}

/** `predict` as {@link predict} with the nnU-Net model folder `model`. */
const predictWith = predictCli;

/** The example case with its voxels changed by `edit` (and its shape, for 4D/2D), written as `<dir>/<name>`. */
async function variant(dir: string, name: string, edit: (im: MedicalImage) => MedicalImage): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const im = await readNifti(CASE);
  const file = join(dir, name);
  await writeNifti(file, edit({ ...im, data: Float32Array.from(im.data as ArrayLike<number>) }), { dtype: 'float32' });
  return file;
}

const folder = () => core.readModelFolder(NNUNET_MODEL);

describe('predict: inputs', () => {
  it("F-P01: a 4D image (2 volumes) for a one-channel model names the file, both channel counts, the model's channel names and the file to give", async () => {
    const dir = tempDir('nnunet-pi-4d-');
    const f = await variant(dir, 'hippocampus_008.nii.gz', (im) => {
      const d = new Float32Array(im.data.length * 2);
      d.set(im.data as Float32Array);
      d.set(im.data as Float32Array, im.data.length);
      return { ...im, data: d, shape: [2, im.shape[1], im.shape[2], im.shape[3]] };
    });
    const r = await predict(dir);
    expect(r.code).toBe(1);
    expect(r.log).toContain(`${f}: has 2 channels (a 4D or vector image: its 4th dimension holds 2 volumes), but the model expects 1 channel(s) (channel_names of the model's dataset.json: 0 'MRI')`);
    expect(r.log).toContain("hint: give the model one 3D volume per case: save the volume of 'MRI' from hippocampus_008.nii.gz as hippocampus_008_0000.nii.gz");
    expect(r.log).not.toContain('normalization schemes');
    // a two-channel model: the hint lists the channel files in the model's order
    const two = { ...folder(), dataset: { ...folder().dataset, channel_names: { 0: 'T1', 1: 'T2' } } };
    const im = await readNifti(f);
    const e = await core.checkPredictChannels({ id: 'hippocampus_008', images: [CASE, f] }, { ...im, shape: [3, ...im.shape.slice(1)] as MedicalImage['shape'] }, two, await cliRegistry()).catch((x: Error) => x);
    expect((e as core.DataError).message).toBe(`${f}: has 2 channels (a 4D or vector image: its 4th dimension holds 2 volumes), but each channel file must hold one volume: the case's 2 files hold 3 channels in all, the model expects 2 (channel_names of the model's dataset.json: 0 'T1', 1 'T2')`);
    expect((e as core.DataError).hint).toBe('split it into one 3D file per channel, in the model\'s channel order: hippocampus_008_0000.nii.gz (T1), hippocampus_008_0001.nii.gz (T2)');
  });

  it('F-P10: a case with a missing (or extra) channel file fails alone: the other cases are predicted, the case is listed with its fix, exit 1 (was: the whole predict refused before any case)', { timeout: 300_000 }, async () => {
    const dir = tempDir('nnunet-pi-ch-');
    copyFileSync(CASE, join(dir, 'hippocampus_008_0000.nii.gz'));
    for (const n of ['extra_0000.nii.gz', 'extra_0001.nii.gz']) copyFileSync(CASE, join(dir, n));
    const r = await predict(dir);
    expect(r.code).toBe(1);
    expect(readdirSync(r.output).filter((n) => !n.startsWith('.')).sort()).toEqual(['hippocampus_008.nii.gz']);
    expect((await readNifti(join(r.output, 'hippocampus_008.nii.gz'))).shape).toEqual((await readNifti(CASE)).shape);
    expect(r.log).toContain(`1 of 2 case(s) could not be predicted (the other 1 are in ${r.output}):\n  extra: ${join(dir, 'extra_0001.nii.gz')}: case extra has 2 channel file(s) (extra_0000.nii.gz, extra_0001.nii.gz), but the model expects 1 channel(s) (channel_names of the model's dataset.json: 0 'MRI')`);
    expect(r.log).toContain(`fix: give the case exactly the files extra_0000.nii.gz (MRI); move extra_0001.nii.gz out of ${dir}`);
    // a two-channel model: a case without its _0001 file is returned with the others, and fails alone naming the file
    const two = { ...folder(), dataset: { ...folder().dataset, channel_names: { 0: 'T1', 1: 'T2' } } };
    const dir2 = tempDir('nnunet-pi-ch2-');
    for (const n of ['a_0000.nii.gz', 'a_0001.nii.gz', 'b_0000.nii.gz']) writeFileSync(join(dir2, n), 'x');
    const cases = core.casesOfFolder(dir2, '.nii.gz', 2);
    expect(cases.map((c) => [c.id, c.images.length])).toEqual([['a', 2], ['b', 1]]);
    expect(() => core.checkPredictChannelFiles(cases[0]!, two)).not.toThrow();
    const e = (() => { try { core.checkPredictChannelFiles(cases[1]!, two); } catch (x) { return x as core.DataError; } })();
    expect(e?.message).toBe(`${join(dir2, 'b_0001.nii.gz')}: channel file b_0001.nii.gz (T2) of case b is missing: the case has b_0000.nii.gz, the model expects 2 channel(s) (channel_names of the model's dataset.json: 0 'T1', 1 'T2')`);
    expect(e?.hint).toBe(`add b_0001.nii.gz (T2) to ${dir2} (the model's channel order: b_0000.nii.gz (T1), b_0001.nii.gz (T2))`);
    // no case with the model's channel files: the whole folder is refused at once, as before
    const dir3 = tempDir('nnunet-pi-ch3-');
    writeFileSync(join(dir3, 'b_0000.nii.gz'), 'x');
    expect(() => core.casesOfFolder(dir3, '.nii.gz', 2)).toThrow(`${dir3}: case b has 1 channel file(s) (b_0000.nii.gz), but the model expects 2 channel(s)`);
  });

  it('F-P11: an -i folder of per-case subfolders (the KiTS layout case_00000/imaging.nii.gz) says it holds only folders and the layout predict reads (was: "the folder is empty")', async () => {
    const dir = tempDir('nnunet-pi-kits-');
    for (const c of ['case_00000', 'case_00001']) {
      mkdirSync(join(dir, c));
      writeFileSync(join(dir, c, 'imaging.nii.gz'), 'x');
      writeFileSync(join(dir, c, 'segmentation.nii.gz'), 'x');
    }
    const r = await predict(dir);
    expect(r.code).toBe(1);
    expect(r.log).toContain(`error: ${dir}: holds no image files, only 2 folder(s): case_00000, case_00001: predict reads the images directly in the -i folder, not in per-case subfolders`);
    expect(r.log).toContain('hint: put each case\'s images into one folder as CASE_0000.nii.gz, e.g. case_00000/imaging.nii.gz as case_00000_0000.nii.gz (a link or copy; the input is not modified), and pass that folder as -i');
    expect(readdirSync(join(dir, 'case_00000')).sort()).toEqual(['imaging.nii.gz', 'segmentation.nii.gz']);
  });

  it('F-P14: a dangling symbolic link under an image name in an -i folder is named in a warning, the other cases predicted; an error when every image is one (was: skipped without a word)', () => {
    const dir = tempDir('nnunet-pi-links-');
    writeFileSync(join(dir, 'a_0000.nii.gz'), 'x');
    symlinkSync(join(dir, 'moved', 'b_0000.nii.gz'), join(dir, 'b_0000.nii.gz'));
    const log: string[] = [];
    expect(core.casesOfInput(dir, '.nii.gz', 1, (m: string) => log.push(m)).map((c) => c.id)).toEqual(['a']);
    expect(log).toEqual([`warning: ${dir}: 1 image(s) are broken symbolic links, not segmented: b_0000.nii.gz -> ${join(dir, 'moved', 'b_0000.nii.gz')}; restore their targets (or copy the files here), then run the same command with --continue`]);
    const only = tempDir('nnunet-pi-links-only-');
    symlinkSync('/nonexistent/c_0000.nii.gz', join(only, 'c_0000.nii.gz'));
    expect(() => core.casesOfInput(only, '.nii.gz', 1)).toThrow('every input image is a broken symbolic link: c_0000.nii.gz -> /nonexistent/c_0000.nii.gz');
  });

  it('F-P12: output names (README "predict"): in a folder of CASE_XXXX names any four-digit suffix is removed (patient_0007 -> patient, as nnU-Net); with plain names beside them, and for one file, only _0000', () => {
    const dir = tempDir('nnunet-pi-names-');
    for (const n of ['patient_0007.nii.gz', 'a_0000.nii.gz']) writeFileSync(join(dir, n), 'x');
    expect(core.casesOfInput(dir, '.nii.gz', 1).map((c) => c.id)).toEqual(['a', 'patient']);
    writeFileSync(join(dir, 'b.nii.gz'), 'x');
    expect(core.casesOfInput(dir, '.nii.gz', 1).map((c) => c.id)).toEqual(['a', 'b', 'patient_0007']);
    expect(core.casesOfInput(join(dir, 'patient_0007.nii.gz'), '.nii.gz', 1).map((c) => c.id)).toEqual(['patient_0007']);
    expect(core.casesOfInput(join(dir, 'a_0000.nii.gz'), '.nii.gz', 1).map((c) => c.id)).toEqual(['a']);
  });

  it("F-P02: files with another ending than file_ending are listed in one note; a folder without any is an error naming it, the ending and what it holds", async () => {
    const dir = tempDir('nnunet-pi-end-');
    copyFileSync(CASE, join(dir, 'hippocampus_008.nii.gz'));
    for (const n of ['scan.nrrd', 'scan2.mha', 'notes.txt', '.DS_Store']) writeFileSync(join(dir, n), 'x');
    const said: string[] = [];
    const cases = core.casesOfFolder(dir, '.nii.gz', 1, (s) => said.push(s));
    expect(cases.map((c) => c.id)).toEqual(['hippocampus_008']);
    expect(said).toEqual([`note: ${dir}: skipped 3 file(s): notes.txt, scan.nrrd, scan2.mha: their ending is not the model's file_ending '.nii.gz' (nnU-Net skips them too); convert them to .nii.gz to segment them`]);
    // nothing to skip: no note
    const clean = tempDir('nnunet-pi-clean-');
    copyFileSync(CASE, join(clean, 'hippocampus_008_0000.nii.gz'));
    const quiet: string[] = [];
    expect(core.casesOfFolder(clean, '.nii.gz', 1, (s) => quiet.push(s))).toHaveLength(1);
    expect(quiet).toEqual([]);
    // no file with the model's ending: exit 1, the folder, the ending expected and what was found
    const none = tempDir('nnunet-pi-none-');
    for (const n of ['a.nrrd', 'b.nrrd', 'c.mha']) writeFileSync(join(none, n), 'x');
    const r = await predict(none);
    expect(r.code).toBe(1);
    expect(r.log).toContain(`error: ${none}: no input image ends in the model's file_ending '.nii.gz': found 3 file(s): a.nrrd, b.nrrd, c.mha (ending '.nrrd', '.mha')`);
    expect(r.log).toContain('hint: convert the images to .nii.gz (the format the model was trained with; e.g. with SimpleITK or ITK-SNAP), named CASE_0000.nii.gz');
    const empty = tempDir('nnunet-pi-empty-');
    expect(() => core.casesOfFolder(empty, '.nii.gz', 1)).toThrow(`${empty}: no input image ends in the model's file_ending '.nii.gz': the folder is empty`);
  });

  it('F-P03: a 2D image (one slice) for the 3d_fullres model is predicted as one padded slice with a warning naming the file, its shape and the 3D training', { timeout: 300_000 }, async () => {
    const dir = tempDir('nnunet-pi-2d-');
    const f = await variant(dir, 'slice_001.nii.gz', (im) => {
      const [, z, y, x] = im.shape;
      const k = Math.floor(z / 2);
      return { ...im, data: (im.data as Float32Array).slice(k * y * x, (k + 1) * y * x), shape: [1, 1, y, x] };
    });
    const r = await predict(dir);
    expect(r.code, r.log).toBe(0);
    const im = await readNifti(f);
    expect(r.log).toContain(`warning: ${f}: a 2D image (shape 1x${im.shape[2]}x${im.shape[3]}, one slice) for the 3d_fullres model, which was trained on 3D volumes (patch 40x56x40): it is predicted as a single slice padded to the patch (as nnU-Net does), without the 3D context the model learned from; expect a poor segmentation`);
    const out = await readNifti(join(r.output, 'slice_001.nii.gz'));
    expect(out.shape).toEqual(im.shape);
    expect([...out.data].every((v) => v === 0 || v === 1 || v === 2)).toBe(true);
  });

  it('F-P08: a true 2D NIfTI (dim[0] = 2) predicted with the 2d model gives a 2D segmentation (was: 3D, x by y by 1) with the input\'s geometry; the same slice as a 3D file gives the same voxels in a 3D file', { timeout: 300_000 }, async () => {
    const dir2 = tempDir('nnunet-pi-true2d-');
    const dir3 = tempDir('nnunet-pi-slice3d-');
    // origin z 0: the plane a 2D ITK image lies in (SimpleITK writes a 2D NIfTI so)
    const slice = (im: MedicalImage): MedicalImage => {
      const [, z, y, x] = im.shape;
      const k = Math.floor(z / 2);
      return { ...im, data: (im.data as Float32Array).slice(k * y * x, (k + 1) * y * x), shape: [1, 1, y, x], origin: [im.origin[0], im.origin[1], 0] };
    };
    const f3 = await variant(dir3, 'slice.nii', slice);
    // the same bytes with dim[0] = 2: a 2D image as SimpleITK or nibabel write one (qform and sform kept)
    const bytes = readFileSync(f3);
    expect(bytes.readInt16LE(40)).toBe(3);
    bytes.writeInt16LE(2, 40);
    const f2 = join(dir2, 'slice.nii.gz');
    writeFileSync(f2, gzipSync(bytes));
    const in2 = await readNifti(f2);
    expect(in2.header.dim.slice(0, 4)).toEqual([2, in2.shape[3], in2.shape[2], 1]);
    const r2 = await predictWith(NNUNET_MODEL_2D, dir2, undefined, '--save-probabilities');
    expect(r2.code, r2.log).toBe(0);
    const raw2 = gunzipSync(readFileSync(join(r2.output, 'slice.nii.gz')));
    expect([0, 1, 2, 3].map((i) => raw2.readInt16LE(40 + 2 * i))).toEqual([2, in2.shape[3], in2.shape[2], 1]);
    const out2 = await readNifti(join(r2.output, 'slice.nii.gz'));
    expect(out2.shape).toEqual([1, 1, in2.shape[2], in2.shape[3]]);
    expect(out2.spacing).toEqual(in2.spacing);
    expect(out2.origin).toEqual(in2.origin);
    expect(out2.direction).toEqual(in2.direction);
    expect(new Set(out2.data).size).toBeGreaterThan(1);
    // the probabilities stay [K, 1, y, x], as nnU-Net saves them for a 2D input (its 2D arrays carry a slice axis);
    // the .pkl's sitk_stuff is the 2D image's (2 spacings and origins, 2x2 direction) as SimpleITKIO stores it (was: 3D)
    expect(core.readNpz(join(r2.output, 'slice.npz'), 'probabilities').shape).toEqual([3, 1, in2.shape[2], in2.shape[3]]);
    const pkl = core.readNnunetPropertiesPkl(readFileSync(join(r2.output, 'slice.pkl')), 'slice.pkl');
    expect(pkl.dimensions).toBe(2);
    expect(pkl.geometry).toEqual({ spacing: [1, in2.spacing[1], in2.spacing[2]], origin: in2.origin, direction: in2.direction });
    // nnunet-ts ensemble of that folder writes the 2D segmentation again, equal to predict's
    const ens = join(tempDir('nnunet-pi-ens2d-'), 'out');
    await core.ensembleFolders([r2.output], ens, await cliRegistry(), core.silentReporter());
    expect(gunzipSync(readFileSync(join(ens, 'slice.nii.gz'))).subarray(352)).toEqual(raw2.subarray(352));
    expect((await readNifti(join(ens, 'slice.nii.gz'))).header.dim.slice(0, 4)).toEqual([2, in2.shape[3], in2.shape[2], 1]);
    // a 2D NIfTI off the z = 0 plane (its qform places it at z = 1, which a 2D ITK image cannot hold): the output is
    // 2D with that origin; the .pkl keeps a 3D sitk_stuff so that no geometry is lost (SimpleITK would drop z)
    const off = Buffer.from(bytes);
    off.writeFloatLE(1, 268 + 8); // qoffset_z
    off.writeFloatLE(1, 280 + 11 * 4); // srow_z[3]
    const dirOff = tempDir('nnunet-pi-off2d-');
    writeFileSync(join(dirOff, 'slice.nii.gz'), gzipSync(off));
    const rOff = await predictWith(NNUNET_MODEL_2D, dirOff, undefined, '--save-probabilities');
    expect(rOff.code, rOff.log).toBe(0);
    const outOff = await readNifti(join(rOff.output, 'slice.nii.gz'));
    expect(outOff.header.dim[0]).toBe(2);
    expect(outOff.origin).toEqual([in2.origin[0], in2.origin[1], 1]);
    const pklOff = core.readNnunetPropertiesPkl(readFileSync(join(rOff.output, 'slice.pkl')), 'slice.pkl');
    expect([pklOff.dimensions, pklOff.geometry.origin]).toEqual([3, [in2.origin[0], in2.origin[1], 1]]);
    // the 3D file of that slice (model file_ending .nii.gz, input .nii: read by content) stays 3D, same voxels;
    // both outputs differ only in dim[0]
    const r3 = await predictWith(NNUNET_MODEL_2D, dir3);
    expect(r3.code, r3.log).toBe(0);
    const raw3 = gunzipSync(readFileSync(join(r3.output, 'slice.nii.gz')));
    expect(raw3.readInt16LE(40)).toBe(3);
    expect(raw3.length).toBe(raw2.length);
    const differ: number[] = [];
    for (let i = 0; i < raw3.length; i++) if (raw3[i] !== raw2[i]) differ.push(i);
    expect(differ).toEqual([40]);
  });

  it("F-P09: inputs under the gzip twin of file_ending ('.nii' for '.nii.gz', and the reverse) are segmented with a note of the skipped-files form that names the ending and the output's (was: no word)", { timeout: 300_000 }, async () => {
    const dir = tempDir('nnunet-pi-twin-');
    copyFileSync(CASE, join(dir, 'hippocampus_008.nii.gz'));
    writeFileSync(join(dir, 'hippocampus_009.nii'), gunzipSync(readFileSync(CASE)));
    writeFileSync(join(dir, 'scan.nrrd'), 'x');
    const said: string[] = [];
    const cases = core.casesOfInput(dir, '.nii.gz', 1, (s) => said.push(s));
    expect(cases.map((c) => [c.id, c.images])).toEqual([['hippocampus_008', [join(dir, 'hippocampus_008.nii.gz')]], ['hippocampus_009', [join(dir, 'hippocampus_009.nii')]]]);
    expect(said).toEqual([
      `note: ${dir}: skipped 1 file(s): scan.nrrd: their ending is not the model's file_ending '.nii.gz' (nnU-Net skips them too); convert them to .nii.gz to segment them`,
      `note: ${dir}: segmented 1 file(s): hippocampus_009.nii: their ending '.nii' is not the model's file_ending '.nii.gz' (nnU-Net skips them; read here by content, the same format); the outputs are written with the model's ending, as <case>.nii.gz; convert them to .nii.gz to match the model`,
    ]);
    // the reverse: a .nii model given a .nii.gz file
    const rev: string[] = [];
    expect(core.casesOfInput(dir, '.nii', 1, (s) => rev.push(s)).map((c) => c.id)).toEqual(['hippocampus_008', 'hippocampus_009']);
    expect(rev[1]).toBe(`note: ${dir}: segmented 1 file(s): hippocampus_008.nii.gz: their ending '.nii.gz' is not the model's file_ending '.nii' (nnU-Net skips them; read here by content, the same format); the outputs are written with the model's ending, as <case>.nii; convert them to .nii to match the model`);
    // one .nii file as -i: predicted (not refused), the note names the output; a .nrrd file is still refused
    const one = join(tempDir('nnunet-pi-twin1-'), 'hippocampus_009_0000.nii');
    copyFileSync(join(dir, 'hippocampus_009.nii'), one);
    const r = await predictWith(NNUNET_MODEL_2D, one);
    expect(r.code, r.log).toBe(0);
    expect(r.log).toContain(`note: ${one}: its ending '.nii' is not the model's file_ending '.nii.gz' (nnU-Net skips such a file; read here by content, the same format); the output is written with the model's ending, as hippocampus_009.nii.gz; convert it to .nii.gz to match the model`);
    expect(readdirSync(r.output).filter((n) => n.startsWith('hippocampus'))).toEqual(['hippocampus_009.nii.gz']);
    expect((await readNifti(join(r.output, 'hippocampus_009.nii.gz'))).shape).toEqual((await readNifti(one)).shape);
    expect(() => core.casesOfInput(join(dir, 'scan.nrrd'), '.nii.gz', 1)).toThrow(`${join(dir, 'scan.nrrd')}: not a .nii.gz file: the model's dataset.json gives file_ending .nii.gz`);
    // only files of the model's own ending: no note
    const quiet: string[] = [];
    core.casesOfInput(CASE, '.nii.gz', 1, (s) => quiet.push(s));
    expect(quiet).toEqual([]);
  });

  it("F-P10: the segmentation's header is the input's but for type and scaling: qform_code = sform_code = 0 stay 0 with the input's pixdim (was: codes 1 and ITK's identity, flipped and shifted for nibabel), codes 2/4 stay, a NIfTI-2 input gives NIfTI-2 (was: NIfTI-1, sform_code 2 -> 1)", { timeout: 300_000 }, async () => {
    const dir = tempDir('nnunet-pi-codes-');
    const v1 = gunzipSync(readFileSync(CASE));
    expect([v1.readInt32LE(0), v1.readInt16LE(252), v1.readInt16LE(254)]).toEqual([348, 1, 1]);
    const noCodes = Buffer.from(v1);
    noCodes.writeInt16LE(0, 252);
    noCodes.writeInt16LE(0, 254);
    noCodes.writeFloatLE(0.9, 80); // pixdim[1]: an anisotropic grid, so a flip or shift would show
    const mni = Buffer.from(v1);
    mni.writeInt16LE(2, 252);
    mni.writeInt16LE(4, 254);
    // NIfTI-2 (nifti2.h offsets) of the same image, sform_code 2 with float64 values float32 cannot hold
    const body = v1.subarray(352);
    const v2 = Buffer.alloc(544 + body.length);
    v2.writeInt32LE(540, 0);
    Buffer.from('n+2\0\r\n\x1a\n', 'latin1').copy(v2, 4);
    v2.writeInt16LE(v1.readInt16LE(70), 12);
    v2.writeInt16LE(v1.readInt16LE(72), 14);
    for (let i = 0; i < 8; i++) v2.writeBigInt64LE(BigInt(v1.readInt16LE(40 + 2 * i)), 16 + 8 * i);
    for (let i = 0; i < 8; i++) v2.writeDoubleLE(v1.readFloatLE(76 + 4 * i), 104 + 8 * i);
    v2.writeBigInt64LE(544n, 168);
    v2.writeDoubleLE(1, 176);
    v2.writeInt32LE(0, 344);
    v2.writeInt32LE(2, 348);
    const srow = [1, 0, 0, 1.123456789012, 0, 1, 0, -2.000000000003, 0, 0, 1, 3.5];
    srow.forEach((v, i) => v2.writeDoubleLE(v, 400 + 8 * i));
    v2.writeInt32LE(2, 500);
    body.copy(v2, 544);
    writeFileSync(join(dir, 'nocodes.nii.gz'), gzipSync(noCodes));
    writeFileSync(join(dir, 'mni.nii.gz'), gzipSync(mni));
    writeFileSync(join(dir, 'n2.nii.gz'), gzipSync(v2));
    const r = await predict(dir);
    expect(r.code, r.log).toBe(0);
    // header bytes that may differ: datatype, bitpix, vox_offset, scl_slope/inter (NIfTI-1 70-73, 108-119; NIfTI-2 12-15, 168-191)
    const changed = (a: Buffer, b: Buffer, size: number, allowed: number[][]): number[] =>
      Array.from({ length: size }, (_, i) => i).filter((i) => a[i] !== b[i] && !allowed.some(([s, e]) => i >= s! && i < e!));
    for (const [name, input] of [['nocodes', noCodes], ['mni', mni]] as const) {
      const out = gunzipSync(readFileSync(join(r.output, `${name}.nii.gz`)));
      expect(out.readInt32LE(0)).toBe(348);
      expect(changed(out, input, 348, [[70, 74], [108, 120]]), name).toEqual([]);
      expect([out.readInt16LE(252), out.readInt16LE(254)]).toEqual(name === 'nocodes' ? [0, 0] : [2, 4]);
    }
    const out2 = gunzipSync(readFileSync(join(r.output, 'n2.nii.gz')));
    expect(out2.readInt32LE(0)).toBe(540);
    expect(changed(out2, v2, 540, [[12, 16], [168, 192]])).toEqual([]);
    expect([out2.readInt32LE(344), out2.readInt32LE(348)]).toEqual([0, 2]);
    expect(srow.map((_, i) => out2.readDoubleLE(400 + 8 * i))).toEqual(srow);
    expect(Number(out2.readBigInt64LE(168))).toBe(544);
    // mni and n2 differ only in their origin: the same voxels
    const seg = (n: string) => gunzipSync(readFileSync(join(r.output, `${n}.nii.gz`)));
    expect(seg('mni').subarray(352)).toEqual(seg('n2').subarray(544));
    for (const n of ['nocodes', 'mni', 'n2']) {
      const [a, b] = [await readNifti(join(dir, `${n}.nii.gz`)), await readNifti(join(r.output, `${n}.nii.gz`))];
      expect([b.spacing, b.origin, b.direction], n).toEqual([a.spacing, a.origin, a.direction]);
    }
  });

  it('F-P04: NaN/Inf voxels warn with the file and the count; they are predicted as 0 (the same segmentation as the image with 0 there); an all-NaN image is an error', { timeout: 300_000 }, async () => {
    const dir = tempDir('nnunet-pi-nan-');
    const zero = tempDir('nnunet-pi-zero-');
    const at = [100, 2000, 2001, 5000];
    const f = await variant(dir, 'hippocampus_008.nii.gz', (im) => {
      const d = im.data as Float32Array;
      [d[at[0]!], d[at[1]!], d[at[2]!], d[at[3]!]] = [NaN, Infinity, -Infinity, NaN];
      return im;
    });
    await variant(zero, 'hippocampus_008.nii.gz', (im) => {
      for (const i of at) (im.data as Float32Array)[i] = 0;
      return im;
    });
    const r = await predict(dir);
    expect(r.code, r.log).toBe(0);
    const n = (await readNifti(f)).data.length;
    expect(r.log).toContain(`warning: ${f}: 4 of ${n} voxel(s) are NaN or infinite; they are set to 0 before normalization (nnU-Net would turn the whole output into NaN-driven noise), so the segmentation near them is a guess: replace them (e.g. by the image minimum) and predict again`);
    const z = await predict(zero);
    expect(z.code).toBe(0);
    const a = await readNifti(join(r.output, 'hippocampus_008.nii.gz'));
    const b = await readNifti(join(z.output, 'hippocampus_008.nii.gz'));
    expect([...a.data]).toEqual([...b.data]);
    expect(new Set(a.data).size).toBeGreaterThan(1);
    // every voxel NaN: nothing to segment
    const all = tempDir('nnunet-pi-allnan-');
    const g = await variant(all, 'hippocampus_008.nii.gz', (im) => ({ ...im, data: new Float32Array(im.data.length).fill(NaN) }));
    const e = await predict(all);
    expect(e.code).toBe(1);
    expect(e.log).toContain(`${g}: every voxel of channel 0 is NaN or infinite: there is nothing to segment`);
  });

  it('F-P05: an all-zero image warns "constant image", still predicts, and its probabilities are finite (z-score with std 0)', { timeout: 300_000 }, async () => {
    const dir = tempDir('nnunet-pi-const-');
    const f = await variant(dir, 'hippocampus_008.nii.gz', (im) => ({ ...im, data: new Float32Array(im.data.length) }));
    const r = await predict(dir);
    expect(r.code, r.log).toBe(0);
    expect(r.log).toContain(`warning: ${f}: constant image: every voxel is 0; normalization maps it to 0, so the prediction will be background/meaningless`);
    const out = await readNifti(join(r.output, 'hippocampus_008.nii.gz'));
    expect(out.shape).toEqual((await readNifti(f)).shape);
    expect([...out.data].every((v) => v === 0 || v === 1 || v === 2)).toBe(true);
    // the probabilities (nnU-Net's z-score with std 0 divides by max(std, 1e-8)) are finite and sum to 1
    const pr = await predict(dir, join(tempDir('nnunet-pi-prob-'), 'out'), '--save-probabilities');
    expect(pr.code, pr.log).toBe(0);
    const npz = core.readNpz(join(pr.output, 'hippocampus_008.npz'), 'probabilities');
    expect(npz.shape).toEqual([3, ...out.shape.slice(1)]);
    const probs = npz.data as Float32Array;
    expect(probs.every(Number.isFinite)).toBe(true);
    const n = out.data.length;
    for (const i of [0, Math.floor(n / 2), n - 1]) expect(probs[i]! + probs[n + i]! + probs[2 * n + i]!).toBeCloseTo(1, 4);
  });

  it('F-P06: a [0, 1] export, a 1000x or 1/1000 rescale, a CT without the intercept and a CT given to the MRI model each give their finding; a spacing 3x off a note', async () => {
    const registry = await cliRegistry();
    const read = async (file: string) => (await core.readCase(registry, { id: 'x', images: [file] })).image;
    const data = (im: MedicalImage) => Float32Array.from(im.data as ArrayLike<number>);
    const perImage = '; ZScoreNormalization normalizes each image by its own mean and std, so a scaling alone does not change the prediction, but check that this is the modality the model was trained on';
    const fp = folder().plans.foreground_intensity_properties_per_channel['0']!;
    expect([fp.min, fp.percentile_00_5, fp.percentile_99_5, fp.max].map((v) => Math.round(v))).toEqual([8, 32, 153900, 289225]);
    // normalised to [0, 1]: the uint8 test image divided by its maximum (168)
    const h = await read(HIP_TS);
    let f = core.predictInputFindings({ id: 'x', images: [HIP_TS] }, { ...h, data: data(h).map((v) => v / 168) }, folder());
    expect(f).toEqual({ warnings: [], notes: [`${HIP_TS}: channel 0 ('MRI'): every value lies within [0, 1] (range 0.005952..1), while the training foreground's 0.5th percentile is 32: normalised to [0, 1]?${perImage}`] });
    // rescaled by 1000 (99th percentile 968.6 -> 968589) and by 1/1000
    const im = await read(CASE);
    f = core.predictInputFindings({ id: 'x', images: [CASE] }, { ...im, data: data(im).map((v) => v * 1000) }, folder());
    expect(f).toEqual({ warnings: [], notes: [`${CASE}: channel 0 ('MRI'): 99th percentile 968589 lies above 3x the training foreground's maximum 289225${perImage}`] });
    f = core.predictInputFindings({ id: 'x', images: [CASE] }, { ...im, data: data(im).map((v) => v / 1000) }, folder());
    expect(f).toEqual({ warnings: [], notes: [`${CASE}: channel 0 ('MRI'): 99th percentile 0.9686 lies below 1/10 of the training foreground's 0.5th percentile 32 (about 1/158890 of the training 99.5th percentile 153900: normalised or rescaled?)${perImage}`] });
    // spacing 4 mm along z (target 1 mm)
    f = core.predictInputFindings({ id: 'x', images: [CASE] }, { ...im, spacing: [4, 1, 1] }, folder());
    expect(f.notes).toEqual([`${CASE}: spacing 4 x 1 x 1 mm differs from the 3d_fullres model's target spacing 1 x 1 x 1 mm by more than 3x (4 vs 1 mm); it is resampled to the target spacing as nnU-Net does (informational: check the header's spacing if this is unexpected)`]);
    // a CT model (training foreground -1024..3071 HU) given the MSD spleen CT: in HU no finding; as stored values
    // without the intercept (HU + 1024, clipped to 0..4095) a warning
    const ct = structuredClone(folder());
    ct.plans.configurations['3d_fullres']!.normalization_schemes = ['CTNormalization'];
    ct.plans.foreground_intensity_properties_per_channel['0'] = { ...fp, min: -1024, max: 3071, percentile_00_5: -1000, percentile_99_5: 1200, mean: 50, std: 300, median: 40 };
    ct.dataset.channel_names = { 0: 'CT' };
    const sp = await read(SPLEEN);
    expect(core.predictInputFindings({ id: 'x', images: [SPLEEN] }, { ...sp, spacing: [1, 1, 1] }, ct)).toEqual({ warnings: [], notes: [] });
    f = core.predictInputFindings({ id: 'x', images: [SPLEEN] }, { ...sp, spacing: [1, 1, 1], data: data(sp).map((v) => Math.min(4095, Math.max(0, v + 1024))) }, ct);
    expect(f.warnings).toEqual([`${SPLEEN}: channel 0 ('CT') has no negative value (range 5..1973), while the training CT foreground reaches -1024 HU: the image looks like stored values without the rescale intercept (HU = value - 1024 for most scanners), and CTNormalization clips it to the training range [-1000, 1200]: the prediction will likely be wrong; export the image in Hounsfield units`]);
    // another modality: the spleen CT (in HU) given to the Hippocampus MRI model
    f = core.predictInputFindings({ id: 'x', images: [SPLEEN] }, { ...sp, spacing: [1, 1, 1] }, folder());
    expect(f).toEqual({ warnings: [], notes: [`${SPLEEN}: channel 0 ('MRI'): at least 1% of the voxels are negative (1st percentile -851, minimum -1019), while the training foreground has no negative value (minimum 7.844): another modality (a CT in HU, air at -1000) or an export shifted to zero mean?; ZScoreNormalization normalizes each image by its own mean and std, so a shift or scaling alone does not change the prediction, but another modality does: check that this is the modality the model was trained on`] });
  });

  it('F-P07: in-distribution Hippocampus images give no intensity finding: the uint8 test image, also against a training set without uint8 images (0.5th percentile 141, above its 99th percentile 101), and every embedded example case', async () => {
    const registry = await cliRegistry();
    const read = async (file: string) => (await core.readCase(registry, { id: 'x', images: [file] })).image;
    const h = await read(HIP_TS);
    const sorted = Float32Array.from(h.data as ArrayLike<number>).sort();
    expect(sorted[Math.floor(0.99 * (sorted.length - 1))]).toBe(101);
    expect(core.predictInputFindings({ id: 'hippocampus_118', images: [HIP_TS] }, h, folder())).toEqual({ warnings: [], notes: [] });
    // the fingerprint of the 173 float32 training cases of shared/data (scripts/intensity-findings-measure.mjs): the
    // old rule (99th percentile below the 0.5th percentile) called all 48 uint8 images too dark
    const float = structuredClone(folder());
    float.plans.foreground_intensity_properties_per_channel['0'] = { ...float.plans.foreground_intensity_properties_per_channel['0']!, percentile_00_5: 141.3, percentile_99_5: 289400, max: 466000 };
    expect(core.predictInputFindings({ id: 'hippocampus_118', images: [HIP_TS] }, h, float)).toEqual({ warnings: [], notes: [] });
    for (const sub of ['imagesTr', 'imagesTs']) {
      for (const n of readdirSync(join(EXAMPLE, sub))) {
        const file = join(EXAMPLE, sub, n);
        expect(core.predictInputFindings({ id: n, images: [file] }, await read(file), folder()), file).toEqual({ warnings: [], notes: [] });
      }
    }
  });
});

/** A registry with every package's defaults, as the CLI builds it. */
async function cliRegistry(): Promise<core.Registry> {
  const { makeFullRegistry } = await import('../bad-inputs/harness.js');
  return makeFullRegistry();
}

