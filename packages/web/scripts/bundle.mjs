/**
 * Bundles the page (src/app/main.ts -> dist/site/app.js) and its inference worker (src/app/worker.ts ->
 * dist/site/worker.js) with esbuild for browsers, and copies index.html, app.css, tfjs-backend-wasm's .wasm files
 * (dist/site/tfjs/) and itk-wasm's NRRD / MetaImage read and write pipelines (dist/site/itk/). Workspace packages resolve through their `browser` export conditions (core, io-nifti) and
 * `#` import conditions (tsyringe loader, resampler threads, Dawn, backend-tfjs host probes). The build fails when code of a
 * workspace package on the page's path imports a Node built-in, naming the importing file.
 */
import { build } from 'esbuild';
import { builtinModules, createRequire } from 'node:module';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(root, 'dist', 'site');
const require = createRequire(import.meta.url);
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** Refuses Node built-ins imported by our own sources (third-party browser fields may map theirs to nothing). */
const noNodeBuiltins = {
  name: 'no-node-builtins',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      const bare = args.path.split('/')[0] === 'node:' ? args.path : args.path.replace(/\/.*$/, '');
      if (!builtins.has(args.path) && !builtins.has(bare)) return undefined;
      if (args.importer.includes(`${'/'}node_modules${'/'}`) && !args.importer.includes('@nnunet-ts')) return undefined;
      return { errors: [{ text: `${relative(root, args.importer)} imports the Node built-in '${args.path}' on the page's path` }] };
    });
  },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'tfjs'), { recursive: true });
const result = await build({
  entryPoints: { app: join(root, 'src/app/main.ts'), worker: join(root, 'src/app/worker.ts') },
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome113', 'firefox121', 'safari17'],
  minify: true,
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
  plugins: [noNodeBuiltins],
});
const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) copyFileSync(join(wasmDir, f), join(out, 'tfjs', f));
// itk-wasm's NRRD and MetaImage pipelines (io-itk's in-memory reader and writer), served with the site (not a CDN)
const imageIo = createRequire(require.resolve('@nnunet-ts/io-itk')).resolve('@itk-wasm/image-io');
const pipelines = join(dirname(imageIo), 'pipelines');
mkdirSync(join(out, 'itk'), { recursive: true });
for (const p of ['nrrd-read-image', 'nrrd-write-image', 'meta-read-image', 'meta-write-image']) {
  for (const ext of ['.js', '.wasm.zst']) copyFileSync(join(pipelines, p + ext), join(out, 'itk', p + ext));
}
for (const f of ['index.html', 'app.css']) copyFileSync(join(root, 'src/app', f), join(out, f));
const sizes = Object.fromEntries(Object.entries(result.metafile.outputs).filter(([k]) => k.endsWith('.js')).map(([k, v]) => [relative(out, k), v.bytes]));
writeFileSync(join(out, 'build.json'), JSON.stringify({ bundler: `esbuild ${(await import('esbuild')).version}`, sizes }, null, 1) + '\n');
console.log(`web: bundled ${Object.entries(sizes).map(([k, v]) => `${k} ${(v / 2 ** 20).toFixed(1)} MiB`).join(', ')}`);
