import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, isAbsolute } from 'node:path';
import type { ComputeBackend } from '../contracts/backend.js';
import type { DeviceBackend } from '../contracts/device.js';
import type { MedicalImage } from '../image/image.js';
import type { Registry } from '../registry/registry.js';
import { pickWriter } from '../dataset/convert.js';
import { readCase } from '../dataset/read.js';
import { readerWriterReorients, restoreOrientation } from '../image/reorient.js';
import { brokenLinks, endingOf, listFiles, idOf, parseChannelStem, stripEnding } from '../dataset/files.js';
import { scanV2Folder } from '../dataset/load.js';
import { labelManager } from '../dataset/label-manager.js';
import type { DatasetCase } from '../dataset/types.js';
import { DataError, NnunetError } from '../util/errors.js';
import { isDiskFull } from '../util/atomic.js';
import { applyPostprocessing } from '../postprocessing/determine.js';
import { checkPostprocessingPlan } from '../postprocessing/check.js';
import { hasFoldAll, previousStageDir, readModelFolder, trainedFolds, type ModelFolder } from './model-folder.js';
import type { Reporter } from './progress.js';
import { readJsonIfValid, writeJson } from './json-io.js';
import { getConfiguration } from '../planning/plans-io.js';
import { writeNnunetOutputJsons, writeNnunetProbabilities } from './save-probabilities.js';
import { stage, type StageCascadeTransforms, type StagePreprocessedCase, type StageTrainedModel } from './stages.js';
import { estimatePrediction } from './budget-stage.js';
import { checkPredictChannelFiles, checkPredictInput } from './predict-inputs.js';

/** Inference options (RULES.md §18). */
export interface PipelinePredictOptions {
  stepSize?: number;
  mirror?: boolean;
  /** Apply the model's postprocessing.json when present (default true). */
  postprocessing?: boolean;
  /**
   * What to do with an output file that already exists: `overwrite` (default, as nnU-Net), `continue` (skip it,
   * nnU-Net's `--continue_prediction`), or `manifest` (skip it only when `.predict_manifest.json` in the output
   * folder records the same input files (size + mtime) and the same model (checkpoint checksum); else re-predict).
   */
  existing?: 'overwrite' | 'continue' | 'manifest';
  /**
   * Spline order along a separately resampled low-resolution axis when logits go back to the original grid.
   * Default: the plans' `order_z` (nnU-Net: 0, nearest). 1 (linear) is our opt-in deviation (bad input B24).
   */
  exportOrderZ?: number;
  /** Print the expected time before predicting (one tile timed; default true). */
  estimate?: boolean;
  /**
   * Sliding-window accumulation: `float32` (ours, default) or `nnunet-fp16` (nnU-Net v2's float16 sums, to reproduce
   * its logits and segmentations; CLI `--nnunet-compat-fp16`).
   */
  accumulation?: 'float32' | 'nnunet-fp16';
  /**
   * Also write nnU-Net's `--save_probabilities` files per case: `<id>.npz` (`probabilities`, float32
   * `[c, z, y, x]` on the input's grid, before postprocessing) and `<id>.pkl` (the properties nnU-Net's ensembling
   * reads), plus `dataset.json` and `plans.json` in the output folder as nnU-Net's predictor does.
   */
  saveProbabilities?: boolean;
  /**
   * Log the kept outputs before predicting (`predict: K of N case(s) already predicted in <dir>, kept; M left`;
   * default true). A caller that predicts a stage one case at a time (the decathlon's predict jobs) passes false and
   * says the stage's totals once (`predictionSummary`).
   */
  logKept?: boolean;
}

/** What a prediction did with its cases: every id (input order), the ids written and the ids whose output was kept. */
export interface PredictedCases {
  ids: string[];
  written: string[];
  kept: string[];
}

/**
 * The one line that sums up a prediction stage: `wrote 9 segmentation(s) to <dir>; kept 1 already there (<why>)`.
 * The kept part is there when a case was kept or `why` (why outputs may be kept, e.g. `--continue`) is given.
 */
export function predictionSummary(written: number, kept: number, outDir: string, why?: string): string {
  return `wrote ${written} segmentation(s) to ${outDir}${kept || why ? `; kept ${kept} already there${why ? ` (${why})` : ''}` : ''}`;
}

/** The manifest `existing: 'manifest'` keeps in the output folder. */
export const PREDICT_MANIFEST = '.predict_manifest.json';

interface ManifestEntry {
  inputs: { file: string; size: number; mtimeMs: number }[];
  model: string;
}

