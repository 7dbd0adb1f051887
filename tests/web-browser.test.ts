/**
 * The model in the browser (issue 12): `nnunet-ts export-web` on a real Hippocampus model (shared model A, nnU-Net
 * v2's PlainConvUNet 3d_fullres), the site served on 127.0.0.1 and driven in headless chromium (Playwright core,
 * Debian's chromium, SwiftShader for WebGL / WebGPU). Checks: a case segmented in the page on wasm (mirroring on)
 * and on WebGPU (SwiftShader, mirroring off: one forward pass, since a software GPU is slow) against
 * `nnunet-ts predict` in Node (voxel counts and Dice per label; the output's geometry equals the input's),
 * the overlay's colour in a screenshot of the viewer, and the `error:` status of each bad input.
 * Needs chromium (`apt-get install chromium`; `.ci/run` installs it) and the shared folder (`NNUNET_SHARED`).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { decodeNifti, encodeNifti, type NiftiImage } from '@nnunet-ts/io-nifti';
import { readItk, writeItk } from '@nnunet-ts/io-itk';
import type { MedicalImage } from '@nnunet-ts/core';
import { launchChromium, openSite, runCase, serveStatic } from '@nnunet-ts/web/testing';
import { CLI_BIN } from './helpers/processes.js';
import { EXAMPLE_TASK, sharedPath } from './helpers/paths.js';

/** Shared model A; `NNUNET_WEB_MODEL` names another Hippocampus model folder (e.g. the one README command 1 trains). */
const MODEL = process.env.NNUNET_WEB_MODEL ?? sharedPath('models', 'Dataset004_Hippocampus', 'nnUNetTrainer_16x30__nnUNetPlans__3d_fullres');
/** The page with the segmentation, saved by the wasm case: `NNUNET_WEB_SCREENSHOT=docs/web-page.png` makes the README's picture. */
const SCREENSHOT = process.env.NNUNET_WEB_SCREENSHOT;
const CASE = join(EXAMPLE_TASK, 'imagesTs', 'hippocampus_008.nii.gz');
const tmp = mkdtempSync(join(tmpdir(), 'nnunet-web-'));
const site = join(tmp, 'site');

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [CLI_BIN, ...args], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`nnunet-ts ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const readNii = (bytes: Uint8Array, name: string): NiftiImage => decodeNifti(bytes[0] === 0x1f ? new Uint8Array(gunzipSync(bytes)) : bytes, name);

/** Voxels that differ, and Dice per foreground label, between two label maps. */
function agreement(a: ArrayLike<number>, b: ArrayLike<number>, labels: number[]): { differ: number; dice: Record<number, number> } {
  let differ = 0;
  const dice: Record<number, number> = {};
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differ++;
  for (const l of labels) {
    let inter = 0, na = 0, nb = 0;
    for (let i = 0; i < a.length; i++) {
      const x = a[i] === l, y = b[i] === l;
      if (x) na++;
      if (y) nb++;
      if (x && y) inter++;
    }
    dice[l] = na + nb ? (2 * inter) / (na + nb) : 1;
  }
  return { differ, dice };
}

/** Viewer pixels coloured like the overlay (label 1 red 230,25,75 / label 2 green 60,180,75 at 60% over grey). */
async function overlayPixels(page: Page): Promise<number> {
  const png = await page.getByTestId('viewer').screenshot();
  return page.evaluate(async (b64) => {
    const img = await createImageBitmap(await (await fetch(`data:image/png;base64,${b64}`)).blob());
    const c = new OffscreenCanvas(img.width, img.height).getContext('2d')!;
    c.drawImage(img, 0, 0);
    const d = c.getImageData(0, 0, img.width, img.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      const [r, g, b] = [d[i]!, d[i + 1]!, d[i + 2]!];
      if ((r - g > 80 && r - b > 60) || (g - r > 60 && g - b > 40)) n++;
    }
    return n;
  }, png.toString('base64'));
}

let browser: Browser | undefined;
let server: Awaited<ReturnType<typeof serveStatic>> | undefined;
let node: NiftiImage;
let nodeNoTta: NiftiImage;

beforeAll(async () => {
  const out = cli(['export-web', '-m', MODEL, '-o', site]);
  expect(out).toContain(`site: ${basename(MODEL)} (`);
  expect(out).toMatch(/\((2d|3d_fullres|3d_lowres), folds? 0/);
  mkdirSync(join(tmp, 'in'));
  copyFileSync(CASE, join(tmp, 'in', 'hippocampus_008.nii.gz'));
  cli(['predict', '-i', join(tmp, 'in'), '-o', join(tmp, 'node'), '-m', MODEL, '-q']);
  node = readNii(readFileSync(join(tmp, 'node', 'hippocampus_008.nii.gz')), 'node prediction');
  cli(['predict', '-i', join(tmp, 'in'), '-o', join(tmp, 'node-notta'), '-m', MODEL, '--disable-tta', '-q']);
  nodeNoTta = readNii(readFileSync(join(tmp, 'node-notta', 'hippocampus_008.nii.gz')), 'node prediction without TTA');
  server = await serveStatic(site);
  browser = await launchChromium();
}, 900_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** `NNUNET_WEB_ALL_CASES=1`: also segment every embedded test case in the page (slow: for a model check, not CI). */
const ALL_CASES = !!process.env.NNUNET_WEB_ALL_CASES;

describe('export-web site in headless chromium', () => {
  it.runIf(ALL_CASES)('segments every embedded test case on wasm with mirroring as `nnunet-ts predict` does', async () => {
    const dir = join(EXAMPLE_TASK, 'imagesTs');
    const files = readdirSync(dir).filter((f) => f.endsWith('.nii.gz')).sort();
    cli(['predict', '-i', dir, '-o', join(tmp, 'node-all'), '-m', MODEL, '-q']);
    const page = await openSite(browser!, server!.url, 'wasm');
    const lines: string[] = [];
    for (const f of files) {
      const r = await runCase(page, [join(dir, f)], { mirror: true });
      expect(r.status, f).toBe('done');
      const web = readNii(r.seg!, r.fileName!);
      const ref = readNii(readFileSync(join(tmp, 'node-all', f)), `node ${f}`);
      const a = agreement(web.data, ref.data, [1, 2]);
      lines.push(`${f}: ${a.differ} of ${web.data.length} voxels differ, Dice ${a.dice[1]!.toFixed(5)} / ${a.dice[2]!.toFixed(5)}, ${(r.caseMs! / 1000).toFixed(1)} s`);
      expect(a.differ, f).toBeLessThanOrEqual(Math.ceil(web.data.length * 5e-4));
    }
    console.log(`every embedded test case, wasm vs Node (${basename(MODEL)}):\n${lines.join('\n')}`);
    expect(lines).toHaveLength(files.length);
    await page.close();
  }, 3_600_000);

  it('segments hippocampus_008 on wasm with mirroring as `nnunet-ts predict` does, overlay shown', async () => {
    const page = await openSite(browser!, server!.url, 'wasm');
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    expect(await page.getByTestId('status').textContent()).toBe('ready');
    await page.getByTestId('image-input').setInputFiles([CASE]);
    await page.waitForTimeout(1500);
    expect(await overlayPixels(page)).toBeLessThan(20); // the grey image alone
    const r = await runCase(page, [CASE], { mirror: true });
    expect(r.status).toBe('done');
    expect(r.backend).toBe('wasm');
    expect(r.fileName).toBe('hippocampus_008_seg.nii.gz');
    const web = readNii(r.seg!, r.fileName!);
    const input = readNii(readFileSync(CASE), 'input');
    expect(web.shape).toEqual([1, ...input.shape.slice(1)]);
    for (const k of ['spacing', 'origin', 'direction'] as const) expect(web[k].map((v, i) => Math.abs(v - input[k][i]!)).every((d) => d < 1e-5), k).toBe(true);
    const a = agreement(web.data, node.data, [1, 2]);
    console.log(`wasm vs Node (hippocampus_008, mirroring): ${a.differ} of ${web.data.length} voxels differ; Dice label 1 ${a.dice[1]!.toFixed(5)}, label 2 ${a.dice[2]!.toFixed(5)}; case ${(r.caseMs! / 1000).toFixed(1)} s, model load ${(r.loadMs / 1000).toFixed(1)} s`);
    // documented tolerance (packages/web/README.md): float32 sums in another order (XNNPACK vs the Node kernels)
    // may flip the argmax where two logits tie to ~1e-6; at most 0.05% of the voxels, Dice >= 0.995 per label
    expect(a.differ).toBeLessThanOrEqual(Math.ceil(web.data.length * 5e-4));
    expect(a.dice[1]).toBeGreaterThanOrEqual(0.995);
    expect(a.dice[2]).toBeGreaterThanOrEqual(0.995);
    await page.waitForTimeout(1500);
    expect(await overlayPixels(page)).toBeGreaterThan(200);
    if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT });
    expect(errors).toEqual([]);
    await page.close();
  }, 900_000);

  it('segments hippocampus_008 on webgpu (SwiftShader) without mirroring as `nnunet-ts predict --disable-tta` does', async () => {
    const page = await openSite(browser!, server!.url, 'webgpu', { softwareGpu: true });
    expect(await page.getByTestId('status').textContent()).toBe('ready');
    const r = await runCase(page, [CASE], { mirror: false, timeoutMs: 1_500_000 });
    expect(r.status).toBe('done');
    expect(r.backend).toBe('webgpu');
    expect(r.backendText).toMatch(/navigator\.gpu/);
    const web = readNii(r.seg!, r.fileName!);
    expect(web.shape).toEqual(nodeNoTta.shape);
    const a = agreement(web.data, nodeNoTta.data, [1, 2]);
    console.log(`webgpu vs Node (hippocampus_008, no mirroring): ${a.differ} of ${web.data.length} voxels differ; Dice label 1 ${a.dice[1]!.toFixed(5)}, label 2 ${a.dice[2]!.toFixed(5)}; case ${(r.caseMs! / 1000).toFixed(1)} s, model load ${(r.loadMs / 1000).toFixed(1)} s`);
    // same tolerance as wasm: float32 tree sums on the GPU vs the Node kernels' order (packages/web/README.md)
    expect(a.differ).toBeLessThanOrEqual(Math.ceil(web.data.length * 5e-4));
    expect(a.dice[1]).toBeGreaterThanOrEqual(0.995);
    expect(a.dice[2]).toBeGreaterThanOrEqual(0.995);
    await page.close();
  }, 1_600_000);

  it('reads NRRD, MetaImage (.mha) and a .mhd + .zraw pair with their geometry and writes the segmentation in that format', async () => {
    // hippocampus_008 with an oblique direction and an origin away from 0 (LPS), written by io-itk in Node
    const input = readNii(readFileSync(CASE), 'input');
    const [a, b] = [(30 * Math.PI) / 180, (20 * Math.PI) / 180];
    const rz = [Math.cos(a), -Math.sin(a), 0, Math.sin(a), Math.cos(a), 0, 0, 0, 1];
    const rx = [1, 0, 0, 0, Math.cos(b), -Math.sin(b), 0, Math.sin(b), Math.cos(b)];
    const direction = [0, 1, 2].flatMap((r) => [0, 1, 2].map((c) => [0, 1, 2].reduce((s, k) => s + rz[r * 3 + k]! * rx[k * 3 + c]!, 0)));
    const oblique: MedicalImage = { data: input.data, shape: input.shape, spacing: input.spacing, origin: [12.5, -40.25, 7.75], direction };
    const dir = join(tmp, 'formats');
    mkdirSync(dir);
    const page = await openSite(browser!, server!.url, 'wasm');
    const cases: [string, string[], string][] = [
      ['h008.nrrd', ['h008.nrrd'], 'h008_seg.nrrd'],
      ['h008.mha', ['h008.mha'], 'h008_seg.mha'],
      ['h008.mhd', ['h008.mhd', 'h008.zraw'], 'h008_seg.mha'],
    ];
    for (const [name, files, segName] of cases) {
      await writeItk(join(dir, name), oblique);
      const written = await readItk(join(dir, name));
      const r = await runCase(page, files.map((f) => join(dir, f)), { mirror: false, timeoutMs: 600_000 });
      expect(r.status, name).toBe('done');
      expect(r.fileName, name).toBe(segName);
      writeFileSync(join(dir, segName), r.seg!);
      const seg = await readItk(join(dir, segName));
      expect(seg.data, name).toBeInstanceOf(Uint8Array);
      expect(seg.shape, name).toEqual([1, ...written.shape.slice(1)]);
      for (const k of ['spacing', 'origin', 'direction'] as const) {
        expect(seg[k].map((v, i) => Math.abs(v - written[k][i]!)).every((d) => d < 1e-5), `${name} ${k}: ${seg[k].join(', ')} vs ${written[k].join(', ')}`).toBe(true);
      }
      expect(written.direction.map((v, i) => Math.abs(v - direction[i]!)).every((d) => d < 1e-6), `${name} direction as written`).toBe(true);
      // nnU-Net's inference uses the voxel grid and spacing, not the direction: same voxels as the NIfTI case
      const ag = agreement(seg.data, nodeNoTta.data, [1, 2]);
      console.log(`${name} on wasm vs Node (no mirroring): ${ag.differ} of ${seg.data.length} voxels differ; case ${(r.caseMs! / 1000).toFixed(1)} s`);
      expect(ag.differ, name).toBeLessThanOrEqual(Math.ceil(seg.data.length * 5e-4));
      expect(Math.min(ag.dice[1]!, ag.dice[2]!), name).toBeGreaterThanOrEqual(0.995);
    }
    await page.close();
  }, 900_000);

  it('gives a readable error status for each bad input', async () => {
    const page = await openSite(browser!, server!.url, 'wasm');
    const input = readNii(readFileSync(CASE), 'input');
    const [, z, y, x] = input.shape;
    const four = encodeNifti({ ...input, data: new Float32Array(2 * z * y * x), shape: [2, z, y, x] }, {}, '4d');
    const bad: [string, string[], RegExp][] = [
      ['not an image', [join(tmp, 'notes.txt')], /^error: notes\.txt is not an image the page reads/],
      ['a .mhd header without its data file', [join(tmp, 'alone.mhd')], /^error: alone\.mhd keeps its voxels in alone\.raw, which was not picked \(pick or drop alone\.mhd and alone\.raw together\)/],
      ['a .raw data file without its header', [join(tmp, 'alone.raw')], /^error: alone\.raw is voxel data without its header/],
      ['a NRRD file cut short', [join(tmp, 'cut.nrrd')], /^error: itk-wasm could not read cut\.nrrd/],
      ['wrong channel count (2 files for a 1-channel model)', [CASE, join(tmp, 'in', 'hippocampus_008.nii.gz')], /^error: the model takes 1 channel \(MRI\), one 3D file per channel; got 2 files/],
      ['a 4D file for the 3D one-channel model', [join(tmp, 'four_d.nii.gz')], /^error: four_d\.nii\.gz is 4D \(2 volumes\) but the model takes 1 channel/],
      ['a truncated gzip file', [join(tmp, 'cut.nii.gz')], /^error: cut\.nii\.gz: corrupt or truncated gzip data/],
      ['a NIfTI header with fewer voxels than declared', [join(tmp, 'short.nii')], /^error: truncated NIfTI file short\.nii/],
    ];
    writeFileSync(join(tmp, 'notes.txt'), 'patient notes, not an image\n');
    writeFileSync(join(tmp, 'alone.mhd'), `ObjectType = Image\nNDims = 3\nDimSize = ${x} ${y} ${z}\nElementType = MET_FLOAT\nElementDataFile = alone.raw\n`);
    writeFileSync(join(tmp, 'alone.raw'), new Uint8Array(64));
    await writeItk(join(tmp, 'whole.nrrd'), input);
    const nrrd = readFileSync(join(tmp, 'whole.nrrd'));
    writeFileSync(join(tmp, 'cut.nrrd'), nrrd.subarray(0, nrrd.length >> 1));
    writeFileSync(join(tmp, 'four_d.nii.gz'), gzipSync(four));
    const whole = readFileSync(CASE);
    writeFileSync(join(tmp, 'cut.nii.gz'), whole.subarray(0, whole.length >> 1));
    writeFileSync(join(tmp, 'short.nii'), gunzipSync(whole).subarray(0, 2000));
    for (const [what, files, want] of bad) {
      const r = await runCase(page, files, { mirror: false, timeoutMs: 60_000 });
      expect(r.status, what).toMatch(want);
    }
    // cancel: the worker is dropped mid-run, the status says so, and the model is loaded again
    await page.getByTestId('image-input').setInputFiles([CASE]);
    await page.getByTestId('run').click();
    await page.waitForFunction(() => /^running/.test(document.querySelector('[data-testid=status]')?.textContent ?? ''));
    await page.getByTestId('cancel').click();
    expect(await page.getByTestId('status').textContent()).toMatch(/^(cancelled|loading the model)$/);
    await page.waitForFunction(() => document.querySelector('[data-testid=status]')?.textContent === 'ready', undefined, { timeout: 120_000 });
    expect(await page.getByTestId('download').isHidden()).toBe(true);
    await page.close();
  }, 300_000);
});
