/** Postprocessing plugin (RULES.md §19): operates on a label map `[z, y, x]` (Int16/Uint8) in place. */
export interface Postprocessor {
  name: string;
  /** Apply to a prediction. `shape` is `[z, y, x]`. `options` come from postprocessing.json. */
  apply(seg: Int16Array, shape: number[], options: Record<string, unknown>): Int16Array;
}
