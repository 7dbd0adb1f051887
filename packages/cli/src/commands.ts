import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import {
  DataError, UsageError, checkOutputFolder, convertMsd, evaluateFolder, foregroundClasses, formatDice,
  formatValidationReport, ignoreLabelOf, loadDataset, loadModel, predictFolder, readJson,
  readModelFolder, runDecathlon, runFingerprint, runLayout, runPlan, runPreprocess, dataConfiguration, stage,
  msdConversionTarget, checkDatasetId, validateDataset, writeJson, prepareDataset, exportNnunetModel, checkFingerprintFile, configurationsToRun, PRESETS, jobQueueFor, formatJobEvent,
  loadRunPlans, predictionSummary, runTraining, runFindBest, formatLeftOutFold,
  checkpointKind, type DatasetJson,
} from '@nnunet-ts/core';
import { allowEmptyLabelsFlag, choiceParser, makeContext, parseLabels, type CommonOptions } from './context.js';
import { addSlurmCommands, addWorkerCommand } from './queue-commands.js';
import { addEnsembleCommand, addExportOnnxCommand } from './interop-commands.js';
import { addExportWebCommand } from './web-command.js';

/** Where verbs print results (stdout) — injectable for tests. */
export interface Io {
  out(s: string): void;
}

function common(cmd: Command): Command {
  return cmd
    .addOption(new Option('--plugin <module>', 'plugin module exporting a PluginModule or register(registry) (repeatable)').argParser((v: string, prev: string[] = []) => [...prev, v]))
    .option('--backend <name>', 'compute backend: auto or a registered name', undefined)
    .option('--config <json>', 'JSON file with budget keys (epochs, iterationsPerEpoch, folds, configurations, ...), backend, planner, plugins')
    .option('-q, --quiet', 'no progress output');
}

/** `--preset` and `-c` (what `preprocess` needs: which configurations). */
function configurationFlags(cmd: Command, verb = 'train'): Command {
  return cmd
    .option('--preset <name>', `budget preset (${Object.keys(PRESETS).join(', ')}); default: nnU-Net's 5 folds x 1000 epochs x 250 iterations`)
    .option('-c, --configurations <list>', `configurations to ${verb}, comma-separated, or all`);
}

function budgetFlags(cmd: Command): Command {
  return configurationFlags(cmd)
    .option('-f, --folds <list>', "folds to train, comma-separated, or 'all' = every fold of splits_final.json (0-4), unlike nnU-Net's fold 'all' (one model on every case, no validation: nnUNetv2_train ... all), which nnunet-ts does not train; predict -f all uses one trained by nnU-Net")
    .option('--epochs <n>', 'epochs per fold')
    .option('--iterations-per-epoch <n>', 'training iterations per epoch')
    .option('--time-budget <duration>', 'plan for this machine within a wall-time budget (30m, 1h30m): picks the configuration, patch, batch, mirroring and epochs that fit (quick = 30m)');
}

/**
 * `predict -f 0,1` / `-f all`: fold numbers and `all` (nnU-Net's `fold_all`, the model trained on every case, as
 * `nnUNetv2_predict -f all`), or undefined for every trained numeric fold. @throws UsageError for anything else
 */
function parseFoldList(v: string | undefined): (number | 'all')[] | undefined {
  if (v === undefined) return undefined;
  const folds = v.split(',').filter(Boolean).map((f) => (f === 'all' ? 'all' : Number(f)));
  if (!folds.length || folds.some((f) => f !== 'all' && (!Number.isInteger(f) || f < 0))) {
    throw new UsageError(`bad fold list '${v}'`, { hint: "use -f 0 1, -f 0,1 (fold numbers of the model folder's fold_<k>/) or -f all (its fold_all/)" });
  }
  return [...new Set(folds)];
}

/** `--export-order-z`: 0 (nearest, nnU-Net) or 1 (linear); anything else is a one-line usage error (exit 2). */
const parseOrderZ = choiceParser('--export-order-z', { 0: 'nearest, nnU-Net', 1: 'linear' }, Number);

