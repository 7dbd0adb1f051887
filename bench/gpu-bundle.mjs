// Bundles the benchmark (bench/gpu-entry.mjs and every workspace package it imports, from their built dist) into
// one folder for bench/gpu.sh. `webgpu` (Dawn's native addon) stays external and is carried beside the bundle.
// Usage: node bench/gpu-bundle.mjs <out-dir>
import { rolldown } from 'rolldown';
import { fileURLToPath } from 'node:url';

const out = process.argv[2];
if (!out) throw new Error('usage: node bench/gpu-bundle.mjs <out-dir>');
const b = await rolldown({
  input: fileURLToPath(new URL('./gpu-entry.mjs', import.meta.url)),
  platform: 'node',
  external: ['webgpu', /^node:/, /^@tensorflow\//],
  logLevel: 'warn',
});
await b.write({ dir: out, format: 'esm', entryFileNames: '[name].mjs', chunkFileNames: '[name]-[hash].mjs' });
await b.close();