/** Size and mtime of each input file of a case (what the manifest compares). */
export function inputStamp(images: string[]): ManifestEntry['inputs'] {
  return images.map((f) => {
    const st = statSync(f);
    return { file: resolve(f), size: st.size, mtimeMs: st.mtimeMs };
  });
}

/** Checkpoint files a model checksum covers: per fold, final (else latest) `.json`, `.bin`, `.pth`, with their stats. */
function checkpointFiles(f: ModelFolder): { name: string; file: string; size: number; mtimeMs: number }[] {
  return f.folds.flatMap((fold) => {
    const d = join(f.dir, `fold_${fold}`);
    const base = existsSync(join(d, 'checkpoint_final.json')) || existsSync(join(d, 'checkpoint_final.pth')) ? 'checkpoint_final' : 'checkpoint_latest';
    return ['.json', '.bin', '.pth'].map((e) => {
      const file = join(d, base + e);
      const st = statSync(file, { throwIfNoEntry: false });
      return { name: `${fold}/${base}${e}:`, file, size: st?.size ?? -1, mtimeMs: st?.mtimeMs ?? -1 };
    });
  });
}

/** Checksums already computed in this process, by model folders, checkpoint stats and options. */
const checksums = new Map<string, string>();

/**
 * Checksum of what determines a prediction: each used fold's checkpoint files (final, else latest), the plans,
 * the postprocessing and the inference options. Computed once per process while the checkpoint files keep their size
 * and mtime (what the manifest compares for inputs too): the decathlon predicts one test case per job with the same
 * model, and hashing every fold's checkpoint per case cost about 0.08 CPU-s per 45 MB checkpoint.
 */
export function modelChecksum(folders: ModelFolder[], opts: PipelinePredictOptions = {}, extra = ''): string {
  const files = folders.map(checkpointFiles);
  const options = JSON.stringify({ s: opts.stepSize ?? 0.5, m: opts.mirror ?? true, p: opts.postprocessing ?? true, extra, ...(opts.exportOrderZ !== undefined ? { z: opts.exportOrderZ } : {}), ...(opts.accumulation === 'nnunet-fp16' ? { a: 'fp16' } : {}) });
  const key = JSON.stringify([folders.map((f, i) => [f.dir, f.plans, f.postprocessing ?? null, files[i]!.map((x) => [x.file, x.size, x.mtimeMs])]), options]);
  const known = checksums.get(key);
  if (known) return known;
  const h = createHash('sha256');
  folders.forEach((f, i) => {
    h.update(f.dir).update(JSON.stringify(f.plans)).update(JSON.stringify(f.postprocessing ?? null));
    for (const x of files[i]!) {
      h.update(x.name);
      if (x.size >= 0) h.update(readFileSync(x.file));
    }
  });
  h.update(options);
  const digest = h.digest('hex');
  if (checksums.size > 64) checksums.clear();
  checksums.set(key, digest);
  return digest;
}

/** Decides per case whether an existing output may be kept, and records what was written (`existing` modes). */
export class PredictionResume {
  private readonly file: string;
  private readonly entries: Record<string, ManifestEntry>;
  constructor(
    private readonly outDir: string,
    private readonly mode: NonNullable<PipelinePredictOptions['existing']>,
    private readonly model: string,
  ) {
    this.file = join(outDir, PREDICT_MANIFEST);
    this.entries = (mode === 'manifest' ? readJsonIfValid<Record<string, ManifestEntry>>(this.file) : undefined) ?? {};
  }

  /**
   * True when `out` exists and may be kept for this case. `also`: the case's other outputs the options ask for
   * (`<id>.npz` and `<id>.pkl` with --save-probabilities); a case lacking any of them is predicted again.
   */
  keep(out: string, id: string, images: string[], also: string[] = []): boolean {
    if (!existsSync(out) || this.mode === 'overwrite' || !also.every((f) => existsSync(f))) return false;
    if (this.mode === 'continue') return true;
    const e = this.entries[id];
    return !!e && e.model === this.model && JSON.stringify(e.inputs) === JSON.stringify(inputStamp(images));
  }

  /**
   * Record a written output (manifest mode). The manifest is read again and merged just before the (atomic) write,
   * so workers predicting other cases into the same folder keep each other's entries (a lost entry only means that
   * case is predicted again on a later resume).
   */
  written(id: string, images: string[]): void {
    if (this.mode !== 'manifest') return;
    this.entries[id] = { inputs: inputStamp(images), model: this.model };
    const onDisk = readJsonIfValid<Record<string, ManifestEntry>>(this.file) ?? {};
    writeJson(this.file, { ...onDisk, [id]: this.entries[id] });
  }
}

