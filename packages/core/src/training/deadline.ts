/**
 * Keeping a fold's training inside a time budget (`--time-budget`, the `quick` preset) while it runs.
 *
 * The plan made under a time budget (`costmodel/time-budget.ts`) rests on a calibration taken before training; a
 * machine whose load rises afterwards (a shared CI runner, a laptop doing other work) runs slower than calibrated,
 * and the run would end late. With a deadline, the trainer watches the wall clock: after each epoch it shortens the
 * schedule to the epochs that still fit (the poly learning rate then decays over the shorter schedule), and within
 * the last epoch it stops before an iteration that would end after the deadline. It never goes below
 * `minIterations` training iterations. nnU-Net has no time budget; without a deadline nothing changes (nnU-Net's
 * fixed `num_epochs` x `num_iterations_per_epoch`). An extension of nnunet-ts.
 */

/** The wall-clock limit of one fold's training. */
export interface TrainingDeadline {
  /** Wall-clock time (`Date.now()`, ms) by which the fold's training, its validation iterations and checkpoints included, should end. */
  endsAt: number;
  /** Fewest training iterations the fold runs whatever the clock says (the budget's `minIterations`), >= 1. */
  minIterations: number;
}

/** What the clock decided, written into the checkpoints (`time_budget_stop`) and the log. */
export interface DeadlineStop {
  /** Epochs of the shortened schedule (the plans' `num_epochs` is kept in the checkpoint). */
  epochs: number;
  /** Training iterations run in the last epoch when it was cut short, else the epoch's full count. */
  lastEpochIterations: number;
  /** Training iterations run in all, over the planned epochs x iterations. */
  iterations: number;
  plannedIterations: number;
}

/**
 * Wall-time bookkeeping of a fold's training against a {@link TrainingDeadline}: seconds per training iteration and
 * per epoch overhead (validation iterations, checkpoints, plots) as measured in this process.
 */
export class DeadlineClock {
  private iterationSeconds = 0;
  private iterationsTimed = 0;
  /** The first iteration timed in this process (warm-up: JIT, first allocations, the data workers' start), s. */
  private firstIteration: number | null = null;
  private overheadSeconds: number | null = null;
  /** Epoch ends measured in this process (the first one carries one-time warm-up). */
  private epochsMeasured = 0;

  /**
   * @param deadline the limit; undefined: every query answers "go on"
   * @param iterationsPerEpoch training iterations of a full epoch
   * @param iterationsDone training iterations already run (a resumed fold)
   * @param validationIterations validation iterations at the end of each epoch: until an epoch end is measured, each
   *   is taken to cost half a training iteration (a forward pass without the backward one, its batch loaded)
   */
  constructor(
    readonly deadline: TrainingDeadline | undefined,
    private readonly iterationsPerEpoch: number,
    public iterationsDone: number,
    private readonly validationIterations = 0,
  ) {}

  /**
   * One training iteration (batch loading and augmentation included) took `seconds`. The first one of the process
   * is kept apart: it carries one-time warm-up (JIT, first allocations, the data workers' start and first batches)
   * and would make every later iteration look slower.
   */
  iterationDone(seconds: number): void {
    if (this.firstIteration === null) this.firstIteration = seconds;
    else {
      this.iterationSeconds += seconds;
      this.iterationsTimed++;
    }
    this.iterationsDone++;
  }

  /**
   * An epoch took `epochSeconds` in all, `trainingSeconds` of it in training iterations. The first epoch end of the
   * process (first validation forward passes, first checkpoint and plot writes: warm-up) is replaced by the second;
   * later ones keep the larger of the new one and the mean with the previous (a load that rises is followed at once).
   */
  epochDone(epochSeconds: number, trainingSeconds: number): void {
    const overhead = Math.max(0, epochSeconds - trainingSeconds);
    const replace = this.overheadSeconds === null || this.epochsMeasured === 1;
    this.overheadSeconds = replace ? overhead : Math.max(overhead, 0.5 * (this.overheadSeconds! + overhead));
    this.epochsMeasured++;
  }

  private secondsLeft(now = Date.now()): number {
    return this.deadline ? (this.deadline.endsAt - now) / 1000 : Infinity;
  }

  /** Steady-state seconds per training iteration: the mean without the first (warm-up) one, when others ran. */
  private perIteration(): number {
    return this.iterationsTimed ? this.iterationSeconds / this.iterationsTimed : this.firstIteration ?? 0;
  }

