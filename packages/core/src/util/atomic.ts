import { closeSync, fsyncSync, mkdirSync, openSync, promises as fs, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { NnunetError } from './errors.js';

/** Error codes that mean "the output could not be written" and what the user can do about each. */
const WRITE_FAULTS: Record<string, string> = {
  ENOSPC: 'the disk is full: free space (or choose another output folder) and rerun the same command; it resumes',
  EDQUOT: 'the disk quota is exhausted: free space (or choose another output folder) and rerun the same command',
  EROFS: 'the output folder is on a read-only file system: choose a writable output folder',
  EACCES: 'no write permission on the output folder: fix its permissions or choose another output folder',
  EPERM: 'the operation is not permitted on the output folder: fix its permissions or choose another output folder',
  ENOTDIR: 'a path component of the output is a file, not a folder: choose another output path',
  EISDIR: 'the output path is a folder: remove it or choose another output path',
  EMFILE: 'too many open files: raise the limit (ulimit -n) and rerun',
  EIO: 'an I/O error occurred on the output device: check the disk and rerun',
};

/**
 * A user-facing `NnunetError` for a failed write of `file` (disk full, read-only folder, no permission, ...),
 * naming the file, the errno code and the fix. Other errors are returned unchanged.
 */
export function writeError(e: unknown, file: string): unknown {
  if (e instanceof NnunetError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const hint = code ? WRITE_FAULTS[code] : undefined;
  if (!hint) return e;
  return new NnunetError(`cannot write ${file} (${code}: ${(e as Error).message.replace(/^\w+: /, '').split(',')[0]})`, { file, hint, cause: e });
}

/** Errno codes of a full disk or an exhausted quota (freeing space and rerunning helps). */
export const DISK_FULL_CODES: readonly string[] = ['ENOSPC', 'EDQUOT'];

/** True when `e` (or the error it wraps, as `writeError` does) is a full disk or an exhausted quota. */
export function isDiskFull(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code ?? ((e as { cause?: NodeJS.ErrnoException } | undefined)?.cause)?.code;
  return typeof code === 'string' && DISK_FULL_CODES.includes(code);
}

/** System calls that read (an EACCES/EPERM from one of them is not about writing). */
const READ_CALLS = new Set(['open', 'read', 'scandir', 'stat', 'lstat', 'access', 'opendir', 'readlink']);

/**
 * A file-system error thrown by a plain `node:fs` call outside `writeFileAtomic` (`copyFileSync`, `renameSync`,
 * `mkdirSync`, `appendFileSync`, a stream) as the user-facing `NnunetError` of `writeError`, naming the file the call
 * failed on (`dest` of a copy or rename, else `path`): disk full, quota, read-only, no permission, ... . An
 * EACCES/EPERM from a reading call (`open`, `scandir`, `stat`, ...) says "cannot access" (the file may be an input).
 * Other errors (and errors without a path) are returned unchanged. The CLI applies it to every error of a verb.
 */
export function fileSystemError(e: unknown): unknown {
  if (e instanceof NnunetError) return e;
  const x = e as (NodeJS.ErrnoException & { dest?: string }) | undefined;
  const file = x?.dest ?? x?.path;
  if (!file || !x?.code || !WRITE_FAULTS[x.code]) return e;
  if (READ_CALLS.has(x.syscall ?? '')) {
    if (x.code === 'EACCES' || x.code === 'EPERM') {
      return new NnunetError(`cannot access ${file} (${x.code}: ${x.message.replace(/^\w+: /, '').split(',')[0]})`, { file, hint: 'fix the permissions of the file and its folder (inputs must be readable, output folders writable), or choose another output folder', cause: e });
    }
    // a missing folder or a folder for a file on a read may be an input's fault: left to the caller
    if (x.code === 'ENOTDIR' || x.code === 'EISDIR') return e;
  }
  return writeError(e, file);
}

/** Name of a temporary sibling of `file`: hidden, unique per process and call, ends in `.tmp`. */
export function tempSibling(file: string): string {
  return join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Write a file atomically: the bytes go to a hidden temporary sibling (`tempSibling`), are flushed to disk (fsync),
 * then the temporary file is renamed over `path` (POSIX rename is atomic within one file system). A reader never
 * sees a partial file under `path`: it sees the old content or the new one. On any failure the temporary file is
 * removed and the error is rethrown; disk full, read-only and permission errors become an `NnunetError` naming the
 * file and the fix (`writeError`). Creates the parent folder.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempSibling(path);
  try {
    await fs.mkdir(dirname(path), { recursive: true });
    const fh = await fs.open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw writeError(e, path);
  }
}

/**
 * Write files that belong together (a checkpoint's `.bin` and the `.json` holding its checksum): every file goes to
 * its temporary sibling and is flushed first, then all are renamed over their paths back to back, in order, with no
 * await between the renames. A kill while writing leaves every old file in place; only a kill between two
 * consecutive rename calls (microseconds) can leave a mixed set, which a checksum in the last file detects.
 * Errors as {@link writeFileAtomic}.
 */
export async function writeFilesAtomic(files: { path: string; data: string | Uint8Array }[]): Promise<void> {
  const tmps = files.map((f) => tempSibling(f.path));
  try {
    for (const [i, f] of files.entries()) {
      await fs.mkdir(dirname(f.path), { recursive: true });
      const fh = await fs.open(tmps[i]!, 'w');
      try {
        await fh.writeFile(f.data);
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    files.forEach((f, i) => renameSync(tmps[i]!, f.path));
  } catch (e) {
    await Promise.all(tmps.map((t) => fs.rm(t, { force: true }).catch(() => undefined)));
    throw writeError(e, files[0]?.path ?? '');
  }
}

/** Synchronous `writeFileAtomic` (same guarantees and errors). */
export function writeFileAtomicSync(path: string, data: string | Uint8Array): void {
  const tmp = tempSibling(path);
  try {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(tmp, 'w');
    try {
      const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      /* the folder itself may be unwritable */
    }
    throw writeError(e, path);
  }
}

/** True for the names `tempSibling` (and the older `<file>.tmp-<pid>-<n>` scheme) produce: leftovers of a killed run. */
export function isTempName(name: string): boolean {
  return /^\..+\.\d+\.[0-9a-f]{8}\.tmp$/.test(name) || /\.tmp-\d+(-[0-9a-z]+)?$/.test(name);
}