/**
 * Refuse an output folder equal to or inside the input folder (outputs would be read as inputs, or overwrite them).
 * @throws DataError naming both folders
 */
export function checkOutputFolder(inDir: string, outDir: string): void {
  const rel = relative(resolve(inDir), resolve(outDir));
  if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) {
    throw new DataError(`the output folder ${resolve(outDir)} is ${rel === '' ? 'the input folder' : 'inside the input folder ' + resolve(inDir)}: segmentations would overwrite or be read as input images`, {
      hint: 'pass a separate -o folder outside -i',
    });
  }
}

/** Loaded networks of a model folder (opaque, from `loadTrainedModel`). */
export interface LoadedModel {
  folder: ModelFolder;
  models: StageTrainedModel;
  /** Cascade: the previous stage's loaded model (every trained fold) and the one-hot transform. */
  previous?: { model: LoadedModel; cascade: StageCascadeTransforms };
}

/**
 * Load the folds' networks once for many predictions (`opts.checkpoint`: final, best, latest or nnU-Net's
 * `checkpoint_best.pth` style name; nnU-Net v2 results folders load from their `.pth` files). A cascade model folder (`previous_stage` in its
 * configuration) also loads its previous stage's model folder (`previous_stage.json`, else the sibling folder).
 * The postprocessing steps must name registered postprocessors (`checkPostprocessingPlan`).
 * @throws DataError naming the previous stage's folder when it is missing or untrained, or an unknown postprocessing step
 */
export async function loadModel(folder: ModelFolder, registry: Registry, backend: ComputeBackend | DeviceBackend, folds = folder.folds, opts: { checkpoint?: string } = {}): Promise<LoadedModel> {
  if (folder.postprocessing) {
    const json = join(folder.dir, 'postprocessing.json');
    checkPostprocessingPlan(folder.postprocessing, existsSync(json) ? json : join(folder.dir, 'postprocessing.pkl'), registry);
  }
  const models = await stage(registry, 'loadTrainedModel')(folder.dir, folds, registry, backend, opts);
  const prevName = getConfiguration(folder.plans, folder.configuration).previous_stage;
  if (!prevName) return { folder, models };
  const dir = previousStageDir(folder, prevName);
  // the previous stage's trained fold_<k>, else its fold_all (nnU-Net's model trained on every case)
  const prevFolds: 'all'[] | undefined = trainedFolds(dir).length ? undefined : hasFoldAll(dir) ? ['all'] : [];
  if (prevFolds?.length === 0) {
    throw new DataError(`the cascade model needs its previous stage '${prevName}', which has no trained fold in ${dir}`, {
      file: folder.dir,
      hint: `keep the ${prevName} model folder next to the cascade's (or fix previous_stage.json), trained with: nnunet-ts train <dataset> -o <run> -c ${prevName}`,
    });
  }
  const model = await loadModel(readModelFolder(dir, prevFolds), registry, backend);
  const cascade = stage(registry, 'cascadeTransformsFrom')(registry, folder.dataset, { patchSize: models.patchSize, dims: 3, mirrorAxes: [], doDummy2D: false });
  return { folder, models, previous: { model, cascade } };
}

/**
 * Append the previous stage's segmentation (ORIGINAL grid of the case, `[z, y, x]`) to a preprocessed case as one-hot
 * channels (cascade models; RULES.md §10): resampled onto the case's preprocessed grid first.
 */
export function withPreviousStage(m: LoadedModel, pp: StagePreprocessedCase, seg: Int16Array, registry: Registry): StagePreprocessedCase {
  if (!m.previous) return pp;
  const grid = stage(registry, 'previousStageToGrid')(seg, pp.properties, pp.shape.slice(1), m.folder.plans, m.folder.configuration, registry);
  const r = stage(registry, 'appendPreviousStage')(m.previous.cascade, pp.data, pp.shape, grid);
  return { ...pp, data: r.data, shape: r.shape };
}

/**
 * Segment a preprocessed case and walk back to the original grid (RULES.md §14 export): sliding window, resample,
 * argmax, paste into the crop box, transpose back. Returns the label map `[z, y, x]` of the original image and, with
 * `returnProbabilities`, the softmax probabilities `[K, z, y, x]` there (for ensembling).
 */
