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

/** A plugin was asked for by name and is not registered, or was registered twice. */
export class PluginError extends NnunetError {
  constructor(message: string, opts: { hint?: string } = {}) {
    super(message, opts);
    this.name = 'PluginError';
  }
}
