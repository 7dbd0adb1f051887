/**
 * plans `image_reader_writer` NibabelIOWithReorient (docs/FAULTS.md F-P13): nnU-Net reads every image in its closest
 * canonical RAS orientation and writes the segmentation back in the input's own orientation, so the same scan stored
 * with its axes permuted (correct header) gives the same segmentation in world space. Before, the setting was ignored
 * (Dice 0.53/0.55 instead of 0.80/0.86 on a permuted scan). The shared Hippocampus 3d_fullres model, plans.json edited
 * in a temp copy, and the embedded example case.
 */
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNifti, writeNifti, type NiftiHeader } from '@nnunet-ts/io-nifti';
import { cleanupTemp, tempDir } from '../bad-inputs/generate.js';
import { core, makeFullRegistry, makeRegistry } from '../bad-inputs/harness.js';
import { predictCli } from '../helpers/predict-cli.js';

afterAll(cleanupTemp);

const SHARED = process.env.NNUNET_SHARED ?? resolve(import.meta.dirname, '..', '..', '..', 'shared');
const NNUNET_MODEL = join(SHARED, 'models', 'Dataset004_Hippocampus', 'nnUNetTrainer_16x30__nnUNetPlans__3d_fullres');
const EXAMPLE = resolve(import.meta.dirname, '..', '..', 'examples', 'Task04_Hippocampus_subset');
const CASE = join(EXAMPLE, 'imagesTs', 'hippocampus_008.nii.gz');

