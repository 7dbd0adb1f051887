import { join } from 'node:path';
import type { DatasetJson, Plans } from '../contracts/plans.js';
import { headerDimensions, type Geometry } from '../image/image.js';
import type { CaseProperties } from '../preprocessing/types.js';
import { writeFileAtomicSync } from '../evaluation/summary.js';
import { writeNpz } from '../probabilities/npz.js';
import { pickleDumps } from '../probabilities/pickle-writer.js';
import { nnunetPropertiesPickle } from '../probabilities/properties-pkl.js';
import { writeJson } from './json-io.js';

/**
 * nnU-Net's `--save_probabilities` files for one case (`export_prediction_from_logits`): `<base>.npz` holding
 * `probabilities` (float32 `[K, z, y, x]` on the input image's grid; softmax, or sigmoid per region) and
 * `<base>.pkl` (see `nnunetPropertiesPickle`; its `sitk_stuff` is 2D for a 2D input file: `image.header` says so,
 * `headerDimensions`, and the image is one slice with a 2D geometry, as SimpleITKIO reads such a file; the npz keeps
 * its slice axis, `[K, 1, y, x]`, as nnU-Net's). Both written atomically.
 * @param probabilities `[K, z, y, x]` with `z*y*x` the input image's voxel count
 */
export function writeNnunetProbabilities(base: string, probabilities: Float32Array, properties: CaseProperties, image: Geometry & { shape: readonly number[]; header?: unknown }): void {
  const sp = image.shape.slice(1);
  const n = sp[0]! * sp[1]! * sp[2]!;
  writeNpz(`${base}.npz`, { probabilities: { descr: '<f4', data: probabilities, shape: [probabilities.length / n, ...sp] } });
  const d = image.direction;
  const flat = sp[0] === 1 && image.origin[2] === 0 && d[2] === 0 && d[5] === 0 && d[6] === 0 && d[7] === 0 && d[8] === 1;
  writeFileAtomicSync(`${base}.pkl`, pickleDumps(nnunetPropertiesPickle(properties, image, headerDimensions(image.header) === 2 && flat ? 2 : 3)));
}

/** `dataset.json` and `plans.json` of the model in a prediction folder, as nnU-Net's predictor writes them (ensembling reads them). */
export function writeNnunetOutputJsons(dir: string, dataset: DatasetJson, plans: Plans): void {
  writeJson(join(dir, 'dataset.json'), dataset);
  writeJson(join(dir, 'plans.json'), plans);
}