async function loadPrepared(dataset: string, out: string, ctx: Awaited<ReturnType<typeof makeContext>>, allowEmptyLabels?: boolean) {
  const L = runLayout(out);
  const ds = await prepareDataset(dataset, L.raw, ctx.registry, ctx.rep, { allowEmptyLabels, run: L });
  writeJson(L.datasetJson, ds.json);
  writeJson(L.runInfo, { task: dataset, dataset: ds.root });
  return { L, ds };
}

/** Register every verb on `program`. */
export function addCommands(program: Command, io: Io): void {
  addValidateCommand(program, io);
  addConvertMsdCommand(program, io);
  addFingerprintCommand(program, io);
  addPlanCommand(program, io);
  addPreprocessCommand(program, io);
  addTrainCommand(program, io);
  addPredictCommand(program, io);
  addExportNnunetCommand(program, io);
  addEvaluateCommand(program, io);
  addFindBestCommand(program, io);
  addDecathlonCommand(program, io);
  addEnsembleCommand(program, common, io);
  addExportOnnxCommand(program, common, io);
  addWorkerCommand(program, common, io);
  addExportWebCommand(program, common, io);
  addSlurmCommands(program, common, budgetFlags, io);
}

/** `validate`: check a dataset (MSD task or v2 folder) and list every problem, grouped by case. */
function addValidateCommand(program: Command, io: Io): void {
  allowEmptyLabelsFlag(common(program.command('validate <dataset>').description('check a dataset (MSD task or v2 folder) and list every problem, grouped by case')))
    .option('--strict', 'treat every note (ignored files, reader warnings, duplicates, train/test overlap, ...) as an error')
    .action(async (dataset: string, o: CommonOptions & { strict?: boolean; allowEmptyLabels?: boolean }) => {
      const ctx = await makeContext(o);
      const ds = await loadDataset(dataset);
      ctx.rep.start('validate', ds.cases.length + ds.testCases.length);
      const r = await validateDataset(ds, ctx.registry, { onCase: (d) => ctx.rep.update(d), strict: o.strict === true, allowEmptyLabels: o.allowEmptyLabels === true });
      ctx.rep.stop();
      io.out(formatValidationReport(r));
      if (!r.ok) throw new DataError(`dataset ${ds.root} has ${r.problems.length} problem(s) (listed above)`, { hint: `fix them and run validate again${o.strict ? ' (--strict: notes count as problems)' : ''}` });
    });
}

/** `convert-msd`: convert an MSD v1 task folder to the nnU-Net v2 raw layout (input untouched). */
function addConvertMsdCommand(program: Command, io: Io): void {
  common(program.command('convert-msd <task>').description('convert an MSD v1 task folder (TaskXX_Name), or an nnU-Net v1 raw one (CASE_0000 files), to the nnU-Net v2 raw layout (input untouched)'))
    .requiredOption('-o, --out <folder>', 'output: a nnUNet_raw folder (DatasetXXX_Name is created inside) or the dataset folder itself, named DatasetXXX_Name')
    .option('--id <n>', "dataset id of the output DatasetXXX_Name, 0-999 (nnU-Net's -overwrite_id); default: the XX of TaskXX_Name; needed for a task folder named otherwise", parseDatasetId)
    .action(async (task: string, o: CommonOptions & { out: string; id?: number }) => {
      await loadDataset(task, { acceptV1: true }); // a missing or broken task folder is said as such, before what its name lacks
      const dest = msdConversionTarget(task, o.out, o.id);
      const ctx = await makeContext(o);
      const ds = await convertMsd(task, dest, ctx.registry);
      io.out(`converted ${ds.cases.length} training and ${ds.testCases.length} test cases to ${dest}`);
    });
}

/** `convert-msd --id`: a whole number from 0 to 999. @throws UsageError for anything else (exit 2) */
function parseDatasetId(v: string): number {
  if (!/^\s*\d+\s*$/.test(v)) throw new UsageError(`--id must be a dataset id from 0 to 999, got '${v}'`, { hint: 'nnU-Net v2 names datasets DatasetXXX_Name, the id in three digits' });
  const id = Number(v);
  checkDatasetId(id, '--id');
  return id;
}

