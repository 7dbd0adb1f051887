import { preprocessedCasePath, readPreprocessedCase } from '../preprocessing/cache.js';
import { DataError } from '../util/errors.js';
import type { CaseSource } from './case-source.js';

/**
 * The default case source: the preprocessed cache in `dir` (`readPreprocessedCase` verifies size and checksum and
 * throws `DataError` naming a corrupt file, B45). A missing case file becomes a `DataError` naming it too.
 */
export async function defaultCaseSource(dir: string): Promise<CaseSource> {
  return {
    async load(id) {
      try {
        return await readPreprocessedCase(dir, id);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new DataError(`preprocessed case '${id}' is missing`, { file: preprocessedCasePath(dir, id), hint: 'run preprocessing for this configuration first', cause: e });
        }
        throw e;
      }
    },
  };
}