  private get anyTimed(): boolean {
    return this.firstIteration !== null;
  }

  /** The end of an epoch (validation iterations, checkpoints, plots), s: as measured, else estimated. */
  private overhead(): number {
    return this.overheadSeconds ?? (0.5 * this.validationIterations + 0.02 * this.iterationsPerEpoch) * this.perIteration();
  }

  /**
   * True when one more training iteration plus the end of the epoch (its validation and checkpoints) would end after
   * the deadline, and the floor is reached.
   */
  stopBeforeNextIteration(): boolean {
    if (!this.deadline || !this.anyTimed || this.iterationsDone < this.deadline.minIterations) return false;
    return this.perIteration() + this.overhead() > this.secondsLeft();
  }

  /**
   * The number of epochs of the schedule after `epochsDone` epochs of `epochs`: unchanged when the rest fits,
   * else `epochsDone` + the epochs that fit (at least one more when any remains, so the run ends on a short last
   * epoch rather than without its lowest learning rate), never below the floor of `minIterations`.
   */
  epochsThatFit(epochsDone: number, epochs: number): number {
    if (!this.deadline || epochsDone >= epochs || !this.anyTimed) return epochs;
    const perEpoch = this.iterationsPerEpoch * this.perIteration() + this.overhead();
    const fit = Math.floor(this.secondsLeft() / Math.max(perEpoch, 1e-9));
    const floor = Math.ceil(Math.max(0, this.deadline.minIterations - this.iterationsDone) / this.iterationsPerEpoch);
    return Math.min(epochs, epochsDone + Math.max(1, fit, floor));
  }

  /**
   * When the floor of `minIterations` (not the clock) sets `epochsThatFit(epochsDone, epochs)` and its epochs end
   * after the deadline at the speed measured so far: when they end (`Date.now()` ms, `now` + the floor's epochs x
   * seconds per epoch), else null (no deadline, nothing timed yet, or the schedule ends in time).
   */
  floorEndsAt(epochsDone: number, epochs: number, now = Date.now()): number | null {
    if (!this.deadline || epochsDone >= epochs || !this.anyTimed) return null;
    const perEpoch = this.iterationsPerEpoch * this.perIteration() + this.overhead();
    const fit = Math.floor(this.secondsLeft(now) / Math.max(perEpoch, 1e-9));
    const floor = Math.ceil(Math.max(0, this.deadline.minIterations - this.iterationsDone) / this.iterationsPerEpoch);
    if (floor <= Math.max(0, fit)) return null;
    const endsAt = now + Math.min(floor, epochs - epochsDone) * perEpoch * 1000;
    return endsAt > this.deadline.endsAt ? endsAt : null;
  }
}

/**
 * Each fold's share of the time left for training: the folds still to train split it in proportion to the epochs
 * each has left (`work`: this fold's and all of theirs; a restarted run's resumed fold needs less than a fresh one),
 * evenly without `work` or when every fold has as much left (the same value as an even split, so an uninterrupted run's
 * deadlines are unchanged). A queued run whose workers train folds side by side gives each less than it could use,
 * never more.
 * @param endsAt when every fold's training should end (`Date.now()` ms)
 * @param foldsLeft folds of the run without `checkpoint_final`, this one included (>= 1)
 * @param work epochs this fold has left (`fold`) and all folds left together (`all`)
 */
export function foldDeadline(endsAt: number, foldsLeft: number, now = Date.now(), work?: { fold: number; all: number }): number {
  const time = Math.max(0, endsAt - now);
  const n = Math.max(1, foldsLeft);
  if (!work || !(work.all > 0) || work.fold * n === work.all) return now + time / n;
  return now + (time * Math.min(work.fold, work.all)) / work.all;
}

/** The planner's floor of training iterations per fold when the budget gives none (`planForTimeBudget`'s `minIterations` default). */
export const PLANNER_MIN_ITERATIONS = 50;

/**
 * Whether a fold the deadline stopped (`stop`, its checkpoint's `time_budget_stop`) ran too few training iterations
 * to predict with: fewer than the budget's floor (`minIterations`, else {@link PLANNER_MIN_ITERATIONS}) and fewer
 * than half its planned iterations (a plan below the floor keeps folds that ran most of it). False without a stop.
 */
export function undertrained(stop: DeadlineStop | undefined, minIterations?: number): boolean {
  if (!stop) return false;
  return stop.iterations < Math.min(minIterations ?? PLANNER_MIN_ITERATIONS, Math.ceil(stop.plannedIterations / 2));
}