/** `fingerprint`: extract the dataset fingerprint (RULES.md §2). */
function addFingerprintCommand(program: Command, io: Io): void {
  allowEmptyLabelsFlag(common(program.command('fingerprint <dataset>').description('extract the dataset fingerprint (RULES.md §2)')))
    .requiredOption('-o, --out <dir>', 'run folder; writes nnUNet_preprocessed/dataset_fingerprint.json')
    .action(async (dataset: string, o: CommonOptions & { out: string; allowEmptyLabels?: boolean }) => {
      const ctx = await makeContext(o);
      const { L, ds } = await loadPrepared(dataset, o.out, ctx, o.allowEmptyLabels);
      await runFingerprint(ds, ctx.registry, L.fingerprint, ctx.rep, { force: true });
      io.out(`wrote ${L.fingerprint}`);
    });
}

/** `plan`: plan all configurations (nnUNetPlans.json) from a dataset, or from --fingerprint and --dataset-json. */
function addPlanCommand(program: Command, io: Io): void {
  allowEmptyLabelsFlag(common(program.command('plan [dataset]').description('plan all configurations (nnUNetPlans.json) from a dataset, or from --fingerprint and --dataset-json')))
    .option('--fingerprint <file>', 'dataset_fingerprint.json (with --dataset-json: plan without images)')
    .option('--dataset-json <file>', 'dataset.json (v2 or MSD form)')
    .requiredOption('-o, --out <path>', 'run folder (with <dataset>) or plans file (with --fingerprint)')
    .option('--planner <name>', 'planner plugin (default nnUNetPlanner)')
    .option('--gpu-memory-gb <n>', 'GPU memory target in GB (default 8)')
    .action(async (dataset: string | undefined, o: CommonOptions & { out: string; fingerprint?: string; datasetJson?: string; allowEmptyLabels?: boolean }) => {
      const ctx = await makeContext(o);
      const popts = { planner: ctx.options.planner, gpuMemoryGb: ctx.options.gpuMemoryGb };
      if (o.fingerprint || o.datasetJson) {
        if (!o.fingerprint || !o.datasetJson) throw new UsageError('--fingerprint and --dataset-json go together', { hint: 'plan --fingerprint <dataset_fingerprint.json> --dataset-json <dataset.json> -o <plans.json>' });
        const { normalizeDatasetJson } = await import('@nnunet-ts/core');
        const json = normalizeDatasetJson(readJson(o.datasetJson), o.datasetJson, '.nii.gz').json;
        const out = o.out.endsWith('.json') ? o.out : join(o.out, 'nnUNetPlans.json');
        const fp = checkFingerprintFile(readJson(o.fingerprint), o.fingerprint, Object.keys(json.channel_names ?? {}).length || undefined);
        runPlan(fp, json, ctx.registry, out, { ...popts, datasetName: json.name });
        io.out(`wrote ${out}`);
        return;
      }
      if (!dataset) throw new UsageError('plan needs <dataset> or --fingerprint with --dataset-json');
      const { L, ds } = await loadPrepared(dataset, o.out, ctx, o.allowEmptyLabels);
      const fp = await runFingerprint(ds, ctx.registry, L.fingerprint, ctx.rep);
      const plans = runPlan(fp, ds.json, ctx.registry, L.plans, { ...popts, datasetName: ds.json.name });
      io.out(`wrote ${L.plans} (configurations: ${Object.keys(plans.configurations).join(', ')})`);
    });
}

/** `preprocess`: preprocess training cases for the requested configurations. */
function addPreprocessCommand(program: Command, io: Io): void {
  allowEmptyLabelsFlag(configurationFlags(common(program.command('preprocess <dataset>').description('preprocess training cases for the requested configurations')), 'preprocess'))
    .requiredOption('-o, --out <dir>', 'run folder (plans from `plan`)')
    .action(async (dataset: string, o: CommonOptions & { out: string; allowEmptyLabels?: boolean }) => {
      const ctx = await makeContext(o);
      const { L, ds } = await loadPrepared(dataset, o.out, ctx, o.allowEmptyLabels);
      const plans = loadRunPlans(L.plans);
      for (const c of configurationsToRun(plans, ctx.budget.configurations, ctx.rep, ctx.configurationsFrom)) {
        const dc = dataConfiguration(plans, c);
        await runPreprocess(ds, plans, dc, ctx.registry, L.configurationData(dc), ctx.rep);
      }
      io.out(`preprocessed into ${L.preprocessed}`);
    });
}

