import type { CaseSource, PreprocessedCaseData } from '../training/case-source.js';
import { predictPreprocessed, type PredictOptions, type PredictorModel } from './sliding-window.js';

/**
 * Predict a fold's validation cases in preprocessed space (RULES.md §18 sliding window with TTA) and hand each result to
 * `onCase` (the pipeline exports it to the original grid with `exportPrediction(logits, [K, ...shape], properties, ...)`
 * and evaluates it). Cases run one after another in the given order; logits are `[K, z, y, x]` float32.
 */
export async function predictValidation(o: {
  model: PredictorModel;
  ids: string[];
  cases: CaseSource;
  onCase: (id: string, logits: Float32Array, logitsShape: number[], c: PreprocessedCaseData) => Promise<void> | void;
  predict?: PredictOptions;
}): Promise<void> {
  for (const id of o.ids) {
    const c = await o.cases.load(id);
    const logits = await predictPreprocessed(o.model, c.data, c.shape, o.predict);
    await o.onCase(id, logits, [o.model.numClasses, ...c.shape.slice(1)], c);
  }
}
