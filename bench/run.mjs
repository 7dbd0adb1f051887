#!/usr/bin/env node
// nnunet-ts benchmark: `npm run build && npm run bench [-- --backend <name>] [--quick] [--cases a,b]`.
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
for (const spec of ['@nnunet-ts/backend-cpu', '@nnunet-ts/backend-tfjs']) {
  const m = await tryImport(spec, 'registerDefaults');
  if (m.mod) m.mod.registerDefaults(registry);
  else log(m.why);
}
const listed = await core.mod.listBackends(registry);
log(`backends: ${listed.map((b) => `${b.name}${b.available ? '' : ' (n/a)'}`).join(', ')}`);
const main = await core.mod.selectBackend(registry, requested, log);

const cache = new Map([[main.info.name, main]]);
const ctx = {
  log,
  registry,
  quick,
  mainBackend: main.info.name,
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
};

const dir = join(dirname(fileURLToPath(import.meta.url)), 'cases');
const order = ['conv3d.mjs', 'unet-hippocampus.mjs', 'device-hippocampus.mjs', 'sliding-window.mjs', 'resampling.mjs'];
const files = readdirSync(dir).filter((f) => f.endsWith('.mjs')).sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99));
const cases = [];
for (const f of files) {
  const mod = await import(join(dir, f));
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
process.stdout.write(JSON.stringify(result, null, 2) + '\n');
for (const b of cache.values()) b?.dispose?.();
