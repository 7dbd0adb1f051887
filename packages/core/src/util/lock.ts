import { accessSync, constants, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmdirSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { NnunetError } from './errors.js';

/** Name of the lock file a run keeps in its output folder. */
export const LOCK_FILE = '.nnunet-ts.lock';

/** What a lock file holds (JSON). */
export interface LockInfo {
  pid: number;
  hostname: string;
  /** The command line that holds the lock, for the message a second run prints. */
  command: string;
  /** ISO time the lock was taken. */
  started: string;
}

/** Options for `acquireFolderLock`. */
export interface FolderLockOptions {
  /** Shown to a second run ("held by <command>"). Default: this process's argv. */
  command?: string;
  /**
   * A lock taken on another host counts as stale when its file was not touched for this long (ms). The holder
   * touches the file every `staleMs / 4`. Default 10 minutes. On the same host the rule is exact: the lock is
   * stale when its process no longer exists.
   */
  staleMs?: number;
  /** Told when a stale lock is taken over (default: stderr). */
  log?: (message: string) => void;
}

/** A held lock: `release()` removes the lock file (idempotent). */
export interface FolderLock {
  file: string;
  release(): void;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

function readLock(file: string): LockInfo | null {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
    return typeof v.pid === 'number' && typeof v.hostname === 'string' ? v : null;
  } catch {
    return null;
  }
}

/**
 * Why the lock in `file` is stale, or null when its holder may still be running. Same host: stale when the
 * recorded pid is not alive. Other host (a shared network folder): stale when the file's mtime is older than
 * `staleMs`. An unreadable lock file (killed between create and write) is stale once it is 10 s old.
 */
function staleReason(file: string, info: LockInfo | null, staleMs: number): string | null {
  let age: number;
  try {
    age = Date.now() - statSync(file).mtimeMs;
  } catch {
    return 'gone';
  }
  if (!info) return age > 10_000 ? 'unreadable lock file' : null;
  if (info.hostname === hostname()) return pidAlive(info.pid) ? null : `process ${info.pid} no longer exists`;
  return age > staleMs ? `not refreshed for ${Math.round(age / 1000)} s` : null;
}

function tryCreate(file: string, info: LockInfo): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    writeSync(fd, JSON.stringify(info));
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Take the lock of an output folder (`<folder>/.nnunet-ts.lock`, created with O_EXCL) so that two runs never write
 * into one folder at once. A lock left by a killed run is taken over (see `staleReason`: pid + hostname, and mtime
 * for other hosts); the takeover itself is serialised by a second O_EXCL file so two starting runs cannot both take
 * over. Creates the folder (removed again on release if it stayed empty). The lock is released by `release()` and, as a fallback, on normal process exit.
 * @throws NnunetError naming the folder, the holder's pid, host, start time and command, and the fix, when another
 * live run holds the lock; or when the folder cannot be written (read-only, permissions).
 */
export function acquireFolderLock(folder: string, opts: FolderLockOptions = {}): FolderLock {
  const dir = resolve(folder);
  const file = join(dir, LOCK_FILE);
  const staleMs = opts.staleMs ?? 10 * 60_000;
  const info: LockInfo = { pid: process.pid, hostname: hostname(), command: opts.command ?? process.argv.slice(1).join(' '), started: new Date().toISOString() };
  try {
    const created = !existsSync(dir);
    mkdirSync(dir, { recursive: true });
    for (let attempt = 0; attempt < 3; attempt++) {
      if (tryCreate(file, info)) return held(file, staleMs, created ? dir : null);
      const other = readLock(file);
      const why = staleReason(file, other, staleMs);
      if (why === null) throw busy(dir, file, other);
      takeOver(file, other, why, staleMs, opts.log ?? ((m) => process.stderr.write(`${m}\n`)));
    }
  } catch (e) {
    if (e instanceof NnunetError) throw e;
    const code = writableCode(dir) ?? (e as NodeJS.ErrnoException).code ?? '';
    throw new NnunetError(`cannot lock the output folder ${dir} (${code || (e as Error).message})`, {
      file: dir,
      hint: ['EROFS', 'EACCES', 'EPERM'].includes(code) ? 'the output folder is not writable (read-only file system or permissions): choose a writable folder' : code === 'ENOTDIR' ? 'a part of the output path is a file, not a folder: choose another output path' : 'check the output folder path',
      cause: e,
    });
  }
  throw busy(dir, file, readLock(file));
}

/**
 * Why `dir` (or, when it does not exist yet, its nearest existing ancestor) cannot be written: an errno code
 * (EROFS, EACCES, ENOTDIR) or null. (Node's recursive mkdir reports ENOENT on a read-only file system.)
 */
function writableCode(dir: string): string | null {
  let d = dir;
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  try {
    accessSync(d, constants.W_OK);
    return statSync(d).isDirectory() ? null : 'ENOTDIR';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? null;
  }
}

/** Remove a stale lock, holding `<lock>.takeover` (O_EXCL) so only one waiting run does it. */
function takeOver(file: string, stale: LockInfo | null, why: string, staleMs: number, log: (m: string) => void): void {
  const guard = `${file}.takeover`;
  const me: LockInfo = { pid: process.pid, hostname: hostname(), command: 'takeover', started: new Date().toISOString() };
  if (!tryCreate(guard, me)) {
    const g = readLock(guard);
    if (staleReason(guard, g, staleMs) === null) return; // another run is taking over right now; retry
    rmSync(guard, { force: true });
    if (!tryCreate(guard, me)) return;
  }
  try {
    const now = readLock(file);
    // still the same stale holder (not a fresh lock another run created meanwhile)?
    if (JSON.stringify(now) === JSON.stringify(stale) && staleReason(file, now, staleMs) !== null) {
      log(`note: took over the stale lock ${file} (${why})`);
      rmSync(file, { force: true });
    }
  } finally {
    rmSync(guard, { force: true });
  }
}

function busy(dir: string, file: string, other: LockInfo | null): NnunetError {
  const who = other ? `process ${other.pid} on ${other.hostname}, started ${other.started}: ${other.command}` : 'another run';
  return new NnunetError(`the output folder ${dir} is in use by ${who}`, {
    file: dir,
    hint: `wait for that run to finish or stop it (two runs must not write into one folder); if no such run exists, delete ${file}`,
  });
}

/** A held lock; `createdDir` (the folder the lock created) is removed on release when it is still empty. */
function held(file: string, staleMs: number, createdDir: string | null): FolderLock {
  let released = false;
  const timer = setInterval(() => {
    try {
      const t = new Date();
      utimesSync(file, t, t);
    } catch {
      /* the folder may have been removed; nothing to refresh */
    }
  }, Math.max(1000, staleMs / 4));
  timer.unref();
  const release = (): void => {
    if (released) return;
    released = true;
    clearInterval(timer);
    process.off('exit', release);
    const cur = readLock(file);
    if (cur && cur.pid === process.pid && cur.hostname === hostname() && existsSync(file)) rmSync(file, { force: true });
    if (createdDir) {
      try {
        rmdirSync(createdDir); // only succeeds when empty: a verb that failed early leaves no folder behind
      } catch {
        /* not empty: keep it */
      }
    }
  };
  process.on('exit', release);
  return { file, release };
}