/** `train`: train configurations x folds (resumes; validation predictions per fold). */
function addTrainCommand(program: Command, io: Io): void {
  allowEmptyLabelsFlag(budgetFlags(common(program.command('train <dataset>').description('train configurations x folds (resumes; validation predictions per fold)'))))
    .requiredOption('-o, --out <dir>', 'run folder (after plan and preprocess)')
    .action(async (dataset: string, o: CommonOptions & { out: string; allowEmptyLabels?: boolean }) => {
      const ctx = await makeContext(o);
      const trained = await runTraining({ dataset, out: o.out, registry: ctx.registry, budget: ctx.budget, rep: ctx.rep, backend: ctx.backend, planner: ctx.options.planner, allowEmptyLabels: o.allowEmptyLabels, configurationsFrom: ctx.configurationsFrom });
      for (const t of trained) {
        io.out(`${t.configuration}: model ${t.modelDir}; validation foreground Dice ${t.crossValidation?.foreground_mean.Dice?.toFixed(4) ?? 'n/a'}`);
      }
    });
}

/** `predict`: segment a folder of images with a trained model folder. */
function addPredictCommand(program: Command, io: Io): void {
  common(program.command('predict').description('segment a folder of images with a trained model folder'))
    .requiredOption('-i, --input <folder>', 'images: CASE_0000<ending> (or plain names for 1-channel models), or one image file of a 1-channel model; outputs are <CASE><ending>')
    .requiredOption('-o, --output <folder>', 'where segmentations are written as CASE<ending>')
    .requiredOption('-m, --model <folder>', 'model folder <trainer>__<plans>__<configuration>')
    .option('-f, --folds <folds...>', "folds to ensemble: '0,1' or nnU-Net's '0 1'; 'all' is fold_all/ (nnU-Net's model trained on every case, nnUNetv2_predict -f all) (default: every trained fold_<k>; fold_all only with -f all, as nnU-Net)")
    .option('--checkpoint <name>', "checkpoint per fold, nnU-Net's -chk: final, best, or a file name like checkpoint_best.pth", 'final')
    .option('--nnunet-compat-fp16', "accumulate the sliding window in float16 as nnU-Net v2 does (reproduces its logits); default: float32")
    .option('--step-size <x>', 'sliding-window step as a fraction of the patch (default 0.5)')
    .option('--disable-tta', 'no mirroring at test time (about 8x faster in 3D)')
    .option('--no-postprocessing', "ignore the model's postprocessing.json")
    .option('--continue', "keep outputs that already exist (nnU-Net's --continue_prediction); default: overwrite them")
    .option('--export-order-z <n>', "interpolation order along a separate low-resolution axis when going back to the original grid: 0 nearest (nnU-Net, default from the plans) or 1 linear (ours, opt-in)", parseOrderZ)
    .option('--save-probabilities', "also write nnU-Net's <case>.npz (probabilities) and <case>.pkl (properties) for ensembling")
    .action(async (o: CommonOptions & { input: string; output: string; model: string; folds?: string | string[]; checkpoint: string; continue?: boolean; exportOrderZ?: number; nnunetCompatFp16?: boolean; saveProbabilities?: boolean }) => {
      if (Array.isArray(o.folds)) o.folds = o.folds.join(',');
      checkpointKind(o.checkpoint);
      const folds = parseFoldList(o.folds);
      const ctx = await makeContext(o);
      if (!existsSync(o.input)) throw new DataError('input folder not found', { file: resolve(o.input), hint: 'pass -i <folder> with the images to segment (CASE_0000.nii.gz, ... or plain names for 1-channel models)' });
      checkOutputFolder(o.input, o.output);
      const folder = readModelFolder(resolve(o.model), folds);
      const backend = await stage(ctx.registry, 'selectDevice')(ctx.registry, ctx.backend, (s) => ctx.rep.log(s));
      const model = await loadModel(folder, ctx.registry, backend, folder.folds, { checkpoint: o.checkpoint });
      const r = await predictFolder(model, resolve(o.input), resolve(o.output), ctx.registry, ctx.rep, {
        stepSize: ctx.options.stepSize,
        mirror: ctx.options.mirror,
        postprocessing: ctx.options.postprocessing,
        existing: o.continue ? 'continue' : 'overwrite',
        exportOrderZ: o.exportOrderZ,
        accumulation: o.nnunetCompatFp16 ? 'nnunet-fp16' : 'float32',
        saveProbabilities: o.saveProbabilities === true,
        // `"estimate": false` in --config skips the calibration (3 tile forwards: minutes on a software GPU)
        estimate: ctx.options.estimate,
      });
      io.out(predictionSummary(r.written.length, r.kept.length, resolve(o.output), o.continue ? '--continue' : undefined));
    });
}

