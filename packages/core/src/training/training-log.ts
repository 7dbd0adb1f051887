import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Plans } from '../contracts/plans.js';
import type { ProgressLog } from './checkpoint.js';
import { writeError } from '../util/atomic.js';

/**
 * Python's `repr` of a float as numpy/str prints it: shortest round-trip digits, `.0` on integral values,
 * scientific notation with a two-digit exponent below 1e-4 or from 1e16 (`1e-05`), `nan`, `inf`.
 */
export function pyFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const a = Math.abs(x);
  if (a < 1e-4 || a >= 1e16) {
    const [m, e] = x.toExponential().split('e') as [string, string];
    const exp = Number(e);
    return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}

/** `np.round(x, decimals)` (half to even is ignored: ties at the 5th decimal are rare and only change display). */
export function npRound(x: number, decimals: number): number {
  const f = 10 ** decimals;
  return Number.isFinite(x) ? Math.round(x * f) / f : x;
}

/**
 * Python's `repr` of JSON-like data (dicts `{'k': v}`, lists, `True`/`False`/`None`, strings in single quotes).
 * Numbers: JSON does not keep `1.0` apart from `1`, so integral numbers print as ints.
 */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : pyFloat(v);
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `str(datetime)` in local time with microseconds (`2026-12-06 08:13:12.043990`). */
function pyDatetime(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds() * 1000, 6)}`;
}

const CITATION = '\n#######################################################################\n'
  + 'Please cite the following paper when using nnU-Net:\n'
  + 'Isensee, F., Jaeger, P. F., Kohl, S. A., Petersen, J., & Maier-Hein, K. H. (2021). nnU-Net: a self-configuring method for deep learning-based biomedical image segmentation. Nature methods, 18(2), 203-211.\n'
  + '#######################################################################\n';

/**
 * The `training_log_<Y>_<M>_<D>_<hh>_<mm>_<ss>.txt` that nnU-Net v2's trainer writes into the fold folder
 * (nnunetv2/training/nnUNetTrainer/nnUNetTrainer.py: `print_to_log_file`, `print_plans`, `on_train_epoch_start`,
 * `on_epoch_end`): each line `<datetime>: <arg> <arg> ... ` with every argument followed by a space, appended as it
 * happens (one new file per training start, resumed runs included, as nnU-Net). Numbers as numpy prints them.
 */
export class NnunetTrainingLog {
  /** Path of the log file. */
  readonly file: string;
  private readonly now: () => Date;

  /** `start`: when training starts (the file name's time, local as Python's `datetime.now()`). */
  constructor(foldDir: string, start = new Date(), now: () => Date = () => new Date()) {
    const t = start;
    this.file = join(foldDir, `training_log_${t.getFullYear()}_${t.getMonth() + 1}_${t.getDate()}_${pad(t.getHours())}_${pad(t.getMinutes())}_${pad(t.getSeconds())}.txt`);
    this.now = now;
    mkdirSync(foldDir, { recursive: true });
  }

  /** One `print_to_log_file(*args)` call: timestamped unless `timestamp` is false. */
  print(args: unknown[], timestamp = true): void {
    const parts = (timestamp ? [`${pyDatetime(this.now())}:`, ...args] : args).map((a) => (typeof a === 'string' ? a : pyRepr(a)));
    try {
      appendFileSync(this.file, parts.map((p) => `${p} `).join('') + '\n');
    } catch (e) {
      throw writeError(e, this.file); // a full disk names the log file and the fix
    }
  }

  /**
   * What nnU-Net writes before the first epoch: the citation, `do_dummy_2d_data_aug`, the fold and split sizes,
   * the configuration and the global plans settings (plans without `configurations`).
   */
  header(o: { doDummy2D: boolean; fold: number | 'all'; nTrain: number; nVal: number; configuration: string; plans: Plans }): void {
    this.print([CITATION], false);
    this.print([`do_dummy_2d_data_aug: ${o.doDummy2D ? 'True' : 'False'}`]);
    this.print([`Desired fold for training: ${o.fold}`]);
    this.print([`This split has ${o.nTrain} training and ${o.nVal} validation cases.`]);
    const { configurations, ...global } = o.plans as Plans & Record<string, unknown>;
    const config = (configurations as Record<string, unknown> | undefined)?.[o.configuration] ?? {};
    this.print([`\nThis is the configuration used by this training:\nConfiguration name: ${o.configuration}\n`, pyRepr(config), '\n'], false);
    this.print(['These are the global plan.json settings:\n', pyRepr(global), '\n'], false);
  }

  /** `on_train_epoch_start`: an empty line, the epoch, the learning rate rounded to 5 decimals. */
  epochStart(epoch: number, lr: number): void {
    this.print(['']);
    this.print([`Epoch ${epoch}`]);
    this.print([`Current learning rate: ${pyFloat(npRound(lr, 5))}`]);
  }

  /** `on_epoch_end` for the last logged epoch: losses, pseudo Dice per class, epoch time, and a new best EMA when there is one. */
  epochEnd(log: ProgressLog, newBestEma: number | null): void {
    const last = <T>(a: T[]) => a[a.length - 1]!;
    this.print(['train_loss', pyFloat(npRound(last(log.train_losses), 4))]);
    this.print(['val_loss', pyFloat(npRound(last(log.val_losses) ?? NaN, 4))]);
    this.print(['Pseudo dice', `[${last(log.dice_per_class_or_region).map((d) => pyFloat(npRound(d, 4))).join(', ')}]`]);
    this.print([`Epoch time: ${pyFloat(npRound(last(log.epoch_end_timestamps) - last(log.epoch_start_timestamps), 2))} s`]);
    if (newBestEma !== null) this.print([`Yayy! New best EMA pseudo Dice: ${pyFloat(npRound(newBestEma, 4))}`]);
  }
}
