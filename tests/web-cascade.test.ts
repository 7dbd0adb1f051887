/**
 * A cascade model in the page (issue 12): `3d_lowres` then `3d_cascade_fullres`, trained here on the synthetic
 * sphere task small enough for a 2-core CI (as tests/e2e-cascade.test.ts: 40^3 cubes planned with
 * `--gpu-memory-gb 0.02`, so the planner adds the cascade; 2 epochs x 10 iterations, lowres on both folds since the
 * cascade trains on its cross-validation predictions, the cascade on fold 0). `export-web` on the cascade folder
 * brings the lowres stage along; the page (headless chromium, wasm, mirroring off) segments a test case with both
 * stages and must equal `nnunet-ts predict --disable-tta` with the cascade folder. Needs chromium
 * (`apt-get install chromium`; `.ci/run` installs it).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { runLayout } from '@nnunet-ts/core';
import { createDefaultRegistry, runCli } from '@nnunet-ts/cli';
import { decodeNifti } from '@nnunet-ts/io-nifti';
import { launchChromium, openSite, runCase, serveStatic } from '@nnunet-ts/web/testing';
import { makeSphereTask } from './fixtures/synthetic.js';

const parent = mkdtempSync(join(tmpdir(), 'nnunet-web-cascade-'));
afterAll(() => rmSync(parent, { recursive: true, force: true }));

describe('export-web with a cascade model in headless chromium', () => {
  it('runs 3d_lowres then 3d_cascade_fullres in the page as `nnunet-ts predict` does', { timeout: 900_000 }, async () => {
    const reg = createDefaultRegistry();
    const writer = reg.all('writer').find((w) => w.extensions.includes('.nii.gz'))!;
    const root = await makeSphereTask(parent, (p, img, isLabel) => writer.write(p, img, { dtype: isLabel ? 'uint8' : 'float32' }), { size: 40, nTrain: 4, nTest: 1 });
    const dsJson = join(root, 'dataset.json');
    writeFileSync(dsJson, readFileSync(dsJson, 'utf8').replace('"MRI"', '"CT"'));
    const out = join(parent, 'run');
    const L = runLayout(out);
    const config = join(parent, 'budget.json');
    writeFileSync(config, JSON.stringify({ preset: 'tiny', nFolds: 2, folds: 'all', epochs: 2 }));
    const errs: string[] = [];
    const lines: string[] = [];
    const cli = (...args: string[]) => runCli([...args, '-q'], { out: (s) => lines.push(s) }, (s) => errs.push(s));
    expect(await cli('plan', root, '-o', out, '--gpu-memory-gb', '0.02'), errs.join('\n')).toBe(0);
    expect(await cli('train', root, '-o', out, '-c', '3d_lowres', '--config', config), errs.join('\n')).toBe(0);
    expect(await cli('train', root, '-o', out, '-c', '3d_cascade_fullres', '-f', '0', '--config', config), errs.join('\n')).toBe(0);
    const cascadeDir = L.modelDir('3d_cascade_fullres');

    const site = join(parent, 'site');
    expect(await cli('export-web', '-m', cascadeDir, '-o', site), errs.join('\n')).toBe(0);
    const manifest = JSON.parse(readFileSync(join(site, 'model', 'manifest.json'), 'utf8'));
    expect(manifest.configuration).toBe('3d_cascade_fullres');
    expect(manifest.inputChannels).toBe(2); // the image and one one-hot channel (label 1) of the lowres segmentation
    expect(manifest.previousStage).toEqual({ configuration: '3d_lowres', dir: 'previous/' });
    const previous = JSON.parse(readFileSync(join(site, 'model', 'previous', 'manifest.json'), 'utf8'));
    expect(previous.configuration).toBe('3d_lowres');
    expect(previous.weights.map((w: { fold: number }) => w.fold)).toEqual([0, 1]);
    expect(existsSync(join(site, 'model', 'previous', 'fold_1.params'))).toBe(true);

    const input = join(root, 'imagesTs', 'sphere_004_0000.nii.gz');
    const pred = join(parent, 'pred');
    expect(await cli('predict', '-i', join(root, 'imagesTs'), '-o', pred, '-m', cascadeDir, '--disable-tta'), errs.join('\n')).toBe(0);
    const node = decodeNifti(new Uint8Array(gunzipSync(readFileSync(join(pred, 'sphere_004.nii.gz')))), 'node');

    const server = await serveStatic(site);
    const browser = await launchChromium();
    try {
      const page = await openSite(browser, server.url, 'wasm');
      expect(await page.getByTestId('status').textContent()).toBe('ready');
      expect(await page.getByTestId('model').textContent()).toContain('3d_cascade_fullres after 3d_lowres (cascade)');
      const r = await runCase(page, [input], { mirror: false, timeoutMs: 600_000 });
      expect(r.status).toBe('done');
      expect(r.fileName).toBe('sphere_004_seg.nii.gz');
      const web = decodeNifti(new Uint8Array(gunzipSync(r.seg!)), r.fileName!);
      expect(web.shape).toEqual(node.shape);
      let differ = 0;
      let fg = 0;
      for (let i = 0; i < web.data.length; i++) {
        if (web.data[i] !== node.data[i]) differ++;
        if (node.data[i] === 1) fg++;
      }
      console.log(`cascade on wasm vs Node (sphere_004, no mirroring): ${differ} of ${web.data.length} voxels differ; Node foreground ${fg} voxels; case ${(r.caseMs! / 1000).toFixed(1)} s, model load ${(r.loadMs / 1000).toFixed(1)} s`);
      expect(fg).toBeGreaterThan(0);
      // tolerance of packages/web/README.md (float32 sums in another order may flip near-tied argmaxes)
      expect(differ).toBeLessThanOrEqual(Math.ceil(web.data.length * 5e-4));
      await page.close();
    } finally {
      await browser.close();
      await server.close();
    }
  });
});
