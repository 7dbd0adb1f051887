import { resolve } from 'node:path';
import { Command } from 'commander';
import { checkpointKind, UsageError, ensembleFolders, exportOnnxModel, readModelFolderFiles, stage } from '@nnunet-ts/core';
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

/** `export-onnx`: one fold's network as an ONNX graph (opset 17, dynamic batch and spatial axes). */
export function addExportOnnxCommand(program: Command, common: (c: Command) => Command, io: Io): void {
  common(program.command('export-onnx').description("write a model folder's network (ours or nnU-Net's) as an ONNX graph: input [batch, channels, z, y, x], output logits; preprocessing and sliding window stay outside"))
    .requiredOption('-m, --model <folder>', 'model folder <trainer>__<plans>__<configuration> (ours or an nnU-Net v2 results folder)')
    .requiredOption('-o, --output <file>', 'the .onnx file to write')
    .option('-f, --fold <fold>', 'fold whose network is exported: 0-4 or all (default: the first trained fold)')
    .option('--checkpoint <name>', "final, best, or nnU-Net's -chk file name", 'final')
    .action(async (o: CommonOptions & { model: string; output: string; fold?: string; checkpoint: string }) => {
      const fold = o.fold === undefined ? undefined : o.fold === 'all' ? 'all' : Number(o.fold);
      if (typeof fold === 'number' && !Number.isInteger(fold)) throw new UsageError(`bad fold '${o.fold}'`, { hint: 'use -f 0 (one fold: an ONNX file holds one network)' });
      // the model folder and the checkpoint choice are checked before a compute backend is picked
      checkpointKind(o.checkpoint);
      readModelFolderFiles(resolve(o.model));
      const ctx = await makeContext(o);
      const backend = await stage(ctx.registry, 'selectDevice')(ctx.registry, ctx.backend, (s) => ctx.rep.log(s));
      const done = await exportOnnxModel(resolve(o.model), resolve(o.output), ctx.registry, backend, { fold, checkpoint: o.checkpoint });
      io.out(`wrote ${resolve(o.output)} (fold ${done}, ONNX opset 17)`);
    });
}
