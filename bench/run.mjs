#!/usr/bin/env node
// nnunet-ts benchmark: `npm run build && npm run bench [-- --backend <name>] [--out file.json] [--quick] [--cases a,b] [--no-torch]`.
// Prints one JSON object {backend, machine, cases, peakRssMB} on stdout; progress goes to stderr.
// Cases live in bench/cases/*.mjs and export `name` and `run(ctx)` returning result rows; add a file to add a case.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { machine, tryImport } from './lib.mjs';
import { runTorch } from './torch.mjs';

const args = process.argv.slice(2);
const opt = (k) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : undefined;
};
const log = (s) => process.stderr.write(`[bench] ${s}\n`);
const requested = opt('--backend') ?? 'auto';
const only = opt('--cases')?.split(',');
const quick = args.includes('--quick');
const machineAtStart = machine();

const core = await tryImport('@nnunet-ts/core', 'Registry', 'selectBackend', 'listBackends');
if (!core.mod) {
  log(core.why);
  process.exit(1);
}
const registry = new core.mod.Registry();
for (const spec of ['@nnunet-ts/backend-cpu', '@nnunet-ts/backend-tfjs', '@nnunet-ts/backend-webgpu']) {
  const m = await tryImport(spec, 'registerDefaults');
  if (m.mod) m.mod.registerDefaults(registry);
  else log(m.why);
}
const devices = new Map();
const listed = await core.mod.listBackends(registry);
log(`backends: ${listed.map((b) => `${b.name}${b.available ? '' : ' (n/a)'}`).join(', ')}`);
const main = await selectMain();

/** The requested backend's host-memory compute backend, or (device-only backends: webgpu) its device's identity. */
async function selectMain() {
  try {
    return await core.mod.selectBackend(registry, requested, log);
  } catch (e) {
    const p = requested !== 'auto' && registry.has('backend', requested) ? registry.get('backend', requested) : null;
    if (!p?.createDevice || !(await p.isAvailable())) throw e;
    const dev = await p.createDevice();
    log(`compute backend: ${dev.info.name} - ${dev.info.description} (device contract only)`);
    devices.set(dev.info.name, dev);
    return { info: dev.info, deviceOnly: true };
  }
}

const cache = new Map(main.deviceOnly ? [[main.info.name, null]] : [[main.info.name, main]]);
const ctx = {
  log,
  registry,
  quick,
  mainBackend: main.info.name,
  mainThreads: main.info.threads,
  // per-backend cases: the requested backend only, or every available one with 'auto'
  backendNames: requested === 'auto' ? listed.filter((b) => b.available).map((b) => b.name) : [main.info.name],
  async getBackend(name) {
    if (!cache.has(name)) {
      try {
        cache.set(name, await registry.get('backend', name).create());
      } catch (e) {
        log(`backend ${name} failed: ${e.message}`);
        cache.set(name, null);
      }
    }
    return cache.get(name);
  },
  /** The plugin's device-contract backend (created once), or null when it has none. */
  async getDevice(name) {
    if (!devices.has(name)) {
      const p = registry.get('backend', name);
      devices.set(name, p.createDevice ? await p.createDevice().catch((e) => (log(`device ${name} failed: ${e.message}`), null)) : null);
    }
    return devices.get(name);
  },
};

const dir = join(dirname(fileURLToPath(import.meta.url)), 'cases');
const order = ['conv3d.mjs', 'unet-hippocampus.mjs', 'device-hippocampus.mjs', 'sliding-window.mjs', 'resampling.mjs', 'browser.mjs'];
const files = globalThis.__NNUNET_CASES__ ? [] : readdirSync(dir).filter((f) => f.endsWith('.mjs')).sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99));
const cases = [];
// the bundled build (bench/gpu.sh) carries its case modules in globalThis.__NNUNET_CASES__ (file name -> module)
const bundled = globalThis.__NNUNET_CASES__;
for (const f of bundled ? Object.keys(bundled) : files) {
  const mod = bundled ? bundled[f] : await import(join(dir, f));
  if (only && !only.includes(mod.name)) continue;
  log(`case ${mod.name}`);
  try {
    cases.push(...(await mod.run(ctx)));
  } catch (e) {
    cases.push({ case: mod.name, error: String(e.stack ?? e) });
    log(`case ${mod.name} failed: ${e.message}`);
  }
}
const loadavgAfterOurs = (await import('node:os')).loadavg().map((v) => +v.toFixed(2));
const torch = args.includes('--no-torch') ? { skipped: '--no-torch' } : await runTorch(ctx, cases);
const result = {
  backend: main.info.name,
  backendDescription: main.info.description,
  machine: { ...machineAtStart, loadavgAfterOurs, loadavgAtEnd: (await import('node:os')).loadavg().map((v) => +v.toFixed(2)) },
  cases,
  torch,
  peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
};
const json = JSON.stringify(result, null, 2) + '\n';
const outFile = opt('--out');
if (outFile) {
  const { writeFileSync, renameSync } = await import('node:fs');
  writeFileSync(`${outFile}.tmp`, json);
  renameSync(`${outFile}.tmp`, outFile); // atomic: a killed run leaves no half file
  log(`results written to ${outFile}`);
}
process.stdout.write(json);
for (const b of cache.values()) b?.dispose?.();
for (const d of devices.values()) d?.destroy?.();
