import { resolve } from 'node:path';
import { Command } from 'commander';
import { ensembleFolders } from '@nnunet-ts/core';
import { makeContext, type CommonOptions } from './context.js';
import type { Io } from './commands.js';

/** `ensemble`: nnU-Net's `nnUNetv2_ensemble` over folders of `--save-probabilities` outputs (ours or nnU-Net's). */
export function addEnsembleCommand(program: Command, common: (c: Command) => Command, io: Io): void {
  common(program.command('ensemble').description("average the probabilities (<case>.npz + .pkl) of several prediction folders, ours or nnU-Net's, and write the segmentations (nnUNetv2_ensemble)"))
    .requiredOption('-i, --input <folders...>', 'prediction folders written with --save-probabilities (nnU-Net: --save_probabilities), all with the same cases')
    .requiredOption('-o, --output <folder>', 'where <case><file_ending> segmentations are written')
    .option('--save-npz', "also write the averaged <case>.npz and the first folder's <case>.pkl (nnU-Net's --save_npz)")
    .option('--dataset-json <file>', "dataset.json giving labels and file ending (default: the first input folder's)")
    .action(async (o: CommonOptions & { input: string[]; output: string; saveNpz?: boolean; datasetJson?: string }) => {
      const ctx = await makeContext(o);
      const ids = await ensembleFolders(o.input.map((d) => resolve(d)), resolve(o.output), ctx.registry, ctx.rep, {
        saveProbabilities: o.saveNpz === true, datasetJson: o.datasetJson ? resolve(o.datasetJson) : undefined,
      });
      io.out(`wrote ${ids.length} ensembled segmentation(s) of ${o.input.length} folder(s) to ${resolve(o.output)}`);
    });
}
