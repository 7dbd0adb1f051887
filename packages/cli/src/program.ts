import { existsSync, writeSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { NnunetError, UsageError, acquireFolderLock, checkConvertOutputFolder, checkMsdOutputName, fileSystemError, type FolderLock } from '@nnunet-ts/core';
import { addCommands, type Io } from './commands.js';

/** The `nnunet-ts` command line (commander), verbs in `commands.ts`. */
export function createProgram(io: Io = { out: (s) => process.stdout.write(s + '\n') }): Command {
  const program = new Command('nnunet-ts')
    .description('nnU-Net for Node: self-configuring medical image segmentation')
    .version('0.1.0')
    .showHelpAfterError('(see: nnunet-ts --help)')
    .exitOverride();
  addCommands(program, io);
  // a wrong command line prints its error and where the options are listed, not the verb's whole help
  for (const verb of program.commands) verb.showHelpAfterError(`(see: nnunet-ts ${verb.name()} --help)`);
  return program;
}

/** Verbs that write into an output folder, and the option naming it (a `.json` value is a file: not locked). */
const WRITING_VERBS: Record<string, string> = {
  'convert-msd': 'out', fingerprint: 'out', plan: 'out', preprocess: 'out', train: 'out', 'find-best': 'out', decathlon: 'out', predict: 'output', ensemble: 'output',
  // slurm writes the run's raw data, plans and job graph (not `job`: the tasks of a SLURM array run at once on one run)
  slurm: 'out',
};

/**
 * Lock the output folder of a writing verb before it runs (`acquireFolderLock`: a second run on the same folder
 * refuses with the holder's pid and command; a lock left by a killed run is taken over). Locks are pushed to `held`.
 */
function lockOutputFolder(program: Command, held: FolderLock[], argv: string[]): void {
  program.hook('preAction', (_root, action) => {
    const key = WRITING_VERBS[action.name()];
    const folder = key ? (action.opts() as Record<string, unknown>)[key] : undefined;
    if (typeof folder !== 'string' || folder.toLowerCase().endsWith('.json')) return;
    if (action.name() === 'find-best' && !existsSync(folder)) return; // reads an existing run: the verb reports it missing
    // a queued run is written by its workers, coordinated by the queue's job ids; a second submit attaches to it
    if (action.name() === 'decathlon' && (action.opts() as { queue?: string }).queue) return;
    // the lock file must not land inside the task folder convert-msd reads (the input is never modified)
    if (action.name() === 'convert-msd' && typeof action.args[0] === 'string') {
      checkConvertOutputFolder(action.args[0], folder);
      // a misnamed -o (Dataset4_X) is refused before the lock creates it
      checkMsdOutputName(action.args[0], folder, (action.opts() as { id?: number }).id);
    }
    // the handlers first: a signal arriving just after the lock file is created must already remove it
    interruptVerb = { verb: action.name(), continued: (action.opts() as { continue?: boolean }).continue === true };
    for (const [signal, handler] of signalHandlers) process.once(signal, handler);
    held.push(acquireFolderLock(folder, { command: `nnunet-ts ${argv.join(' ')}` }));
  });
}

/**
 * What Ctrl-C (SIGINT) or a stop signal (`signal`: SIGTERM from `docker stop`, SLURM's time limit or `timeout`;
 * SIGHUP when the terminal closes) during the writing verb `verb` prints (one line, starting and ending with a
 * newline so that it stands on its own line after a progress bar and before the shell prompt). Outputs are written
 * atomically and checkpoints kept, so the same command resumes; but `predict` overwrites existing segmentations
 * unless `--continue` is given (`continued`: the interrupted command had it), so there the advice names the flag.
 */
export function interruptMessage(verb: string, continued = false, signal: NodeJS.Signals = 'SIGINT'): string {
  const what = signal === 'SIGINT' ? 'interrupted' : `stopped by ${signal}`;
  if (verb === 'predict' && !continued)
    return `\n${what}: segmentations already written are kept; run the same command with --continue to predict only the missing cases (without it, predict writes every case again)\n`;
  return `\n${what}: outputs already written are kept; run the same command again to resume\n`;
}

/** Exit code for a verb ended by `signal`: 128 + its number, as a shell reports a process killed by it (130, 143, 129). */
export const SIGNAL_EXIT_CODES: Readonly<Record<'SIGINT' | 'SIGTERM' | 'SIGHUP', number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

let interruptVerb = { verb: '', continued: false };

/**
 * A signal during a writing verb: print `interruptMessage` (written synchronously: the process exits next) and exit
 * with 128 + the signal's number. Exiting runs the lock's `exit` handler, so `.nnunet-ts.lock` is removed (without a
 * handler, SIGTERM and SIGHUP end the process at once and leave the lock behind). On a terminal the cursor is shown
 * again first: the progress bar hides it (cli-progress `hideCursor`) and, exiting here, would not restore it.
 */
function onSignal(signal: keyof typeof SIGNAL_EXIT_CODES): void {
  try {
    writeSync(2, (process.stderr.isTTY ? '\x1b[?25h' : '') + interruptMessage(interruptVerb.verb, interruptVerb.continued, signal));
  } catch {
    /* SIGHUP: the terminal may be gone (EIO); the exit and the lock's removal matter more */
  }
  process.exit(SIGNAL_EXIT_CODES[signal]);
}

/** One handler per signal (installed while a writing verb holds its lock, removed after it). */
const signalHandlers: [NodeJS.Signals, () => void][] = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, () => onSignal(s)]);

