import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DatasetFingerprint, Plans } from '../contracts/plans.js';
import type { Registry } from '../registry/registry.js';
import { convertMsd, v2DatasetName } from '../dataset/convert.js';
import { foregroundClasses, ignoreLabelOf } from '../dataset/dataset-json.js';
import { loadDataset } from '../dataset/load.js';
import type { Dataset } from '../dataset/types.js';
import { formatValidationReport, validateDataset } from '../dataset/validate.js';
import { evaluateFolder, type EvaluationSummary } from '../evaluation/summary.js';
import { configurationPairs, findBestConfiguration, type BestCandidate, type BestConfiguration } from '../postprocessing/best.js';
import type { ComputeBackend } from '../contracts/backend.js';
import type { DeviceBackend } from '../contracts/device.js';
import { DataError } from '../util/errors.js';
import { planOrReuse, runFingerprint } from './fingerprint-plan.js';
import { writeJson } from './json-io.js';
import { runLayout, type RunLayout } from './layout.js';
import { readModelFolder } from './model-folder.js';
import { loadModel, predictCases } from './predict-stage.js';
import { dataConfiguration, runPreprocess } from './preprocess-stage.js';
import type { Budget } from './presets.js';
import type { Reporter } from './progress.js';
import { foldSummaryFiles, runDeterminePostprocessing } from './postprocess-stage.js';
import { predictCasesEnsemble, scoreEnsemble } from './ensemble-stage.js';
import { stage } from './stages.js';
import { applyTimeBudget, estimateRun, recordMeasured } from './budget-stage.js';
import { crossValidationSummary, ensureSplits, foldsToRun, trainConfiguration, writeModelFiles } from './train-stage.js';

/** Options of `runDecathlon`. */
export interface DecathlonOptions {
  /** MSD task folder or v2 dataset folder. */
  task: string;
  out: string;
  registry: Registry;
  budget: Budget;
  rep: Reporter;
  /** Compute backend name or `auto`. */
  backend?: string;
  planner?: string;
  gpuMemoryGb?: number;
}

/** What a decathlon run produced. */
export interface DecathlonResult {
  best: BestConfiguration;
  /** Test-set evaluation (when labelsTs exists). */
  summary?: EvaluationSummary;
  /** The test-set predictions folder; null when there were no test images (nothing written). */
  predictions: string | null;
  seconds: number;
}

/** Load and validate a dataset; convert an MSD task into `<out>/nnUNet_raw`. @throws DataError with every problem. */
export async function prepareDataset(task: string, rawDir: string, registry: Registry, rep: Reporter): Promise<Dataset> {
  let ds = await loadDataset(task);
  rep.log(`dataset: ${ds.root} (${ds.layout}, ${ds.cases.length} training, ${ds.testCases.length} test cases)`);
  const report = await validateDataset(ds, registry);
  if (!report.ok) throw new DataError(`dataset validation failed:\n${formatValidationReport(report)}`, { hint: 'fix the files listed above and run again' });
  for (const n of report.notes) rep.log(`note: ${n}`);
  if (ds.layout === 'msd') {
    const dest = join(rawDir, v2DatasetName(task));
    ds = await convertMsd(task, dest, registry);
    rep.log(`converted to nnU-Net v2 layout: ${dest}`);
  }
  return ds;
}

/**
 * Configurations to train: the requested ones that the plans hold, each cascade after its previous stage when both
 * are requested (a cascade alone needs the previous stage's trained model folder; `trainConfiguration` checks).
 */
export function configurationsToRun(plans: Plans, requested: Budget['configurations'], rep: Reporter): string[] {
  const available = Object.keys(plans.configurations);
  const want = requested === 'all' ? available : requested;
  const out: string[] = [];
  for (const c of want) {
    if (!available.includes(c)) rep.log(`configuration '${c}' is not in the plans (available: ${available.join(', ')}); skipped`);
    else if (!out.includes(c)) out.push(c);
  }
  if (!out.length) throw new DataError(`none of the requested configurations (${want.join(', ')}) is in the plans`, { hint: `available: ${available.join(', ')}` });
  // a previous stage trains before its cascade (nnU-Net: 3d_lowres before 3d_cascade_fullres)
  const ordered: string[] = [];
  const visit = (c: string, depth = 0) => {
    if (ordered.includes(c) || depth > available.length) return;
    const prev = plans.configurations[c]!.previous_stage;
    if (prev && out.includes(prev)) visit(prev, depth + 1);
    ordered.push(c);
  };
  for (const c of out) visit(c);
  return ordered;
}

