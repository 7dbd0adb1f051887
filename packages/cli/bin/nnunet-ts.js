#!/usr/bin/env node
// Launcher for the `nnunet-ts` command. It is kept in git (not built) so that `npm ci` links `nnunet-ts` into
// node_modules/.bin at install time, before `npm run build` has created dist/ (npm skips bin entries whose file
// does not exist yet). The command itself is dist/bin.js.
try {
  await import('../dist/bin.js');
} catch (e) {
  if (e && e.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('bin.js')) {
    console.error('nnunet-ts is not built yet: run `npm run build` in the repository root first');
    process.exitCode = 1;
  } else {
    throw e;
  }
}
