// Prints what bench/gpu.sh measured, from the JSON files it wrote: node bench/gpu-summary.mjs <out-dir>.
// Also completes <out-dir>/summary.json with the headline figures (contract passed/failed, ours vs PyTorch rows).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '.';
const load = (f) => (existsSync(join(dir, f)) ? JSON.parse(readFileSync(join(dir, f), 'utf8')) : null);
const summary = load('summary.json') ?? {};
const lines = [];
const c = load('contract-webgpu.json');
if (c) {
  lines.push(`contract suite on webgpu (${c.device}): ${c.passed} passed, ${c.failed} failed, ${c.seconds} s`);
  for (const t of c.tests.filter((r) => r.status === 'fail')) lines.push(`  FAIL ${t.name}: ${t.error.split('\n')[0]}`);
  summary.contract = { device: c.device, passed: c.passed, failed: c.failed, seconds: c.seconds };
} else lines.push('contract suite: no result (see gpu.log)');
const rowLabel = (r) => `${r.case}${r.batch ? ` b${r.batch}` : ''}${r.backend ? ` [${r.backend}]` : ''}`;
const rowValue = (r) => (r.gflops ? `${r.gflops.fwdBwd ?? JSON.stringify(r.gflops)} GFLOP/s` : r.seconds !== undefined ? `${r.seconds} s` : r.peakLiveMB !== undefined ? `peak ${r.peakLiveMB} MB live, ${r.heldMB} MB held` : r.skipped ? `skipped: ${r.skipped}` : r.error ? `ERROR ${String(r.error).split('\n')[0]}` : JSON.stringify(r));
for (const name of ['webgpu', 'cpu-native']) {
  const b = load(`bench-${name}.json`);
  if (!b) {
    lines.push(`bench ${name}: no result (see gpu.log)`);
    continue;
  }
  lines.push(`bench ${name}: ${b.backendDescription} (load ${b.machine?.loadavgAtStart?.join(' ')}, peak RSS ${b.peakRssMB} MB)`);
  for (const r of b.cases) lines.push(`  ${rowLabel(r)}: ${rowValue(r)}`);
  const cmp = b.torch?.comparison ?? [];
  if (b.torch) lines.push(`  pytorch: ${b.torch.torch ?? '-'} on ${b.torch.gpu ?? b.torch.device ?? b.torch.skipped ?? b.torch.error}`);
  for (const r of cmp) lines.push(`  ours vs pytorch ${r.case}${r.batch ? ` b${r.batch}` : ''}: ${r.ours} vs ${r.pytorch} (${r.unit ?? 's'}), ratio ${r.ratio}`);
  summary[`bench-${name}`] = { description: b.backendDescription, cases: b.cases.map((r) => ({ case: rowLabel(r), value: rowValue(r) })), torch: cmp };
}
writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
console.log(lines.join('\n'));