/** A temp copy of the shared model with plans.json `image_reader_writer` set to `rw`. */
function modelWith(rw: string): string {
  const dir = join(tempDir('nnunet-ro-model-'), 'nnUNetTrainer_16x30__nnUNetPlans__3d_fullres');
  cpSync(NNUNET_MODEL, dir, { recursive: true });
  const plans = JSON.parse(readFileSync(join(dir, 'plans.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'plans.json'), JSON.stringify({ ...plans, image_reader_writer: rw }, null, 2));
  return dir;
}

/** `predict -i input -o <temp>/out` with `model` (cpu-native, no mirroring, no estimate): exit code, log, output folder. */
const predict = (model: string, input: string, ...extra: string[]) => predictCli(model, input, undefined, ...extra);

/** The geometry fields of a NIfTI header (dim, pixdim, qform, sform). */
function geometryFields(h: NiftiHeader): unknown {
  return { dim: h.dim, pixdim: h.pixdim, qformCode: h.qformCode, sformCode: h.sformCode, quatern: h.quatern, qoffset: h.qoffset, srow: h.srow, xyztUnits: h.xyztUnits };
}

/** The example case with x and z swapped and x reversed (same world geometry), written as `<dir>/<name>`; its orientation. */
async function permutedCopy(dir: string, name: string): Promise<{ file: string; orientation: core.Orientation }> {
  const im = await readNifti(CASE);
  const orientation: core.Orientation = { perm: [2, 1, 0], flip: [true, false, false] };
  const file = join(dir, name);
  await writeNifti(file, core.reorientImage({ ...im, data: Float32Array.from(im.data as ArrayLike<number>) }, orientation), { dtype: 'float32' });
  return { file, orientation };
}

describe('plans image_reader_writer NibabelIOWithReorient', () => {
  it('F-P13: a permuted-axes copy of a scan gives the same segmentation in world space, written with its own header', async () => {
    const model = modelWith('NibabelIOWithReorient');
    const dir = tempDir('nnunet-ro-in-');
    const { file, orientation } = await permutedCopy(dir, 'hippocampus_008.nii.gz');
    const a = await predict(model, CASE, '--save-probabilities');
    const b = await predict(model, dir, '--save-probabilities');
    expect([a.code, b.code]).toEqual([0, 0]);
    const segA = await readNifti(join(a.output, 'hippocampus_008.nii.gz'));
    const segB = await readNifti(join(b.output, 'hippocampus_008.nii.gz'));
    const inB = await readNifti(file);
    // the output keeps the permuted input's grid and header geometry exactly
    expect(segB.shape).toEqual(inB.shape);
    expect([segB.spacing, segB.origin, segB.direction]).toEqual([inB.spacing, inB.origin, inB.direction]);
    expect(geometryFields(segB.header as NiftiHeader)).toEqual(geometryFields(inB.header as NiftiHeader));
    expect(geometryFields(segA.header as NiftiHeader)).toEqual(geometryFields((await readNifti(CASE)).header as NiftiHeader));
    // the same labels at the same world positions: B's segmentation brought onto A's grid equals A's voxel for voxel
    const fg = Array.from(segA.data).filter((v) => v > 0).length;
    expect(fg).toBeGreaterThan(100);
    const bOnA = core.reorientImage(segB, core.closestCanonical(segB.direction));
    expect(bOnA.shape).toEqual(segA.shape);
    expect(core.closestCanonical(segA.direction)).toEqual({ perm: [0, 1, 2], flip: [false, false, false] });
    expect(Array.from(bOnA.data)).toEqual(Array.from(segA.data));
    // so are the saved probabilities, on each input's own grid
    const pa = core.readNpz(join(a.output, 'hippocampus_008.npz'), 'probabilities');
    const pb = core.readNpz(join(b.output, 'hippocampus_008.npz'), 'probabilities');
    expect(pb.shape).toEqual([3, ...inB.shape.slice(1)]);
    const pbOnA = core.reorientImage({ ...inB, data: pb.data as Float32Array, shape: pb.shape as [number, number, number, number] }, core.closestCanonical(inB.direction));
    expect(Array.from(pbOnA.data)).toEqual(Array.from(pa.data as Float32Array));
    // the permuted copy's grid really differs from A's (x and z swapped)
    expect(inB.shape.slice(1)).toEqual([segA.shape[3], segA.shape[2], segA.shape[1]]);
    expect(orientation.perm).toEqual([2, 1, 0]);
  });

  it('F-P13: an ensemble of NibabelIOWithReorient models (the decathlon\'s test-set prediction) writes the permuted copy on its own grid', async () => {
    const reg = await makeFullRegistry();
    const backend = await core.selectBackend(reg, 'cpu-native', () => {});
    const m = await core.loadModel(core.readModelFolder(modelWith('NibabelIOWithReorient'), [0]), reg, backend);
    const dir = tempDir('nnunet-ro-in-');
    const { file } = await permutedCopy(dir, 'b.nii.gz');
    const out = tempDir('nnunet-ro-ens-');
    await core.predictCasesEnsemble([m, m], [{ id: 'a', images: [CASE] }, { id: 'b', images: [file] }], out, reg, core.silentReporter(), { mirror: false, estimate: false });
    const [sa, sb, inB] = [await readNifti(join(out, 'a.nii.gz')), await readNifti(join(out, 'b.nii.gz')), await readNifti(file)];
    expect(geometryFields(sb.header as NiftiHeader)).toEqual(geometryFields(inB.header as NiftiHeader));
    expect(Array.from(core.reorientImage(sb).data)).toEqual(Array.from(sa.data));
    expect(Array.from(sa.data).filter((v) => v > 0).length).toBeGreaterThan(100);
  });

  it('the default reader (NibabelIO, as the shared model) reads the scan as stored; an unknown name is said', async () => {
    const dir = tempDir('nnunet-ro-in-');
    await permutedCopy(dir, 'hippocampus_008.nii.gz');
    const plain = await predict(NNUNET_MODEL, dir);
    const reor = await predict(modelWith('NibabelIOWithReorient'), dir);
    const [p, r] = [await readNifti(join(plain.output, 'hippocampus_008.nii.gz')), await readNifti(join(reor.output, 'hippocampus_008.nii.gz'))];
    // the network saw another array: the segmentations differ (nnU-Net's NibabelIO model would not reorient either)
    expect(Array.from(p.data)).not.toEqual(Array.from(r.data));
    const unknown = modelWith('MyOwnIO');
    const u = await predict(unknown, dir);
    expect(u.code).toBe(0);
    expect(u.log).toContain(`note: ${join(unknown, 'plans.json')}: image_reader_writer 'MyOwnIO' is not one of nnU-Net's (SimpleITKIO, NibabelIO, NibabelIOWithReorient, Tiff3DIO, NaturalImage2DIO); images are read by their file ending, in their own orientation (not reoriented)`);
    expect(Array.from((await readNifti(join(u.output, 'hippocampus_008.nii.gz'))).data)).toEqual(Array.from(p.data));
  });
});

describe('dataset.json overwrite_image_reader_writer NibabelIOWithReorient: fingerprint, preprocessing (training input)', () => {
  /** A v2 dataset of hippocampus_003 as stored (case a) and with x and z swapped and x reversed (case b). */
  async function dataset(rw: string | undefined): Promise<string> {
    const root = join(tempDir('nnunet-ro-ds-'), 'Dataset990_Reorient');
    mkdirSync(join(root, 'imagesTr'), { recursive: true });
    mkdirSync(join(root, 'labelsTr'), { recursive: true });
    writeFileSync(join(root, 'dataset.json'), JSON.stringify({
      channel_names: { 0: 'MRI' }, labels: { background: 0, Anterior: 1, Posterior: 2 }, numTraining: 2, file_ending: '.nii.gz',
      ...(rw ? { overwrite_image_reader_writer: rw } : {}),
    }));
    const img = join(EXAMPLE, 'imagesTr', 'hippocampus_003.nii.gz');
    const lab = join(EXAMPLE, 'labelsTr', 'hippocampus_003.nii.gz');
    copyFileSync(img, join(root, 'imagesTr', 'a_0000.nii.gz'));
    copyFileSync(lab, join(root, 'labelsTr', 'a.nii.gz'));
    const o: core.Orientation = { perm: [2, 1, 0], flip: [true, false, false] };
    const im = await readNifti(img);
    await writeNifti(join(root, 'imagesTr', 'b_0000.nii.gz'), core.reorientImage({ ...im, data: Float32Array.from(im.data as ArrayLike<number>) }, o), { dtype: 'float32' });
    await writeNifti(join(root, 'labelsTr', 'b.nii.gz'), core.reorientImage(await readNifti(lab), o), { dtype: 'uint8' });
    return root;
  }

  it('F-P13: the permuted case is read, fingerprinted and preprocessed as the original (was: its own axis order)', async () => {
    const reg = makeRegistry();
    const rep = core.silentReporter();
    const ds = await core.loadDataset(await dataset('NibabelIOWithReorient'));
    const [a, b] = ['a', 'b'].map((id) => ds.cases.find((c) => c.id === id)!);
    // readCase: image and label of b reoriented onto a's grid; the input grid kept for writing back
    const ra = await core.readCase(reg, a!, undefined, { reorient: true });
    const rb = await core.readCase(reg, b!, undefined, { reorient: true });
    expect(rb.image.shape).toEqual(ra.image.shape);
    expect(Array.from(rb.image.data)).toEqual(Array.from(ra.image.data));
    expect(Array.from(rb.seg.data)).toEqual(Array.from(ra.seg.data));
    for (const k of ['spacing', 'origin', 'direction'] as const) rb.image[k].forEach((v, i) => expect(v).toBeCloseTo(ra.image[k][i]!, 4));
    expect(rb.reoriented!.original.shape).toEqual([1, ra.image.shape[3], ra.image.shape[2], ra.image.shape[1]]);
    expect(rb.reoriented!.orientation).toEqual({ perm: [2, 1, 0], flip: [false, false, true] });
    // fingerprint (dataset.json's setting, as nnU-Net's extractor): both cases the same spacing and shape
    const fp = await core.runFingerprint(ds, reg, join(tempDir('nnunet-ro-fp-'), 'fp.json'), rep);
    expect(fp.shapes_after_crop[1]).toEqual(fp.shapes_after_crop[0]);
    fp.spacings[1]!.forEach((v, i) => expect(v).toBeCloseTo(fp.spacings[0]![i]!, 5));
    // without the setting each case keeps its stored axis order
    const plain = await core.runFingerprint(await core.loadDataset(await dataset(undefined)), reg, join(tempDir('nnunet-ro-fp-'), 'fp.json'), rep);
    expect(plain.shapes_after_crop[1]).toEqual([...plain.shapes_after_crop[0]!].reverse());
    // preprocessing with the plans' setting: the same preprocessed arrays for both cases
    const plans = { ...core.loadPlans(join(NNUNET_MODEL, 'plans.json')), image_reader_writer: 'NibabelIOWithReorient' };
    const dir = tempDir('nnunet-ro-pp-');
    const labels = core.classLocationsOf(ds);
    for (const c of [a!, b!]) await core.preprocessOneCase(c, plans, '3d_fullres', reg, dir, rep, { labels });
    const [pa, pb] = [await core.readPreprocessedCase(dir, 'a'), await core.readPreprocessedCase(dir, 'b')];
    expect(pb.shape).toEqual(pa.shape);
    expect(Array.from(pb.data)).toEqual(Array.from(pa.data));
    expect(Array.from(pb.seg!)).toEqual(Array.from(pa.seg!));
  });

  it('F-P13: validation predictions of a NibabelIOWithReorient model are written on each label\'s own grid, with equal Dice', async () => {
    const reg = await makeFullRegistry();
    const rep = core.silentReporter();
    const ds = await core.loadDataset(await dataset('NibabelIOWithReorient'));
    const model = modelWith('NibabelIOWithReorient');
    rmSync(join(model, 'fold_0', 'validation'), { recursive: true, force: true });
    const plans = core.loadPlans(join(model, 'plans.json'));
    const pre = tempDir('nnunet-ro-pp-');
    const labels = core.classLocationsOf(ds);
    for (const c of ds.cases) await core.preprocessOneCase(c, plans, '3d_fullres', reg, pre, rep, { labels });
    const backend = await core.selectBackend(reg, 'cpu-native', () => {});
    const summary = await core.validateFold({
      ds, plans, configuration: '3d_fullres', registry: reg, backend, preprocessedDir: pre, modelDir: model,
      splits: [{ train: [], val: ['a', 'b'] }], folds: [0], budget: { ...core.DEFAULT_BUDGET, mirror: false }, rep,
    }, 0);
    const [a, b] = summary.metric_per_case;
    expect(a!.metrics['1']!.Dice).toBeGreaterThan(0.5);
    expect(b!.metrics).toEqual(a!.metrics);
    const outB = await readNifti(join(model, 'fold_0', 'validation', 'b.nii.gz'));
    const refB = await readNifti(join(ds.root, 'labelsTr', 'b.nii.gz'));
    expect(outB.shape).toEqual(refB.shape);
    expect(geometryFields(outB.header as NiftiHeader)).toEqual(geometryFields(refB.header as NiftiHeader));
  });
});
