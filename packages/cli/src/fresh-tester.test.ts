/**
 * Findings of a fresh tester's session (told nothing, README only): one bad image among good ones, labels that are
 * all empty, `evaluate -d` with an unrelated dataset.json, `export-web` naming the wrong backend.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { writeNifti } from '@nnunet-ts/io-nifti';
import { EXAMPLE, NNUNET_MODEL, cli, sessionDir } from './__fixtures__/cli-session.js';

const dir = sessionDir('nnunet-fresh-');

describe('predict: one bad image among good ones', () => {
  it('predicts the good cases, then exits 1 naming the bad file, the reason and the fix; --continue predicts only what is missing', { timeout: 300_000 }, async () => {
    expect(existsSync(join(NNUNET_MODEL, 'fold_0', 'checkpoint_final.pth')), `${NNUNET_MODEL} (NNUNET_SHARED)`).toBe(true);
    const input = join(dir, 'pred-in');
    const output = join(dir, 'pred-out');
    mkdirSync(input);
    copyFileSync(join(EXAMPLE, 'imagesTs', 'hippocampus_008.nii.gz'), join(input, 'a_good.nii.gz'));
    copyFileSync(join(EXAMPLE, 'imagesTs', 'hippocampus_020.nii.gz'), join(input, 'c_good.nii.gz'));
    // a copy cut in the middle (an interrupted download) sorts between the two good cases
    const whole = readFileSync(join(EXAMPLE, 'imagesTs', 'hippocampus_033.nii.gz'));
    const bad = join(input, 'b_cut.nii.gz');
    writeFileSync(bad, whole.subarray(0, Math.floor(whole.length / 2)));
    const config = join(dir, 'no-estimate.json');
    writeFileSync(config, JSON.stringify({ estimate: false }));
    const predict = (...extra: string[]) => cli('predict', '-i', input, '-o', output, '-m', NNUNET_MODEL, '--backend', 'cpu-native', '--disable-tta', '--config', config, '-q', ...extra);

    let r = await predict();
    expect(r.code, r.err).toBe(1);
    expect(r.err).toContain(`error: 1 of 3 case(s) could not be predicted (the other 2 are in ${output}):`);
    expect(r.err).toContain(`\n  b_cut: truncated gzip stream in ${bad} (got `);
    expect(r.err).toContain(' of 60192 expected voxel bytes)\n      fix: re-download or re-export the file; the compressed data ends early\n');
    expect(r.err).toContain('hint: fix or remove the input files named above, then run the same command with --continue');
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(readdirSync(output).sort()).toEqual(['a_good.nii.gz', 'c_good.nii.gz']);

    const before = statSync(join(output, 'a_good.nii.gz')).mtimeMs;
    copyFileSync(join(EXAMPLE, 'imagesTs', 'hippocampus_033.nii.gz'), bad);
    r = await predict('--continue');
    expect(r.code, r.err).toBe(0);
    expect(readdirSync(output).sort()).toEqual(['a_good.nii.gz', 'b_cut.nii.gz', 'c_good.nii.gz']);
    expect(statSync(join(output, 'a_good.nii.gz')).mtimeMs).toBe(before);
  });
});

/** A v2 dataset of 3 cases (8x8x8), one foreground cube in the labels listed in `withForeground`. */
async function tinyDataset(name: string, withForeground: number[]): Promise<string> {
  const root = join(dir, name, 'Dataset990_Empty');
  mkdirSync(join(root, 'imagesTr'), { recursive: true });
  mkdirSync(join(root, 'labelsTr'), { recursive: true });
  const grid = { shape: [1, 8, 8, 8] as [number, number, number, number], spacing: [1, 1, 1] as [number, number, number], origin: [0, 0, 0] as [number, number, number], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
  for (let i = 0; i < 3; i++) {
    await writeNifti(join(root, 'imagesTr', `case_${i}_0000.nii.gz`), { ...grid, data: Float32Array.from({ length: 512 }, (_, k) => ((k * 7 + i * 13) % 29) + 0.5) }, { dtype: 'float32' });
    const fg = withForeground.includes(i);
    await writeNifti(join(root, 'labelsTr', `case_${i}.nii.gz`), { ...grid, data: Uint8Array.from({ length: 512 }, (_, k) => (fg && k % 8 > 3 && (k >> 3) % 8 > 3 ? 1 : 0)) }, { dtype: 'uint8' });
  }
  writeFileSync(join(root, 'dataset.json'), JSON.stringify({ channel_names: { 0: 'MR' }, labels: { background: 0, tumour: 1 }, numTraining: 3, file_ending: '.nii.gz' }));
  return root;
}

describe('training labels that are all empty', () => {
  it('validate, plan and decathlon refuse them before any work, naming the files and the fix; --allow-empty-labels goes on', { timeout: 120_000 }, async () => {
    const root = await tinyDataset('empty', []);
    const labels = join(root, 'labelsTr');
    const said = `all 3 training label file(s) hold only background (0): no foreground class (tumour 1) occurs in any of them (case_0.nii.gz, case_1.nii.gz, case_2.nii.gz), so training would learn nothing useful`;
    let r = await cli('validate', root, '-q');
    expect(r.code).toBe(1);
    expect(r.out).toContain(`case (dataset):\n  ${labels}: ${said}. Fix: put the segmentations (class values of dataset.json's labels) into the label files, or pass --allow-empty-labels to go on anyway`);
    r = await cli('validate', root, '--allow-empty-labels', '-q');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`note: ${labels}: ${said}; --allow-empty-labels: going on`);

    for (const verb of ['plan', 'decathlon']) {
      const out = join(dir, `empty-${verb}`);
      r = await cli(verb, root, '-o', out, '-q');
      expect(r.code, verb).toBe(1);
      expect(r.err).toContain(`${labels}: ${said}`);
      expect(existsSync(join(out, 'nnUNet_preprocessed')), verb).toBe(false);
    }
  });

  it('labels empty in some cases but not all are a note, not an error', async () => {
    const root = await tinyDataset('some', [1]);
    const r = await cli('validate', root, '-q');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`note: ${join(root, 'labelsTr')}: 2 of 3 training label file(s) hold only background (no foreground class): case_0.nii.gz, case_2.nii.gz`);
    expect(r.out).toContain('dataset OK (3 cases checked)');
  });
});