export async function segmentPreprocessedFull(
  m: LoadedModel,
  pp: StagePreprocessedCase,
  registry: Registry,
  opts: PipelinePredictOptions & { returnProbabilities?: boolean } = {},
): Promise<{ seg: Int16Array; probabilities?: Float32Array }> {
  const logits = await stage(registry, 'predictPreprocessed')(m.models, pp.data, pp.shape, { stepSize: opts.stepSize ?? 0.5, mirror: opts.mirror ?? true, accumulation: opts.accumulation });
  const n = pp.shape[1]! * pp.shape[2]! * pp.shape[3]!;
  const shape = [logits.length / n, pp.shape[1]!, pp.shape[2]!, pp.shape[3]!];
  return stage(registry, 'exportPrediction')(logits, shape, pp.properties, m.folder.plans, m.folder.configuration, registry, {
    returnProbabilities: opts.returnProbabilities === true, orderZ: opts.exportOrderZ,
    regionsClassOrder: labelManager(m.folder.dataset, join(m.folder.dir, 'dataset.json')).regionsClassOrder ?? undefined,
  });
}

/** `segmentPreprocessedFull` without probabilities: the label map `[z, y, x]` on the original grid. */
export async function segmentPreprocessed(m: LoadedModel, pp: StagePreprocessedCase, registry: Registry, opts: PipelinePredictOptions = {}): Promise<Int16Array> {
  return (await segmentPreprocessedFull(m, pp, registry, opts)).seg;
}

/**
 * Preprocess an image `[c, z, y, x]` for a model's configuration (no label). Cascade models first segment the image
 * with the previous stage (no postprocessing, as nnU-Net's predictor) and append that segmentation, resampled to the
 * preprocessed grid, as one-hot channels.
 */
export async function preprocessForModel(m: LoadedModel, image: MedicalImage, registry: Registry, opts: PipelinePredictOptions = {}): Promise<StagePreprocessedCase> {
  const prevSeg = m.previous ? await segmentImage(m.previous.model, image, registry, { ...opts, postprocessing: false }) : null;
  const pp = stage(registry, 'preprocessCase')(
    { image: Float32Array.from(image.data), shape: [...image.shape], spacing: [...image.spacing], seg: null },
    m.folder.plans,
    m.folder.configuration,
    registry,
    { consumeInput: true },
  );
  return prevSeg ? withPreviousStage(m, pp, prevSeg, registry) : pp;
}

/** Segment one image (all channels stacked `[c, z, y, x]`) with a loaded model; postprocessing applied if set. */
export async function segmentImage(m: LoadedModel, image: MedicalImage, registry: Registry, opts: PipelinePredictOptions = {}): Promise<Int16Array> {
  return (await segmentImageFull(m, image, registry, opts)).seg;
}

/**
 * `segmentImage` that also returns, with `returnProbabilities`, the probabilities `[K, z, y, x]` on the input grid
 * (before postprocessing, as nnU-Net saves them) and the case's preprocessing properties.
 */
export async function segmentImageFull(m: LoadedModel, image: MedicalImage, registry: Registry, opts: PipelinePredictOptions & { returnProbabilities?: boolean } = {}): Promise<{ seg: Int16Array; probabilities?: Float32Array; properties: StagePreprocessedCase['properties'] }> {
  const pp = await preprocessForModel(m, image, registry, opts);
  const r = await segmentPreprocessedFull(m, pp, registry, opts);
  let seg = r.seg;
  const steps = m.folder.postprocessing?.postprocessing_fns;
  if (opts.postprocessing !== false && steps?.length) seg = applyPostprocessing(seg, image.shape.slice(1), steps, registry);
  return { seg, probabilities: r.probabilities, properties: pp.properties };
}

/**
 * Write a label map with the geometry and header of `like` (the input image), so shape, spacing, origin and
 * direction equal the input's. uint8 when labels fit, else int16. Atomic (the writer's temp + rename).
 */
export async function writeSegmentation(registry: Registry, path: string, seg: Int16Array, like: MedicalImage, ending: string): Promise<void> {
  let max = 0;
  for (let i = 0; i < seg.length; i++) if (seg[i]! > max) max = seg[i]!;
  mkdirSync(dirname(path), { recursive: true });
  await pickWriter(registry, ending).write(
    path,
    { data: seg, shape: [1, like.shape[1], like.shape[2], like.shape[3]], spacing: [...like.spacing], origin: [...like.origin], direction: [...like.direction] },
    { dtype: max < 256 ? 'uint8' : 'int16', template: like.header },
  );
}

