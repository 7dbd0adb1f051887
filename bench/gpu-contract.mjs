// The device contract suite (`describeDeviceContract`, @nnunet-ts/core/testing: every op against a float64
// reference) on `webgpu`, outside vitest: bench/gpu.sh bundles this file with `vitest` aliased to
// bench/mini-vitest.mjs and runs it on the GPU machine. Usage (bundled): node contract.mjs [--software only]
// [--out file.json]. Prints one line per test on stderr and one JSON object {adapter, passed, failed, tests} on
// stdout; exits 1 when a test fails.
import { writeFileSync, renameSync } from 'node:fs';
import { describeDeviceContract } from '@nnunet-ts/core/testing';
import { webgpuPlugin } from '@nnunet-ts/backend-webgpu';
import { runAll } from './mini-vitest.mjs';

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const software = opt('--software', 'fallback');
let description = '';
await describeDeviceContract(`webgpu (${software})`, async () => {
  const dev = await webgpuPlugin({ software }).createDevice();
  description = dev.info.description;
  process.stderr.write(`[contract] ${description}\n`);
  return dev;
});
const t = performance.now();
const tests = await runAll((s) => process.stderr.write(`[contract] ${s}\n`));
const result = {
  suite: 'DeviceBackend contract (@nnunet-ts/core/testing)', backend: 'webgpu', device: description,
  passed: tests.filter((r) => r.status === 'pass').length, failed: tests.filter((r) => r.status === 'fail').length,
  seconds: +((performance.now() - t) / 1000).toFixed(1), tests,
};
const json = JSON.stringify(result, null, 2) + '\n';
const out = opt('--out');
if (out) {
  writeFileSync(`${out}.tmp`, json);
  renameSync(`${out}.tmp`, out);
}
process.stdout.write(json);
process.exit(result.failed || !tests.length ? 1 : 0);