describe('export-web', () => {
  it('does not report the JavaScript backend that reads the weights; it says what the page computes on', { timeout: 300_000 }, async () => {
    const printed: string[] = [];
    const spies = [
      vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void printed.push(a.join(' '))),
      vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => printed.push(String(s)) > 0),
    ];
    let r: Awaited<ReturnType<typeof cli>>;
    try {
      r = await cli('export-web', '-m', NNUNET_MODEL, '-o', join(dir, 'site'), '--backend', 'cpu-native');
    } finally {
      spies.forEach((s) => s.mockRestore());
    }
    expect(r.code, r.err).toBe(0);
    const all = [...printed, r.out, r.err].join('\n');
    expect(all).not.toContain('cpu-js');
    expect(r.out).toContain('the page segments in the browser on WebGPU, else WebGL, else wasm (chosen there; index.html?backend=webgpu|webgl|wasm picks one); --backend cpu-native does not apply to the site');
  });
});

describe('evaluate -d with a dataset.json that does not belong to the segmentations', () => {
  const GRID = { shape: [1, 2, 2, 2] as [number, number, number, number], spacing: [1, 1, 1] as [number, number, number], origin: [0, 0, 0] as [number, number, number], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
  async function folder(name: string, values: number[]): Promise<string> {
    const f = join(dir, name);
    mkdirSync(f, { recursive: true });
    await writeNifti(join(f, 'c1.nii.gz'), { ...GRID, data: Uint8Array.from({ length: 8 }, (_, i) => values[i % values.length]!) }, { dtype: 'uint8' });
    return f;
  }
  const json = (name: string, labels: Record<string, number>) => {
    const f = join(dir, name);
    writeFileSync(f, JSON.stringify({ channel_names: { 0: 'MRI' }, labels, numTraining: 1, file_ending: '.nii.gz' }));
    return f;
  };

  it('says which labels occur in no file and which reference values are not labels', async () => {
    const ref = await folder('ev-ref', [0, 1, 2]);
    const pred = await folder('ev-pred', [0, 1, 2, 2]);
    const brats = json('brats.json', { background: 0, edema: 1, 'non-enhancing tumor': 2, 'enhancing tumour': 3, necrosis: 4 });
    let r = await cli('evaluate', '-p', pred, '-r', ref, '-d', brats, '-o', join(dir, 'ev1.json'), '-q');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`warning: the evaluated labels (1, 2, 3, 4) do not match the segmentations: label(s) 3, 4 occur in no reference and no prediction (Dice NaN, left out of the means); is ${brats} the dataset.json of these segmentations? (or pass -l with their labels)`);
    const spleen = json('spleen.json', { background: 0, spleen: 1 });
    r = await cli('evaluate', '-p', pred, '-r', ref, '-d', spleen, '-o', join(dir, 'ev2.json'), '-q');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`warning: the evaluated labels (1) do not match the segmentations: the references hold value(s) 2, which are not evaluated labels (counted as background); is ${spleen} the dataset.json of these segmentations?`);
    // the matching dataset.json: no such warning
    r = await cli('evaluate', '-p', pred, '-r', ref, '-d', json('hippo.json', { background: 0, Anterior: 1, Posterior: 2 }), '-o', join(dir, 'ev3.json'), '-q');
    expect(r.code, r.err).toBe(0);
    expect(r.out).not.toContain('warning');
  });
});