/** `n name(s): a, b, c, ... (k more)` for messages. */
function someNames(names: string[], max = 5): string {
  return `${names.length} file(s): ${names.slice(0, max).join(', ')}${names.length > max ? `, ... (${names.length - max} more)` : ''}`;
}

/**
 * The note for input files under the gzip twin of the model's `file_ending` (`.nii` for `.nii.gz` or the reverse),
 * worded as the note on skipped files: nnU-Net takes only files ending in `file_ending`
 * (`create_lists_from_splitted_dataset_folder`), so it would skip them; here they are segmented, read by content
 * (B36), and each output is written with the model's ending, `<case><file_ending>`. `where`: the input folder with
 * `files` the names of such files in it, or the one input file (`files` null) with `output` its output's name.
 */
function twinEndingNote(where: string, files: string[] | null, ending: string, output = ''): string {
  const found = [...new Set((files ?? [basename(where)]).map(endingOf))].map((e) => `'${e}'`).join(', ');
  return files
    ? `note: ${where}: segmented ${someNames(files)}: their ending ${found} is not the model's file_ending '${ending}' (nnU-Net skips them; read here by content, the same format); the outputs are written with the model's ending, as <case>${ending}; convert them to ${ending} to match the model`
    : `note: ${where}: its ending ${found} is not the model's file_ending '${ending}' (nnU-Net skips such a file; read here by content, the same format); the output is written with the model's ending, as ${output}; convert it to ${ending} to match the model`;
}

/**
 * Cases of an input folder: v2 names (`CASE_0000`), or for single-channel models any image file (MSD names). Files
 * whose ending is not the model's `file_ending` are skipped, as nnU-Net does, but not silently: one note through
 * `log` gives their count, the first names and the ending expected. Dangling symbolic links under an image name are
 * not segmented and named in one warning (an error when every image is one). Files under its gzip twin (`.nii` for `.nii.gz`,
 * or the reverse) are segmented, read by content (B36), with one note of the same form that also says the ending the
 * outputs are written with (`twinEndingNote`). Hidden files (`.DS_Store`) are skipped without a note.
 * A case whose channel files are not the model's `_0000` ... `_000N` (one missing, one extra) is returned as it is: it
 * fails alone when predicted (`checkPredictChannelFiles`), the others are predicted.
 * @throws DataError naming the folder when it does not exist, when every image in it is a broken symbolic link, when it holds only subfolders (per-case folders, the
 *   KiTS layout: the layout predict reads instead), when no file ends in the model's file_ending (the
 *   ending expected and the files found), when no case has the model's channel files (the first case named), or
 *   when a multi-channel model's files are not named `CASE_XXXX`
 */
