// The model in the browser (issue 12): `nnunet-ts export-web` on shared model A (Hippocampus 3d_fullres), the site
// in headless chromium (SwiftShader where no GPU exists), and per page backend (webgpu, webgl, wasm) the model load
// time and the time per case (reading to encoded segmentation, in the page's worker), with mirroring TTA.
// Needs the built packages, chromium and the shared folder ($NNUNET_SHARED or ../shared). --quick: one case, no
// mirroring. NNUNET_BENCH_PAGE_BACKENDS=wasm,webgpu picks the page backends (default all three).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { round, tryImport } from '../lib.mjs';

export const name = 'browser-hippocampus';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.NNUNET_SHARED ?? resolve(root, '..', 'shared');
const model = join(shared, 'models', 'Dataset004_Hippocampus', 'nnUNetTrainer_16x30__nnUNetPlans__3d_fullres');
const images = join(root, 'examples', 'Task04_Hippocampus_subset', 'imagesTs');

export async function run(ctx) {
  const web = await tryImport('@nnunet-ts/web/testing', 'launchChromium', 'openSite', 'runCase', 'serveStatic', 'chromiumPath');
  if (!web.mod) return [{ case: name, skipped: web.why }];
  if (!web.mod.chromiumPath()) return [{ case: name, skipped: 'chromium is not installed' }];
  if (!existsSync(model)) return [{ case: name, skipped: `shared model A not found at ${model}` }];
  const tmp = mkdtempSync(join(tmpdir(), 'nnunet-bench-web-'));
  const site = join(tmp, 'site');
  const cli = join(root, 'packages', 'cli', 'dist', 'bin.js');
  const ex = spawnSync(process.execPath, [cli, 'export-web', '-m', model, '-o', site, '-q'], { encoding: 'utf8' });
  if (ex.status !== 0) return [{ case: name, error: `export-web failed: ${ex.stderr}` }];
  const cases = ['hippocampus_008', 'hippocampus_020', 'hippocampus_033'].slice(0, ctx.quick ? 1 : 3);
  const server = await web.mod.serveStatic(site);
  const browser = await web.mod.launchChromium();
  const rows = [];
  try {
    const pageBackends = (process.env.NNUNET_BENCH_PAGE_BACKENDS ?? 'webgpu,webgl,wasm').split(',').filter(Boolean);
    for (const backend of pageBackends) {
      const page = await web.mod.openSite(browser, server.url, backend, { softwareGpu: true });
      const status = await page.getByTestId('status').textContent();
      if (status !== 'ready') {
        rows.push({ case: name, pageBackend: backend, skipped: status });
        ctx.log(`browser ${backend}: ${status}`);
        await page.close();
        continue;
      }
      const description = await page.getByTestId('backend').textContent();
      const perCase = [];
      let loadMs = NaN;
      for (const c of cases) {
        const r = await web.mod.runCase(page, [join(images, `${c}.nii.gz`)], { mirror: !ctx.quick, timeoutMs: 1_200_000 });
        if (r.status !== 'done') throw new Error(`${backend} ${c}: ${r.status}`);
        perCase.push({ case: c, seconds: round(r.caseMs / 1000, 2) });
        loadMs = r.loadMs;
        ctx.log(`browser ${backend} ${c}: ${round(r.caseMs / 1000, 1)} s`);
      }
      rows.push({ case: name, pageBackend: backend, description, mirroring: !ctx.quick, modelLoadSeconds: round(loadMs / 1000, 2), perCase, meanCaseSeconds: round(perCase.reduce((a, b) => a + b.seconds, 0) / perCase.length, 2) });
      await page.close();
    }
  } finally {
    await browser.close();
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
  return rows;
}
