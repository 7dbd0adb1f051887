/**
 * Errors users see. Every error a user can cause carries the file (or item) it is about and what to do.
 * The CLI prints `message` (and `hint`) without a stack trace for these.
 */
export class NnunetError extends Error {
  /** File or item the error is about, when there is one. */
  readonly file?: string;
  /** What the user can do about it. */
  readonly hint?: string;
  constructor(message: string, opts: { file?: string; hint?: string; cause?: unknown } = {}) {
    super(opts.file && !message.includes(opts.file) ? `${opts.file}: ${message}` : message, { cause: opts.cause });
    this.name = 'NnunetError';
    this.file = opts.file;
    this.hint = opts.hint;
  }
}

/** Input data is wrong (file unreadable, geometry mismatch, unexpected labels, ...). */
export class DataError extends NnunetError {
  constructor(message: string, opts: { file?: string; hint?: string; cause?: unknown } = {}) {
    super(message, opts);
    this.name = 'DataError';
  }
}

/**
 * The command line itself is wrong: an option value outside its allowed form or set, options that must go together,
 * a missing choice. Checked before any work and independent of the files; the CLI exits with code 2 for it (as for
 * commander's unknown flags and missing arguments), 1 for every other `NnunetError`.
 */
export class UsageError extends NnunetError {
  constructor(message: string, opts: { hint?: string } = {}) {
    super(message, opts);
    this.name = 'UsageError';
  }
}

/** A plugin was asked for by name and is not registered, or was registered twice. */
export class PluginError extends NnunetError {
  constructor(message: string, opts: { hint?: string } = {}) {
    super(message, opts);
    this.name = 'PluginError';
  }
}