export function casesOfFolder(dir: string, ending: string, nChannels: number, log: (message: string) => void = () => {}): DatasetCase[] {
  if (!existsSync(dir)) throw new DataError('input folder not found', { file: dir, hint: `pass -i <folder> with the images to segment (CASE_0000${ending}, ...)` });
  const visible = listFiles(dir).filter((n) => !n.startsWith('.'));
  const matching = visible.filter((n) => stripEnding(n, ending));
  const skipped = visible.filter((n) => !stripEnding(n, ending));
  // dangling links under an image name: `listFiles` does not see them (not files); said, never skipped silently
  const broken = brokenLinks(dir).filter((b) => !b.name.startsWith('.') && stripEnding(b.name, ending));
  if (!matching.length && broken.length) {
    throw new DataError(`every input image is a broken symbolic link: ${broken.slice(0, 5).map((b) => `${b.name} -> ${b.target}`).join(', ')}${broken.length > 5 ? `, and ${broken.length - 5} more` : ''}`, {
      file: dir,
      hint: 'restore the targets (or point the links at the files\' new place, or copy the files here) and run again',
    });
  }
  if (!matching.length && !visible.length) {
    // per-case subfolders (the KiTS layout case_00000/imaging.nii.gz): say so and what predict reads instead
    const folders = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
    if (folders.length) {
      const first = folders[0]!;
      const inner = listFiles(join(dir, first)).find((n) => !n.startsWith('.') && stripEnding(n, ending));
      throw new DataError(`holds no image files, only ${someNames(folders).replace('file(s)', 'folder(s)')}: predict reads the images directly in the -i folder, not in per-case subfolders`, {
        file: dir,
        hint: `put each case's images into one folder as CASE_0000${ending}${nChannels > 1 ? ` ... CASE_${String(nChannels - 1).padStart(4, '0')}${ending}` : ''}${inner ? `, e.g. ${first}/${inner} as ${first}_0000${ending}` : ''} (a link or copy; the input is not modified), and pass that folder as -i`,
      });
    }
  }
  if (!matching.length) {
    const endings = [...new Set(skipped.map(endingOf))].map((e) => `'${e || '(none)'}'`).join(', ');
    throw new DataError(`no input image ends in the model's file_ending '${ending}': ${visible.length ? `found ${someNames(visible)} (ending ${endings})` : 'the folder is empty'}`, {
      file: dir,
      hint: visible.length
        ? `convert the images to ${ending} (the format the model was trained with; e.g. with SimpleITK or ITK-SNAP), named CASE_0000${ending}${nChannels > 1 ? ` ... CASE_${String(nChannels - 1).padStart(4, '0')}${ending}` : ''}`
        : `put the images to segment into it (CASE_0000${ending}, ...)`,
    });
  }
  const twins = matching.filter((n) => stripEnding(n, ending)!.alt);
  const note = () => {
    if (skipped.length) log(`note: ${dir}: skipped ${someNames(skipped)}: their ending is not the model's file_ending '${ending}' (nnU-Net skips them too); convert them to ${ending} to segment them`);
    if (twins.length) log(twinEndingNote(dir, twins, ending));
    if (broken.length) {
      log(`warning: ${dir}: ${broken.length} image(s) are broken symbolic links, not segmented: ${broken.slice(0, 5).map((b) => `${b.name} -> ${b.target}`).join(', ')}${broken.length > 5 ? `, and ${broken.length - 5} more` : ''}; restore their targets (or copy the files here), then run the same command with --continue`);
    }
  };
  const v2 = scanV2Folder(dir, null, ending);
  if (v2.cases.length && !v2.problems.length) {
    // the model's channel count: when no case has it, the whole folder is wrong (said before anything is read or
    // written); otherwise a case with a missing or extra channel file fails alone (checkPredictChannelFiles)
    const fits = (c: DatasetCase) => c.images.length === nChannels && (nChannels === 1 || c.channelIndices!.every((k, i) => k === i));
    const bad = v2.cases.every((c) => !fits(c)) ? v2.cases[0] : undefined;
    if (bad) {
      throw new DataError(`case ${bad.id} has ${bad.images.length} channel file(s) (${bad.images.map((f) => basename(f)).join(', ')}), but the model expects ${nChannels} channel(s)`, {
        file: dir,
        hint: `give each case exactly ${nChannels} file(s) CASE_0000${ending}${nChannels > 1 ? ` ... CASE_${String(nChannels - 1).padStart(4, '0')}${ending}` : ''}, in the model's channel order`,
      });
    }
    note();
    return v2.cases;
  }
  if (nChannels === 1) {
    note();
    return matching.map((n) => ({ id: idOf(n, ending), images: [join(dir, n)] }));
  }
  throw new DataError(`no input images named CASE_0000${ending} ... for the model's ${nChannels} channels`, {
    file: dir,
    hint: `name each case's channel files CASE_0000${ending} ... CASE_${String(nChannels - 1).padStart(4, '0')}${ending}, in the model's channel order; found ${someNames(matching)}`,
  });
}

/**
 * Cases of `predict -i`: a folder (`casesOfFolder`, its note on skipped files through `log`) or one image file of a single-channel model. A case's id, and so
 * its output `<id><file_ending>`, never carries the `_0000` channel suffix, as nnU-Net names its outputs
 * (`<case><file_ending>`), however the inputs are named: a one-channel folder may mix `a_0000.nii.gz` and `b.nii.gz`.
 * @throws DataError as `casesOfFolder`, for one file of a multi-channel model or of another ending than the model's,
 *   and for two files of one case (`a_0000.nii.gz` and `a.nii.gz`)
 */
export function casesOfInput(input: string, ending: string, nChannels: number, log: (message: string) => void = () => {}): DatasetCase[] {
  if (existsSync(input) && statSync(input).isFile()) return [singleFileCase(input, ending, nChannels, log)];
  // a case named after its one file (a plain name, not the CASE_0000 layout) drops the channel suffix
  const cases = casesOfFolder(input, ending, nChannels, log).map((c) => (c.images.length === 1 && idOf(c.images[0]!, ending) === c.id ? { ...c, id: caseIdOf(c.id) } : c));
  return checkUniqueIds(cases, input);
}

/** A one-channel case id without its `_0000` channel suffix (`a_0000` -> `a`; `a`, `a_0001` unchanged). */
function caseIdOf(stem: string): string {
  const p = parseChannelStem(stem);
  return p && p.channel === 0 ? p.id : stem;
}

