// Bundles the benchmark (bench/gpu-entry.mjs) and the device contract suite runner (bench/gpu-contract.mjs, with
// `vitest` aliased to bench/mini-vitest.mjs) with every workspace package they import, from their built dist, into
// one folder for bench/gpu.sh. `webgpu` (Dawn's native addon) stays external and is carried beside the bundle;
// backend-cpu's addon is found at <out>/../build/Release/nnunet_cpu.node (its `new URL('../build/...')`).
// Usage: node bench/gpu-bundle.mjs <out-dir>
import { rolldown } from 'rolldown';
import { fileURLToPath } from 'node:url';

const out = process.argv[2];
if (!out) throw new Error('usage: node bench/gpu-bundle.mjs <out-dir>');
const here = (f) => fileURLToPath(new URL(f, import.meta.url));
const b = await rolldown({
  input: { 'gpu-entry': here('./gpu-entry.mjs'), contract: here('./gpu-contract.mjs') },
  platform: 'node',
  external: ['webgpu', /^node:/, /^@tensorflow\//],
  resolve: { alias: { vitest: here('./mini-vitest.mjs') } },
  logLevel: 'warn',
});
await b.write({ dir: out, format: 'esm', entryFileNames: '[name].mjs', chunkFileNames: '[name]-[hash].mjs' });
await b.close();
