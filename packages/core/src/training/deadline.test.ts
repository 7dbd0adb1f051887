import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeadlineClock, foldDeadline } from './deadline.js';

const NOW = Date.UTC(2026, 11, 6, 12, 0, 0);
afterEach(() => vi.useRealTimers());

describe('DeadlineClock', () => {
  it('without a deadline every answer is "go on"', () => {
    const c = new DeadlineClock(undefined, 10, 0);
    c.iterationDone(100);
    expect(c.stopBeforeNextIteration()).toBe(false);
    expect(c.epochsThatFit(1, 50)).toBe(50);
  });

  it('shortens the schedule to the epochs that fit, iterations and measured overhead counted, never below the floor', () => {
    vi.useFakeTimers({ now: NOW });
    const c = new DeadlineClock({ endsAt: NOW + 20_000, minIterations: 1 }, 5, 0);
    for (let i = 0; i < 5; i++) c.iterationDone(1); // 1 s per iteration
    c.epochDone(7, 5); // 2 s of validation and checkpoints
    // 20 s left, 7 s per epoch: 2 more epochs
    expect(c.epochsThatFit(1, 10)).toBe(3);
    // the whole schedule fits: unchanged
    expect(c.epochsThatFit(1, 3)).toBe(3);
    // the floor: 30 iterations = 6 epochs of 5, 5 done: at least 5 more epochs
    const floor = new DeadlineClock({ endsAt: NOW + 20_000, minIterations: 30 }, 5, 0);
    for (let i = 0; i < 5; i++) floor.iterationDone(1);
    floor.epochDone(7, 5);
    expect(floor.epochsThatFit(1, 10)).toBe(6);
    // the floor's 5 epochs of 7 s end 15 s after the deadline (the line the trainer prints says so); the clock's own
    // schedule ends in time
    expect(floor.floorEndsAt(1, 10)).toBe(NOW + 35_000);
    expect(c.floorEndsAt(1, 10)).toBeNull();
    // no time left: one more (short) epoch, so the run ends at the schedule's lowest learning rate
    vi.setSystemTime(NOW + 60_000);
    expect(c.epochsThatFit(1, 10)).toBe(2);
  });

  it('stops before an iteration that would end after the deadline, once minIterations ran', () => {
    vi.useFakeTimers({ now: NOW });
    const c = new DeadlineClock({ endsAt: NOW + 10_000, minIterations: 4 }, 100, 0, 20);
    expect(c.stopBeforeNextIteration()).toBe(false); // nothing timed yet
    for (let i = 0; i < 3; i++) c.iterationDone(2);
    vi.setSystemTime(NOW + 9_000);
    expect(c.stopBeforeNextIteration()).toBe(false); // 3 < minIterations 4
    c.iterationDone(2);
    expect(c.stopBeforeNextIteration()).toBe(true); // 2 s + an estimated 24 s of epoch end > 1 s left
    // 20 validation iterations at half a training iteration + 2% of the epoch: 24 s; 2 s for the iteration
    vi.setSystemTime(NOW + 10_000 - 26_500);
    expect(c.stopBeforeNextIteration()).toBe(false);
    vi.setSystemTime(NOW + 10_000 - 25_500);
    expect(c.stopBeforeNextIteration()).toBe(true);
    // once an epoch end was measured (3 s), that is used
    c.epochDone(10, 7);
    vi.setSystemTime(NOW + 10_000 - 5_500);
    expect(c.stopBeforeNextIteration()).toBe(false);
  });

  it('discounts the first iteration and the first epoch end (warm-up): a schedule that fits at the steady rate is kept', () => {
    vi.useFakeTimers({ now: NOW });
    // 10 epochs of 10 iterations: epoch 0's first iteration took 20 s (JIT, workers starting), the rest 1 s each;
    // 110 s left after epoch 0, 9 epochs to go at 10 s + 2 s of epoch end = 108 s: the rest fits
    const c = new DeadlineClock({ endsAt: NOW + 110_000, minIterations: 1 }, 10, 0);
    c.iterationDone(20);
    for (let i = 0; i < 9; i++) c.iterationDone(1);
    c.epochDone(31, 29);
    // counting the warm-up (2.9 s per iteration, 31 s per epoch) would have cut the schedule to 1 + 3 epochs
    expect(c.epochsThatFit(1, 10)).toBe(10);
    // the second epoch end replaces the first one's (an 8 s first validation and checkpoint), later ones keep the larger
    const d = new DeadlineClock({ endsAt: NOW + 100_000, minIterations: 1 }, 10, 0);
    for (let i = 0; i < 10; i++) d.iterationDone(1);
    d.epochDone(18, 10); // 8 s of epoch end, warm-up included
    for (let i = 0; i < 10; i++) d.iterationDone(1);
    d.epochDone(12, 10); // 2 s: 100 s / 12 s per epoch = 8 more epochs
    expect(d.epochsThatFit(2, 20)).toBe(10);
    d.epochDone(14, 10); // 4 s: max(4, (2 + 4) / 2) = 4, 100 / 14 = 7
    expect(d.epochsThatFit(3, 20)).toBe(10);
    // never over the budget: a steady rate too slow still shortens it, never below the floor
    const e = new DeadlineClock({ endsAt: NOW + 30_000, minIterations: 40 }, 10, 0);
    for (let i = 0; i < 10; i++) e.iterationDone(3);
    e.epochDone(32, 30);
    expect(e.epochsThatFit(1, 10)).toBe(4); // 30 s / 32 s: none fits; the floor of 40 iterations: 3 more
  });

  it('folds left share the time evenly', () => {
    expect(foldDeadline(NOW + 300_000, 3, NOW)).toBe(NOW + 100_000);
    expect(foldDeadline(NOW - 5_000, 2, NOW)).toBe(NOW);
    expect(foldDeadline(NOW + 10_000, 0, NOW)).toBe(NOW + 10_000);
  });

  it('a restarted run splits the time left by the epochs each fold has left', () => {
    // fold 0 resumed with 10 of 16 epochs left, fold 1 fresh: 10/26 and 16/26 of the 260 s
    expect(foldDeadline(NOW + 260_000, 2, NOW, { fold: 10, all: 26 })).toBe(NOW + 100_000);
    expect(foldDeadline(NOW + 260_000, 2, NOW, { fold: 16, all: 26 })).toBe(NOW + 160_000);
    // as much left in every fold (an uninterrupted run): exactly the even split
    for (const [time, n, e] of [[300_001, 3, 27], [1_234_567.25, 7, 13], [999_999, 2, 250]] as const) {
      expect(foldDeadline(NOW + time, n, NOW, { fold: e, all: n * e })).toBe(foldDeadline(NOW + time, n, NOW));
    }
    expect(foldDeadline(NOW + 10_000, 2, NOW, { fold: 0, all: 0 })).toBe(NOW + 5_000);
  });
});