/**
 * `predict -i <file>`: one image file as the one case of a single-channel model, named as in a folder (`caseIdOf`).
 * A file under the gzip twin of `ending` (`x.nii` for `.nii.gz`) is read by content, with `twinEndingNote` through `log`.
 * @throws DataError for a multi-channel model (its channels are separate files: pass their folder) or another ending
 */
function singleFileCase(file: string, ending: string, nChannels: number, log: (message: string) => void): DatasetCase {
  if (nChannels !== 1) {
    throw new DataError(`the model expects ${nChannels} channels, one file each, but -i is one file`, { file, hint: `pass -i <folder> holding CASE_0000${ending} ... CASE_${String(nChannels - 1).padStart(4, '0')}${ending}` });
  }
  const s = stripEnding(basename(file), ending);
  if (!s) throw new DataError(`not a ${ending} file: the model's dataset.json gives file_ending ${ending}`, { file, hint: `convert it to ${ending}, or pass a folder of ${ending} images` });
  const id = caseIdOf(idOf(file, ending));
  if (s.alt) log(twinEndingNote(file, null, ending, `${id}${ending}`));
  return { id, images: [file] };
}

/**
 * Cases whose ids differ (`a_0000.nii.gz` and `a.nii.gz` are both case `a`: one output each would overwrite the other).
 * @throws DataError naming the files of a case given twice
 */
function checkUniqueIds(cases: DatasetCase[], dir: string): DatasetCase[] {
  const seen = new Map<string, string>();
  for (const c of cases) {
    const other = seen.get(c.id);
    if (other !== undefined) {
      throw new DataError(`${basename(other)} and ${basename(c.images[0]!)} are both case ${c.id}: both would be written to the same output`, { file: dir, hint: 'keep one of the two files in the input folder' });
    }
    seen.set(c.id, c.images[0]!);
  }
  return cases;
}

/**
 * Predict every case of `inDir` (a folder, or one image file: `casesOfInput`) into `outDir` as `<id><file_ending>`;
 * existing outputs are overwritten unless `opts.existing` says otherwise. `outDir` equal to or inside `inDir` is refused.
 * Returns which cases were written and which kept (`PredictedCases`).
 */
export async function predictFolder(
  m: LoadedModel,
  inDir: string,
  outDir: string,
  registry: Registry,
  rep: Reporter,
  opts: PipelinePredictOptions = {},
): Promise<PredictedCases> {
  const ending = m.folder.dataset.file_ending;
  checkOutputFolder(inDir, outDir);
  const cases = casesOfInput(inDir, ending, Object.keys(m.folder.dataset.channel_names).length, (s) => rep.log(s));
  return predictCases(m, cases, outDir, registry, rep, opts);
}

/** The model folders a loaded model uses (a cascade's previous stages included). */
export function modelFoldersOf(m: LoadedModel): ModelFolder[] {
  return m.previous ? [m.folder, ...modelFoldersOf(m.previous.model)] : [m.folder];
}

/**
 * Predict the given cases into `outDir` as `<id><file_ending>` (existing outputs: `opts.existing`).
 * Returns which cases were written and which kept.
 */
