import { join, resolve } from 'node:path';

/** nnU-Net trainer and plans names used in result folder names. */
export const TRAINER_NAME = 'nnUNetTrainer';
export const PLANS_NAME = 'nnUNetPlans';

/**
 * Output folder layout of a run (nnU-Net's spirit, one dataset per run folder):
 * ```
 * <out>/nnUNet_raw/<DatasetXXX_Name>/                       converted input (MSD tasks only)
 * <out>/nnUNet_preprocessed/{dataset.json, dataset_fingerprint.json, nnUNetPlans.json, splits_final.json}
 * <out>/nnUNet_preprocessed/<configuration>/                preprocessed cases
 * <out>/nnUNet_results/<trainer>__<plans>__<configuration>/  model folder: plans.json, dataset.json,
 *                                                           dataset_fingerprint.json, fold_x/, postprocessing.json
 * <out>/predictions/                                        test-set predictions
 * <out>/summary.json                                        evaluation against labelsTs
 * <out>/run.json                                            input task and (converted) dataset folder
 * <out>/dataset_record.json                                 the dataset the derived state was made from (checkRunDataset)
 * ```
 */
export function runLayout(out: string) {
  const root = resolve(out);
  const pre = join(root, 'nnUNet_preprocessed');
  return {
    root,
    raw: join(root, 'nnUNet_raw'),
    preprocessed: pre,
    fingerprint: join(pre, 'dataset_fingerprint.json'),
    plans: join(pre, `${PLANS_NAME}.json`),
    datasetJson: join(pre, 'dataset.json'),
    splits: join(pre, 'splits_final.json'),
    configurationData: (configuration: string) => join(pre, configuration),
    results: join(root, 'nnUNet_results'),
    modelDir: (configuration: string) => join(root, 'nnUNet_results', `${TRAINER_NAME}__${PLANS_NAME}__${configuration}`),
    bestModel: join(root, 'nnUNet_results', 'inference_information.json'),
    predictions: join(root, 'predictions'),
    summary: join(root, 'summary.json'),
    /** `{ task, dataset }`: the input and the (converted) dataset folder of this run. */
    runInfo: join(root, 'run.json'),
    /** `DatasetRecord`: dataset.json identity and every training file (size, mtime, sha256); see `checkRunDataset`. */
    datasetRecord: join(root, 'dataset_record.json'),
  };
}
export type RunLayout = ReturnType<typeof runLayout>;
