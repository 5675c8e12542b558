import type { Clock } from '../../src/core/clock.js';

/** An armed timer of a {@link ManualClock}: it fires only when the test calls `fire`. */
export interface ManualTimer {
  fire: () => void;
  delayMs: number;
}

/** A clock whose time the test sets (`fakeNow`; the real time while undefined) and whose timers it fires. */
export interface ManualClock extends Clock {
  fakeNow: number | undefined;
  /** Armed and not cancelled, oldest first. */
  timers: ManualTimer[];
}

export function manualClock(fakeNow?: number): ManualClock {
  const clock: ManualClock = {
    fakeNow,
    timers: [],
    now: () => clock.fakeNow ?? Date.now(),
    setTimer(callback, delayMs) {
      const timer = { fire: callback, delayMs };
      clock.timers.push(timer);
      return () => {
        clock.timers = clock.timers.filter((it) => it !== timer);
      };
    },
  };
  return clock;
}
