import { resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError, selectBackend } from '@nnunet-ts/core';
import { exportWeb } from '@nnunet-ts/web';
import { makeContext, type CommonOptions } from './context.js';
import type { Io } from './commands.js';

/** `export-web -m <model folder> -o <dir>`: the static site that segments images in the browser (`@nnunet-ts/web`). */
export function addExportWebCommand(program: Command, common: (c: Command) => Command, io: Io): void {
  common(program.command('export-web').description('write a static web site that segments images with a trained model in the browser (WebGPU / WebGL / wasm; nothing uploaded)'))
    .requiredOption('-m, --model <folder>', 'trained model folder <trainer>__<plans>__<configuration> (ours or nnU-Net v2)')
    .requiredOption('-o, --output <folder>', 'site folder to write (new, empty, or an earlier export-web site, which is replaced)')
    .option('-f, --folds <folds...>', "folds to include: '0,1' or '0 1'; 'all' is fold_all/ (nnU-Net's model trained on every case) (default: every trained fold_<k>; fold_all only with -f all, as predict)")
    .option('--checkpoint <name>', 'checkpoint: final, best, latest (or nnU-Net checkpoint_best.pth)', 'final')
    .option('--max-voxels <n>', 'largest image the page accepts, voxels per channel (default 256^3 = 16777216)')
    .action(async (o: CommonOptions & { model: string; output: string; folds?: string[]; checkpoint: string; maxVoxels?: string }) => {
      const folds = o.folds?.join(',').split(',').filter(Boolean).map((f) => (f === 'all' ? 'all' : Number(f)));
      if (folds?.some((f) => f !== 'all' && !Number.isInteger(f))) throw new UsageError(`bad fold list '${o.folds!.join(' ')}'`, { hint: 'use -f 0 1 or -f 0,1' });
      const maxVoxels = o.maxVoxels === undefined ? undefined : Number(o.maxVoxels);
      if (maxVoxels !== undefined && !(Number.isInteger(maxVoxels) && maxVoxels > 0)) throw new UsageError(`--max-voxels must be a positive integer, got '${o.maxVoxels}'`);
      // -f is this command's fold list, not the training budget's --folds (a string[] there crashed makeContext)
      const ctx = await makeContext({ ...o, folds: undefined, quiet: true });
      // the weights are only read here: the pure-JavaScript backend builds the networks without probing any GPU. It is
      // not the backend the site computes on (the browser picks that), so it is not printed
      const backend = await selectBackend(ctx.registry, 'cpu-js', () => {});
      const r = await exportWeb({ modelDir: resolve(o.model), outDir: resolve(o.output), folds, checkpoint: o.checkpoint, registry: ctx.registry, backend, maxVoxels });
      io.out(
        `wrote ${resolve(o.output)}: ${r.manifest.name} (${r.manifest.configuration}, folds ${r.manifest.weights.map((w) => w.fold).join(', ')}, ` +
          (r.manifest.previousStage ? `after its previous stage ${r.manifest.previousStage.configuration}, ` : '') +
          `model ${(r.modelBytes / 2 ** 20).toFixed(1)} MiB); serve the folder with any static file server and open index.html`,
      );
      io.out(`the page segments in the browser on WebGPU, else WebGL, else wasm (chosen there; index.html?backend=webgpu|webgl|wasm picks one)${o.backend ? `; --backend ${o.backend} does not apply to the site` : ''}`);
    });
}