/** `export-nnunet`: write a trained model folder as an nnU-Net v2 results folder (checkpoint_final.pth for torch.load / nnU-Net). */
function addExportNnunetCommand(program: Command, io: Io): void {
  common(program.command('export-nnunet').description('write a trained model folder as an nnU-Net v2 results folder (checkpoint_final.pth for torch.load / nnU-Net)'))
    .requiredOption('-m, --model <folder>', 'our model folder <trainer>__<plans>__<configuration>')
    .requiredOption('-o, --output <folder>', 'the nnU-Net model folder to write (plans.json, dataset.json, fold_<k>/checkpoint_final.pth)')
    .option('-f, --folds <folds...>', "folds to export: '0,1' or '0 1' (default: all trained)")
    .option('--checkpoint <name>', 'which checkpoint of ours: final, best, latest', 'final')
    .action(async (o: { model: string; output: string; folds?: string[]; checkpoint: string }) => {
      const folds = o.folds?.join(',').split(',').filter(Boolean).map((f) => (f === 'all' ? 'all' : Number(f)));
      if (folds?.some((f) => f !== 'all' && !Number.isInteger(f))) throw new UsageError(`bad fold list '${o.folds!.join(' ')}'`, { hint: 'use -f 0 1 or -f 0,1' });
      const written = await exportNnunetModel(resolve(o.model), resolve(o.output), { folds, checkpoint: o.checkpoint });
      io.out(`wrote nnU-Net v2 model folder ${resolve(o.output)} (folds ${written.join(', ')})`);
    });
}

/** `evaluate`: Dice/IoU per class of predictions against references; writes summary.json. */
function addEvaluateCommand(program: Command, io: Io): void {
  common(program.command('evaluate').description('Dice/IoU per class of predictions against references; writes summary.json'))
    .requiredOption('-p, --pred <folder>', 'predictions')
    .requiredOption('-r, --ref <folder>', 'references (same file names)')
    .option('-d, --dataset-json <file>', 'dataset.json for labels and file ending')
    .option('-l, --labels <list>', 'foreground labels, comma-separated (instead of --dataset-json)')
    .option('--file-ending <e>', 'file ending', '.nii.gz')
    .option('-o, --output <file>', 'summary.json path (default <pred>/summary.json)')
    .option('--allow-missing', 'evaluate only the references that have a prediction (warns with the missing ones); default: error')
    .action(async (o: CommonOptions & { pred: string; ref: string; datasetJson?: string; labels?: string; fileEnding: string; output?: string; allowMissing?: boolean }) => {
      const ctx = await makeContext(o);
      let json: DatasetJson | undefined;
      if (o.datasetJson) {
        const { normalizeDatasetJson } = await import('@nnunet-ts/core');
        json = normalizeDatasetJson(readJson(o.datasetJson), o.datasetJson, o.fileEnding).json;
      }
      const classes = json ? foregroundClasses(json) : o.labels !== undefined ? parseLabels(o.labels) : null;
      if (!classes) throw new UsageError('evaluate needs --dataset-json or --labels', { hint: 'pass -d <dataset.json> (labels and file ending) or -l 1,2 (the foreground labels)' });
      const s = await evaluateFolder(resolve(o.pred), resolve(o.ref), classes, ctx.registry, {
        fileEnding: json?.file_ending ?? o.fileEnding,
        ignoreLabel: json ? ignoreLabelOf(json) : undefined,
        outFile: o.output ? resolve(o.output) : undefined,
        allowMissing: o.allowMissing === true,
        warn: (w) => io.out(w),
        labelSource: o.datasetJson ? resolve(o.datasetJson) : undefined,
      });
      io.out(formatDice(s, json ?? { labels: Object.fromEntries(classes.map((c) => [String(c), c as number])) }));
    });
}

