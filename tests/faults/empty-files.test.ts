/**
 * Empty and truncated image files (docs/FAULTS.md F-E01, F-E02; fresh-user finding: a 0-byte .nii.gz gave "not a NIfTI
 * or gzip file", which does not say the file is empty). Every reader path names the file and says it is empty or
 * truncated, with the fix (copy or export it again).
 */
import { cpSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTemp, tempDir } from '../bad-inputs/generate.js';
import { cli, core, ioNifti, makeRegistry } from '../bad-inputs/harness.js';

afterAll(cleanupTemp);

const SHARED = process.env.NNUNET_SHARED ?? resolve(import.meta.dirname, '..', '..', '..', 'shared');
const HIPPO = join(SHARED, 'data', 'Task04_Hippocampus');

async function message(f: () => Promise<unknown>): Promise<string> {
  try {
    await f();
  } catch (e) {
    return `${(e as Error).message} | hint: ${(e as core.NnunetError).hint}`;
  }
  return 'no error';
}

describe('empty and truncated image files', () => {
  it('F-E01: a 0-byte .nii.gz / .nii (and .nrrd, .mha) names the file and says it is empty; 1-3 bytes say truncated; zeros are named', async () => {
    const dir = tempDir('nnunet-empty-');
    const hint = 'hint: an interrupted or failed copy, download or export leaves';
    for (const name of ['case_0000.nii.gz', 'case_0000.nii']) {
      const f = join(dir, name);
      writeFileSync(f, '');
      expect(await message(() => ioNifti.readNifti(f))).toBe(`${f}: the file is empty (0 bytes) | ${hint} such a file: copy or export the image again`);
      writeFileSync(f, Buffer.from([0x1f, 0x8b]));
      expect(await message(() => ioNifti.readNifti(f))).toContain(`${f}: the file is truncated: it holds only 2 byte(s), less than any NIfTI header`);
      writeFileSync(f, Buffer.alloc(4096));
      expect(await message(() => ioNifti.readNifti(f))).toContain(`not a NIfTI or gzip file: ${f} (it starts with zero bytes: a preallocated or incompletely written file of 4096 bytes)`);
    }
    const reg = makeRegistry();
    for (const name of ['empty.nii.gz', 'empty.nrrd', 'empty.mha']) {
      const f = join(dir, name);
      writeFileSync(f, '');
      expect(await message(() => core.readImage(reg, f)), name).toBe(`${f}: the file is empty (0 bytes) | ${hint} an empty file: copy or export the image again`);
    }
  });

  it('F-E02: validate and predict on a dataset or input folder with a 0-byte image name it and exit 1', async () => {
    const root = join(tempDir('nnunet-empty-'), 'Task04_Hippocampus');
    mkdirSync(root);
    cpSync(join(HIPPO, 'dataset.json'), join(root, 'dataset.json'));
    for (const sub of ['imagesTr', 'labelsTr']) {
      mkdirSync(join(root, sub));
      for (const n of readdirSync(join(HIPPO, sub)).filter((x) => !x.startsWith('.')).sort().slice(0, 3)) cpSync(join(HIPPO, sub, n), join(root, sub, n));
    }
    const victim = readdirSync(join(root, 'imagesTr')).sort()[1]!;
    writeFileSync(join(root, 'imagesTr', victim), '');
    const out: string[] = [];
    const err: string[] = [];
    const code = await cli.runCli(['validate', root, '-q'], { out: (s) => out.push(s) }, (s) => err.push(s));
    expect(code).toBe(1);
    expect(out.join('\n')).toContain(`${join(root, 'imagesTr', victim)}: the file is empty (0 bytes)`);
    const inDir = join(root, 'in');
    mkdirSync(inDir);
    writeFileSync(join(inDir, 'hippocampus_001_0000.nii.gz'), '');
    const model = join(SHARED, 'models', 'Dataset004_Hippocampus', 'nnUNetTrainer_16x30__nnUNetPlans__3d_fullres');
    const perr: string[] = [];
    const pcode = await cli.runCli(['predict', '-i', inDir, '-o', join(root, 'out'), '-m', model, '-q', '--disable-tta'], { out: () => {} }, (s) => perr.push(s));
    expect(pcode).toBe(1);
    expect(perr.join('\n')).toContain(`${join(inDir, 'hippocampus_001_0000.nii.gz')}: the file is empty (0 bytes)`);
  });
});