/** Where the options of the verb in `argv` are listed, for a usage error (commander prints the help itself). */
function usageOf(argv: string[]): string {
  const verb = argv.find((a) => !a.startsWith('-'));
  return `see: nnunet-ts ${verb ?? ''}${verb ? ' ' : ''}--help`;
}

/**
 * Run the CLI with `argv` (without `node` and the script), returning the exit code instead of exiting (the codes are
 * listed in packages/cli/README.md): 0 on success; 2 for a wrong command line, the same for every verb: commander's
 * unknown verb or flag, missing argument or required option, and `UsageError` (an option value outside its form or
 * set, options that go together), each checked before any work; 1 for every other error a user can fix
 * (`NnunetError`: files, data, the run folder, locks, disk; one message with its hint, no stack trace);
 * 3 for internal errors (printed with their stack).
 */
export async function runCli(argv: string[], io?: Io, err: (s: string) => void = (s) => process.stderr.write(s + '\n')): Promise<number> {
  const program = createProgram(io);
  const locks: FolderLock[] = [];
  lockOutputFolder(program, locks, argv);
  try {
    // nnU-Net spells the checkpoint flag `-chk`; commander short flags are one letter, so it is an alias here.
    await program.parseAsync(argv.map((a) => (a === '-chk' ? '--checkpoint' : a)), { from: 'user' });
    return 0;
  } catch (caught) {
    if (caught instanceof CommanderError) return caught.exitCode === 0 ? 0 : 2;
    // a disk full / read-only / permission error of a plain fs call (a copy, rename, mkdir, append) names its file
    const e = fileSystemError(caught);
    if (e instanceof NnunetError) {
      // a usage error without a hint is one line: the error and where the verb's options are listed
      const usage = e instanceof UsageError ? `(${usageOf(argv)})` : '';
      err(`error: ${e.message}${usage && !e.hint ? ` ${usage}` : ''}`);
      if (e.hint) err(`hint: ${e.hint}`);
      if (usage && e.hint) err(usage);
      return e instanceof UsageError ? 2 : 1;
    }
    err(`internal error: ${(e as Error)?.stack ?? String(e)}`);
    return 3;
  } finally {
    for (const [signal, handler] of signalHandlers) process.removeListener(signal, handler);
    for (const l of locks) l.release();
  }
}