/** `find-best`: pick the best configuration or pair ensemble from cross-validation (RULES.md §20) and determine its postprocessing (RULES.md §19). */
function addFindBestCommand(program: Command, io: Io): void {
  common(program.command('find-best').description('pick the best configuration or pair ensemble from cross-validation (RULES.md §20) and determine its postprocessing (RULES.md §19)'))
    .requiredOption('-o, --out <dir>', 'run folder')
    .option('--dataset <folder>', 'dataset with the training labels (default: the one recorded in <run>/run.json)')
    .option('--no-ensemble', 'do not score ensembles of configuration pairs')
    .action(async (o: CommonOptions & { out: string; dataset?: string; ensemble: boolean }) => {
      const ctx = await makeContext(o);
      const r = await runFindBest({ out: o.out, dataset: o.dataset, registry: ctx.registry, rep: ctx.rep, ensemble: o.ensemble });
      for (const c of r.ranking) io.out(`${c.name}: CV foreground Dice ${c.foregroundDice.toFixed(4)}`);
      io.out(`best: ${r.best.name} -> ${r.dir}`);
      if (r.postprocessing) io.out(`postprocessing: ${r.postprocessing.postprocessing_fns.length} step(s) -> ${join(r.dir, 'postprocessing.json')}`);
      else io.out('postprocessing not determined: pass --dataset <folder> with the training labels');
    });
}

/** `decathlon`: the whole pipeline on a task: validate, convert, fingerprint, plan, preprocess, train, find best, postprocess, predict imagesTs, evaluate. */
function addDecathlonCommand(program: Command, io: Io): void {
  allowEmptyLabelsFlag(budgetFlags(common(program.command('decathlon <task>').description('the whole pipeline on a task: validate, convert, fingerprint, plan, preprocess, train, find best, postprocess, predict imagesTs, evaluate'))))
    .requiredOption('-o, --out <dir>', 'run folder (resumable: rerun the same command after an interruption)')
    .option('--planner <name>', 'planner plugin (default nnUNetPlanner)')
    .option('--gpu-memory-gb <n>', 'GPU memory target in GB (default 8)')
    .option('--resume', 'reuse valid outputs of an earlier run in --out (always on; accepted for clarity)')
    .option('--queue <url>', 'submit the jobs to a queue (redis://HOST:PORT) served by `nnunet-ts worker`s sharing the run folder, and wait for them')
    .action(async (task: string, o: CommonOptions & { out: string; queue?: string; allowEmptyLabels?: boolean }) => {
      const ctx = await makeContext(o);
      mkdirSync(o.out, { recursive: true });
      const runner = o.queue ? jobQueueFor(ctx.registry, o.queue).runner(o.queue) : undefined;
      const r = await runDecathlon({
        task, out: o.out, registry: ctx.registry, budget: ctx.budget, rep: ctx.rep, backend: ctx.backend,
        planner: ctx.options.planner, gpuMemoryGb: ctx.options.gpuMemoryGb, allowEmptyLabels: o.allowEmptyLabels, configurationsFrom: ctx.configurationsFrom,
        runner, onJobEvent: runner ? (e) => ctx.rep.log(formatJobEvent(e)) : undefined,
      }).finally(() => runner?.close());
      io.out(`best configuration: ${r.best.best.name} (CV foreground Dice ${r.best.best.foregroundDice.toFixed(4)})`);
      io.out(r.predictions ? `predictions: ${r.predictions}` : 'predictions: none (no test images in imagesTs)');
      if (r.summary) io.out(`test set (${r.summary.metric_per_case.length} cases), ${runLayout(o.out).summary}:\n${formatDice(r.summary, readJson<DatasetJson>(runLayout(o.out).datasetJson))}`);
      for (const l of r.leftOutFolds) io.out(formatLeftOutFold(l));
      io.out(`wall time: ${r.seconds.toFixed(1)} s`);
    });
}
