import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { DataError, availableFolds, checkpointKind, UsageError, ensembleFolders, exportOnnxModel, readModelFolderFiles, stage } from '@nnunet-ts/core';
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
      // the model folder, the checkpoint choice and the fold are checked before a compute backend is picked
      const found = await checkOnnxFold(resolve(o.model), fold, checkpointKind(o.checkpoint));
      const ctx = await makeContext(o);
      const backend = await stage(ctx.registry, 'selectDevice')(ctx.registry, ctx.backend, (s) => ctx.rep.log(s));
      const done = await exportOnnxModel(resolve(o.model), resolve(o.output), ctx.registry, backend, { fold, checkpoint: o.checkpoint });
      io.out(`wrote ${resolve(o.output)} (fold ${done}, ONNX opset 17)`);
      if (fold === undefined) io.out(`folds found in ${resolve(o.model)}: ${found.join(', ')}; exported fold ${done} (the first); -f <fold> exports another`);
    });
}

/**
 * The folds of model folder `dir` holding checkpoint `kind` (`fold_<k>/checkpoint_<kind>.json` or nnU-Net's `.pth`;
 * `fold_all` last), after checking that `dir` is a model folder and that the requested `fold`, if any, is one of them.
 * A folder with no such fold is left to `exportOnnxModel`, whose error names the checkpoints the folds do hold.
 * @throws DataError naming the missing fold and the folds found, for a fold that is not trained with `kind`
 */
async function checkOnnxFold(dir: string, fold: number | 'all' | undefined, kind: string): Promise<(number | 'all')[]> {
  readModelFolderFiles(dir);
  const found = await availableFolds(dir, kind);
  if (fold === undefined || !found.length || found.includes(fold)) return found;
  throw new DataError(`fold ${fold} has no checkpoint_${kind} in the model folder; folds found: ${found.join(', ')}`, {
    file: join(dir, `fold_${fold}`),
    hint: `pass -f with one of ${found.join(', ')} (an ONNX file holds one fold's network), or leave -f out for fold ${found[0]}`,
  });
}
