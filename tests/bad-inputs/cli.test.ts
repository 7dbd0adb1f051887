/**
 * Bad-input rows exercised through the `nnunet-ts` verbs (`runCli`): exit codes before fingerprinting (B05), and one
 * small end-to-end run (validate -> fingerprint -> plan -> preprocess -> train 1 short epoch -> predict) on a
 * dataset with non-ASCII names (B40), a CT origin of (0,-318,0) (B33) and an uncompressed `.nii` test image with a
 * stray notes.txt next to it (B36).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { addCase, cleanupTemp, datasetJsonV2, makeDatasetV2, parseNiftiHeader, put, rng, tempDir, vol, writeNiftiFile } from './generate.js';
import { cli, makeRegistry, need, niftiReader } from './harness.js';

afterAll(cleanupTemp);

type AnyFn = (...args: any[]) => any;

function runner() {
  const runCli = need<AnyFn>(cli as never, 'runCli', '@nnunet-ts/cli');
  const lines: string[] = [];
  const errs: string[] = [];
  const run = async (...args: string[]): Promise<number> => runCli([...args, '-q'], { out: (s: string) => lines.push(s) }, (s: string) => errs.push(s));
  return { run, lines, errs };
}

describe('cli rows', () => {
  it('B05 (cli): validate and fingerprint exit non-zero on label value 5 (declared 0..4), and no fingerprint is written', async () => {
    const parent = tempDir();
    const root = makeDatasetV2(parent, datasetJsonV2(['MRI'], { background: 0, a: 1, b: 2, c: 3, d: 4 }, 2));
    const img = vol([10, 10, 10], 'float32', (i, j, k) => 1 + i + j + k);
    addCase(root, 'case_001', [img], vol([10, 10, 10], 'uint8', (i) => [0, 2, 3, 4, 5][i % 5]!));
    addCase(root, 'case_002', [img], vol([10, 10, 10], 'uint8', (i) => [0, 1, 2, 3, 4][i % 5]!));
    const { run, lines, errs } = runner();
    expect(await run('validate', root)).toBe(1);
    expect(lines.join('\n')).toMatch(/case_001\.nii\.gz: unexpected label value\(s\) \[5\]/);
    const out = join(parent, 'run');
    expect(await run('fingerprint', root, '-o', out)).toBe(1);
    expect(errs.join('\n')).toMatch(/\[5\]/);
    const written = existsSync(out) ? readdirSync(out, { recursive: true }).map(String) : [];
    expect(written.filter((f) => f.endsWith('dataset_fingerprint.json'))).toEqual([]);
  });

  it('B22 (pipeline): 2D images stored as 32x24x1 with the finest spacing on the singleton axis train a 2d model whose predictions keep shape and header', async () => {
    const parent = tempDir();
    const root = makeDatasetV2(parent, datasetJsonV2(['MRI'], { background: 0, disc: 1 }, 5), 'Dataset003_Flat');
    const dims: [number, number, number] = [32, 24, 1];
    const geo = { spacing: [1, 1, 0.5], origin: [5, -7, 12] };
    const r = rng(22);
    const caseOf = (cx: number) => ({
      img: vol(dims, 'float32', (i, j) => (Math.hypot(i - cx, j - 12) <= 5 ? 200 : 50) + r() * 20, geo),
      lab: vol(dims, 'uint8', (i, j) => (Math.hypot(i - cx, j - 12) <= 5 ? 1 : 0), geo),
    });
    for (let n = 0; n < 5; n++) {
      const c = caseOf(10 + 2 * n);
      addCase(root, `flat_${n}`, [c.img], c.lab);
    }
    const test = caseOf(16);
    const input = writeNiftiFile(join(root, 'imagesTs', 'flat_9_0000.nii.gz'), test.img);
    const { run, errs } = runner();
    const out = join(parent, 'run');
    expect(await run('fingerprint', root, '-o', out), errs.join('\n')).toBe(0);
    expect(await run('plan', root, '-o', out), errs.join('\n')).toBe(0);
    const L = need<AnyFn>((await import('@nnunet-ts/core')) as never, 'runLayout')(out);
    const plans = JSON.parse(readFileSync(L.plans, 'utf8'));
    expect([...plans.configurations['2d'].patch_size].sort((a: number, b: number) => a - b)).toEqual([24, 32]);
    expect(await run('train', root, '-o', out, '--preset', 'tiny', '-c', '2d', '--epochs', '1', '--iterations-per-epoch', '2'), errs.join('\n')).toBe(0);
    const pred = join(parent, 'pred');
    expect(await run('predict', '-i', join(root, 'imagesTs'), '-o', pred, '-m', L.modelDir('2d'), '--disable-tta'), errs.join('\n')).toBe(0);
    const reg = makeRegistry();
    const inImg = await niftiReader(reg).read(input);
    const seg = await niftiReader(reg).read(join(pred, 'flat_9.nii.gz'));
    expect(seg.shape).toEqual([1, 1, 24, 32]);
    expect(seg.spacing).toEqual(inImg.spacing);
    expect(seg.origin).toEqual(inImg.origin);
    expect(seg.direction).toEqual(inImg.direction);
    const hIn = parseNiftiHeader(gunzipSync(readFileSync(input)));
    const hOut = parseNiftiHeader(gunzipSync(readFileSync(join(pred, 'flat_9.nii.gz'))));
    expect(hOut.dim.slice(0, 4)).toEqual(hIn.dim.slice(0, 4));
    expect(hOut.srow).toEqual(hIn.srow);
  });

  it('B35 (pipeline): dataset.json "lateralized_labels": true keeps the left-right axis out of training and TTA mirroring', async () => {
    const parent = tempDir();
    const root = makeDatasetV2(parent, datasetJsonV2(['MRI'], { background: 0, left: 1, right: 2 }, 5, '.nii.gz', { lateralized_labels: true }), 'Dataset004_Lateral');
    const dims: [number, number, number] = [16, 16, 8];
    const r = rng(35);
    for (let n = 0; n < 5; n++) {
      const sphere = (i: number, j: number, k: number, cx: number) => Math.hypot(i - cx, j - 8, k - 4) <= 3;
      const img = vol(dims, 'float32', (i, j, k) => (sphere(i, j, k, 4) || sphere(i, j, k, 11) ? 100 : 10) + (i < 2 ? 50 : 0) + r() * 5);
      const lab = vol(dims, 'uint8', (i, j, k) => (sphere(i, j, k, 4) ? 1 : sphere(i, j, k, 11) ? 2 : 0));
      addCase(root, `lat_${n}`, [img], lab);
    }
    const { run, errs, lines } = runner();
    const out = join(parent, 'run');
    expect(await run('fingerprint', root, '-o', out), errs.join('\n')).toBe(0);
    expect(await run('plan', root, '-o', out), errs.join('\n')).toBe(0);
    expect(await run('train', root, '-o', out, '--preset', 'tiny', '--epochs', '1', '--iterations-per-epoch', '1'), errs.join('\n')).toBe(0);
    const L = need<AnyFn>((await import('@nnunet-ts/core')) as never, 'runLayout')(out);
    const ckpt = JSON.parse(readFileSync(join(L.modelDir('3d_fullres'), 'fold_0', 'checkpoint_final.json'), 'utf8'));
    const find = (o: unknown): unknown => {
      if (!o || typeof o !== 'object') return undefined;
      if ('inference_allowed_mirroring_axes' in (o as object)) return (o as Record<string, unknown>)['inference_allowed_mirroring_axes'];
      for (const v of Object.values(o as object)) { const f = find(v); if (f !== undefined) return f; }
      return undefined;
    };
    // identity direction and isotropic spacing: the left-right (x) axis is patch axis 2
    expect(find(ckpt)).toEqual([0, 1]);
    void lines;
  });

  it('B33 + B36 + B40 (pipeline): non-ASCII ids survive training and prediction; a .nii test input beside notes.txt is predicted with the input geometry', async () => {
    const parent = join(tempDir(), 'Daten_ä');
    mkdirSync(parent, { recursive: true });
    const root = makeDatasetV2(parent, datasetJsonV2(['CT'], { background: 0, nodule: 1 }, 5), 'Dataset002_Lunge');
    const dims: [number, number, number] = [20, 16, 24];
    const geo = { spacing: [1, 1, 1], origin: [0, -318, 0] };
    const r = rng(33);
    const caseOf = (cx: number) => ({
      img: vol(dims, 'int16', (i, j, k) => (Math.hypot(i - cx, j - 8, k - 12) <= 4 ? 200 : 0) + Math.round(r() * 40) - 20, geo),
      lab: vol(dims, 'uint8', (i, j, k) => (Math.hypot(i - cx, j - 8, k - 12) <= 4 ? 1 : 0), geo),
    });
    const ids = ['肺结节_001', '肺结节_002', 'Sättiger_003', 'Sättiger_004', 'Größe_005'];
    ids.forEach((id, n) => {
      const c = caseOf(7 + n);
      addCase(root, id, [c.img], c.lab);
    });
    const test = caseOf(10);
    const input = writeNiftiFile(join(root, 'imagesTs', '肺结节_006_0000.nii'), test.img);
    put(join(root, 'imagesTs', 'notes.txt'), 'not an image\n');
    const { run, errs } = runner();
    const out = join(parent, 'run');
    expect(await run('validate', root), errs.join('\n')).toBe(0);
    expect(await run('fingerprint', root, '-o', out), errs.join('\n')).toBe(0);
    expect(await run('plan', root, '-o', out), errs.join('\n')).toBe(0);
    const budget = ['--preset', 'tiny', '--epochs', '1', '--iterations-per-epoch', '2'];
    expect(await run('train', root, '-o', out, ...budget), errs.join('\n')).toBe(0);
    const splitsFile = readdirSync(out, { recursive: true }).map(String).find((f) => f.endsWith('splits_final.json'));
    expect(splitsFile).toBeTruthy();
    const splits = JSON.parse(readFileSync(join(out, splitsFile!), 'utf8')) as { train: string[]; val: string[] }[];
    expect([...splits[0]!.train, ...splits[0]!.val].sort()).toEqual([...ids].map((s) => s.normalize('NFC')).sort());
    const modelDir = need<AnyFn>((await import('@nnunet-ts/core')) as never, 'runLayout')(out).modelDir('3d_fullres');
    const pred = join(parent, 'vorhersage_ä');
    expect(await run('predict', '-i', join(root, 'imagesTs'), '-o', pred, '-m', modelDir, '--disable-tta'), errs.join('\n')).toBe(0);
    expect(readdirSync(pred).filter((f) => !f.startsWith('.')).sort()).toEqual(['肺结节_006.nii.gz']);
    const reg = makeRegistry();
    const inImg = await niftiReader(reg).read(input);
    const seg = await niftiReader(reg).read(join(pred, '肺结节_006.nii.gz'));
    expect(seg.shape).toEqual(inImg.shape);
    expect(seg.spacing).toEqual(inImg.spacing);
    expect(seg.origin).toEqual([0, -318, 0]);
    expect(seg.direction).toEqual(inImg.direction);
    const hIn = parseNiftiHeader(readFileSync(input));
    const hOut = parseNiftiHeader(gunzipSync(readFileSync(join(pred, '肺结节_006.nii.gz'))));
    expect(hOut.srow).toEqual(hIn.srow);
    expect(hOut.quatern).toEqual(hIn.quatern);
    expect([hOut.qformCode, hOut.sformCode]).toEqual([hIn.qformCode, hIn.sformCode]);
    expect(hOut.pixdim.slice(0, 4)).toEqual(hIn.pixdim.slice(0, 4));
  });
});