/**
 * The whole nnU-Net pipeline on one task: validate -> convert (MSD) -> fingerprint -> plan -> preprocess ->
 * train (each configuration x fold, with validation predictions) -> find best (spec 1.20) -> determine
 * postprocessing (spec 1.19) -> predict the test images -> evaluate against labelsTs when present.
 * Every stage reuses valid outputs of an earlier (killed) run in `out`.
 */
export async function runDecathlon(o: DecathlonOptions): Promise<DecathlonResult> {
  const t0 = Date.now();
  const L = runLayout(o.out);
  const { rep } = o;
  let budget = o.budget;
  // one child container per run: providers a run registers (stages, services) stay out of the caller's registry
  const registry = o.registry.child();
  const backend = await stage(registry, 'selectDevice')(registry, o.backend ?? 'auto', (s) => rep.log(s));
  const ds = await prepareDataset(o.task, L.raw, registry, rep);
  writeJson(L.datasetJson, ds.json);
  writeJson(L.runInfo, { task: o.task, dataset: ds.root });
  const fp: DatasetFingerprint = await runFingerprint(ds, registry, L.fingerprint, rep);
  let plans = planOrReuse(fp, ds.json, registry, L.plans, rep, { planner: o.planner, gpuMemoryGb: o.gpuMemoryGb, datasetName: ds.json.name });
  const splits = await ensureSplits(L.splits, ds.cases.map((c) => c.id), budget.nFolds, registry);
  const folds = foldsToRun(budget.folds, splits, L.splits);
  const cost = { ds, fingerprint: fp, plans, splits, folds, L, registry, backend, budget, rep, planner: o.planner };
  ({ plans, budget } = await applyTimeBudget(cost));
  const configs = configurationsToRun(plans, budget.configurations, rep);
  await estimateRun({ ...cost, plans, budget }, configs);
  const classes = foregroundClasses(ds.json);
  const saveProbabilities = budget.ensemble && configs.length > 1;
  const singles: BestCandidate[] = [];
  for (const configuration of configs) {
    const ppDir = L.configurationData(dataConfiguration(plans, configuration));
    await timed(L, `preprocess ${configuration}`, () => runPreprocess(ds, plans!, dataConfiguration(plans!, configuration), registry, ppDir, rep));
    const modelDir = L.modelDir(configuration);
    writeModelFiles(modelDir, plans, ds.json, L.fingerprint);
    await timed(L, `train+validation ${configuration}`, () => trainConfiguration({ ds, plans: plans!, configuration, registry, backend, preprocessedDir: ppDir, modelDir, splits, folds, budget, rep, saveProbabilities }));
    const cv = crossValidationSummary(modelDir, folds, classes);
    const dice = cv?.foreground_mean.Dice ?? NaN;
    rep.log(`${configuration}: cross-validation foreground Dice ${dice.toFixed(4)} (folds ${folds.join(', ')})`);
    singles.push({ name: configuration, members: [configuration], foregroundDice: dice });
  }
  const ensembles = saveProbabilities ? await scoreEnsembles(ds, configs, folds, L, registry, rep) : [];
  const best = findBestConfiguration(singles, ensembles);
  writeJson(L.bestModel, { best: best.best, ranking: best.ranking, folds });
  rep.log(`best configuration: ${best.best.name} (CV foreground Dice ${best.best.foregroundDice.toFixed(4)})`);
  const summary = await timed(L, 'predict test', () => predictAndEvaluate(ds, best.best, folds, L, registry, backend, budget, rep));
  return { best, summary, predictions: ds.testCases.length ? L.predictions : null, seconds: (Date.now() - t0) / 1000 };
}

/** Run `f` and record its wall time in `<run>/estimates.json` under `stage`. */
async function timed<T>(L: RunLayout, stage: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const r = await f();
  recordMeasured(L, stage, (performance.now() - t0) / 1000);
  return r;
}

/** Folder of an ensemble of two configurations: `<results>/ensembles/ensemble__<a>__<b>`. */
export function ensembleDir(L: RunLayout, members: string[]): string {
  return join(L.results, 'ensembles', `ensemble__${members.join('__')}`);
}

