import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The read-only shared data folder: `$NNUNET_SHARED`, else `../shared` beside the checkout (where CI puts it).
 * Tests that need it call `requireShared()`, which throws (fails the test) when it is missing rather than skipping.
 */
export const SHARED_DIR = process.env.NNUNET_SHARED ?? resolve(REPO_ROOT, '..', 'shared');

/** Absolute path inside shared/; throws a clear error when shared/ is absent. */
export function sharedPath(...parts: string[]): string {
  if (!existsSync(SHARED_DIR)) {
    throw new Error(`shared data folder not found at ${SHARED_DIR}; set NNUNET_SHARED to its location`);
  }
  return resolve(SHARED_DIR, ...parts);
}

/** The embedded example task. */
export const EXAMPLE_TASK = resolve(REPO_ROOT, 'examples', 'Task04_Hippocampus_subset');
