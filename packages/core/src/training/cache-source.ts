import type { CaseSource } from './case-source.js';

/**
 * The default case source: the preprocessed cache in `dir` (preprocessing's `readPreprocessedCase`, which checks
 * integrity and throws `DataError` naming a corrupt file, B45).
 */
export async function defaultCaseSource(dir: string): Promise<CaseSource> {
  const pre = (await import('../preprocessing/index.js')) as Record<string, unknown>;
  const read = pre['readPreprocessedCase'] as ((d: string, id: string) => unknown) | undefined;
  if (typeof read !== 'function') throw new Error('preprocessing does not provide readPreprocessedCase yet; pass `cases` to trainFold');
  return { load: async (id) => (await read(dir, id)) as Awaited<ReturnType<CaseSource['load']>> };
}