export async function predictCases(
  m: LoadedModel,
  cases: DatasetCase[],
  outDir: string,
  registry: Registry,
  rep: Reporter,
  opts: PipelinePredictOptions = {},
): Promise<PredictedCases> {
  const ending = m.folder.dataset.file_ending;
  mkdirSync(outDir, { recursive: true });
  if (opts.saveProbabilities) writeNnunetOutputJsons(outDir, m.folder.dataset, m.folder.plans);
  const resume = new PredictionResume(outDir, opts.existing ?? 'overwrite', opts.existing === 'manifest' ? modelChecksum(modelFoldersOf(m), opts) : '');
  // a case counts as predicted only when every output the options ask for exists
  const also = (id: string): string[] => (opts.saveProbabilities ? [join(outDir, `${id}.npz`), join(outDir, `${id}.pkl`)] : []);
  const todo = cases.filter((c) => !resume.keep(join(outDir, `${c.id}${ending}`), c.id, c.images, also(c.id)));
  // kept outputs are said once; the progress counts the cases left
  if (todo.length < cases.length && opts.logKept !== false) rep.log(`predict: ${cases.length - todo.length} of ${cases.length} case(s) already predicted in ${outDir}, kept; ${todo.length} left`);
  if (opts.estimate !== false && todo.length) {
    // an estimate never stops a prediction
    await estimatePrediction(m, todo, opts, rep, registry).catch((e: unknown) => rep.log(`estimate: unavailable (${(e as Error).message})`));
  }
  const written = new Set<string>();
  const reorient = readerWriterReorients(m.folder.plans.image_reader_writer, join(m.folder.dir, 'plans.json'), (s) => rep.log(s));
  await forEachCase(todo, outDir, rep, 'predict', async (c) => {
    const out = join(outDir, `${c.id}${ending}`);
    if (resume.keep(out, c.id, c.images, also(c.id))) return;
    checkPredictChannelFiles(c, m.folder);
    const { image, reoriented } = await readCase(registry, { id: c.id, images: c.images }, undefined, { reorient });
    await checkPredictInput(c, image, m.folder, registry, (s) => rep.log(s));
    const r = await segmentImageFull(m, image, registry, { ...opts, returnProbabilities: opts.saveProbabilities === true });
    // NibabelIOWithReorient: outputs back on the input's own grid, written with its header
    const grid = reoriented?.original ?? image;
    const back = <T extends Int16Array | Float32Array>(a: T): T => (reoriented ? restoreOrientation(a, grid.shape, reoriented.orientation) : a);
    // the segmentation last: its presence marks a finished case (a full disk while writing the .npz leaves none)
    if (opts.saveProbabilities) writeNnunetProbabilities(join(outDir, c.id), back(r.probabilities!), r.properties, grid);
    await writeSegmentation(registry, out, back(r.seg), grid, ending);
    resume.written(c.id, c.images);
    written.add(c.id);
  }, cases.length - todo.length);
  return splitPredicted(cases, written);
}

/** `PredictedCases` of `cases` (all done: the failed ones were thrown) of which `written` were written. */
export function splitPredicted(cases: DatasetCase[], written: Set<string>): PredictedCases {
  const ids = cases.map((c) => c.id);
  return { ids, written: ids.filter((id) => written.has(id)), kept: ids.filter((id) => !written.has(id)) };
}

/**
 * Run `predictOne` on every case in order, with a progress bar named `label`. A case failing with a user error
 * (`NnunetError`: an unreadable or truncated image, a wrong channel count, a memory limit) is logged and skipped, so
 * one bad image does not cost the cases after it; after the last case one `DataError` lists every failed case (its
 * message names the file; its hint the fix). nnU-Net's predictor stops at the first bad case instead (the exception
 * of its preprocessing worker ends `predict_from_files`); this is our deliberate deviation (cli README, "predict").
 * Outputs stay atomic, so a rerun with `--continue` predicts only the missing cases. Internal errors (bugs) stop at
 * once. With a single case its own error is thrown unchanged (the decathlon predicts one case per job). `kept`: cases
 * of the same folder whose outputs were kept (`--continue`), counted in the final error's totals, not in the progress.
 * @throws DataError listing the failed cases, or the single case's error
 */
export async function forEachCase(cases: DatasetCase[], outDir: string, rep: Reporter, label: string, predictOne: (c: DatasetCase) => Promise<void>, kept = 0): Promise<void> {
  if (!cases.length) return;
  const failed: { id: string; error: NnunetError }[] = [];
  rep.start(label, cases.length);
  let n = 0;
  for (const c of cases) {
    try {
      await predictOne(c);
    } catch (e) {
      if (!(e instanceof NnunetError) || cases.length + kept === 1) throw e;
      failed.push({ id: c.id, error: e });
      rep.log(`${label}: case ${c.id} failed, going on with the others: ${e.message}`);
    }
    rep.update(++n, c.id);
  }
  rep.stop();
  if (!failed.length) return;
  // a full disk's fix is the closing hint (free space, then --continue), not repeated per case
  const lines = failed.map(({ id, error }) => `${id}: ${error.message}${error.hint && !isDiskFull(error) ? `\n      fix: ${error.hint}` : ''}`);
  const all = cases.length + kept;
  const full = failed.filter(({ error }) => isDiskFull(error)).length;
  const fix = full === failed.length ? 'free space on the disk of the output folder' : full ? 'free space on the disk of the output folder, fix or remove the input files named above' : 'fix or remove the input files named above';
  throw new DataError(`${failed.length} of ${all} case(s) could not be predicted (the other ${all - failed.length} are in ${outDir}):\n  ${lines.join('\n  ')}`, {
    hint: `${fix}, then run the same command with --continue: the segmentations already written are kept and only the missing cases are predicted`,
  });
}