/** Score every pair of trained configurations as an ensemble (spec 1.20). */
export async function scoreEnsembles(ds: Dataset, configs: string[], folds: number[], L: RunLayout, registry: Registry, rep: Reporter): Promise<BestCandidate[]> {
  const out: BestCandidate[] = [];
  for (const [a, b] of configurationPairs(configs)) {
    const s = await scoreEnsemble(ds, [L.modelDir(a), L.modelDir(b)], folds, ensembleDir(L, [a, b]), registry, rep);
    if (!s) continue;
    rep.log(`ensemble(${a}, ${b}): cross-validation foreground Dice ${s.foreground_mean.Dice!.toFixed(4)}`);
    out.push({ name: `ensemble(${a}, ${b})`, members: [a, b], foregroundDice: s.foreground_mean.Dice! });
  }
  return out;
}

/**
 * Determine postprocessing on the winner's cross-validation predictions (spec 1.19), predict the test images with it
 * (one model folder, or an ensemble averaging probabilities) and evaluate against labelsTs when present.
 */
export async function predictAndEvaluate(
  ds: Dataset,
  best: BestCandidate,
  folds: number[],
  L: RunLayout,
  registry: Registry,
  backend: ComputeBackend | DeviceBackend,
  budget: Budget,
  rep: Reporter,
): Promise<EvaluationSummary | undefined> {
  const isEnsemble = best.members.length > 1;
  const ppDir = isEnsemble ? ensembleDir(L, best.members) : L.modelDir(best.name);
  const summaries = isEnsemble ? [join(ppDir, 'validation', 'summary.json')] : foldSummaryFiles(ppDir, folds);
  const plan = budget.postprocessing ? await runDeterminePostprocessing(ds, ppDir, summaries, registry, rep) : undefined;
  if (!ds.testCases.length) {
    rep.log('no test images (imagesTs): nothing to predict');
    return undefined;
  }
  // resume: keep a test prediction only when its inputs and the model are unchanged (manifest)
  const opts = { stepSize: budget.stepSize, mirror: budget.mirror, postprocessing: budget.postprocessing, existing: 'manifest' as const };
  if (isEnsemble) {
    const models = [];
    for (const c of best.members) models.push(await loadModel(readModelFolder(L.modelDir(c), folds), registry, backend));
    await predictCasesEnsemble(models, ds.testCases, L.predictions, registry, rep, { ...opts, postprocessingPlan: plan });
  } else {
    const model = await loadModel(readModelFolder(L.modelDir(best.name), folds), registry, backend);
    await predictCases(model, ds.testCases, L.predictions, registry, rep, opts);
  }
  if (!ds.testCases.every((c) => c.label) || !existsSync(join(ds.root, 'labelsTs'))) return undefined;
  return evaluateFolder(L.predictions, join(ds.root, 'labelsTs'), foregroundClasses(ds.json), registry, {
    fileEnding: ds.json.file_ending,
    ignoreLabel: ignoreLabelOf(ds.json),
    outFile: L.summary,
    // a labelsTs file without a test image is not predicted: evaluate the test cases, and say which were left out
    allowMissing: true,
    warn: (w) => rep.log(w),
  });
}

/** Per-class Dice lines for printing (`name (value): dice`). */
export function formatDice(summary: EvaluationSummary, ds: { labels: Record<string, number | number[]> }): string {
  const names = new Map(Object.entries(ds.labels).map(([n, v]) => [Array.isArray(v) ? `(${v.join(', ')})` : String(v), n]));
  const lines = Object.entries(summary.mean).map(([k, m]) => {
    const excluded = summary.metric_per_case.filter((c) => Number.isNaN(c.metrics[k]?.Dice)).length;
    const note = excluded ? `  (${excluded} case(s) excluded from the mean: empty reference and empty prediction)` : '';
    return `  ${names.get(k) ?? k} (${k}): Dice ${m.Dice!.toFixed(4)}  IoU ${m.IoU!.toFixed(4)}${note}`;
  });
  lines.push(`  foreground mean: Dice ${summary.foreground_mean.Dice!.toFixed(4)} over ${summary.metric_per_case.length} cases`);
  return lines.join('\n');
}
