import { Cron } from 'croner';
import { StratoError } from '../core/strato-error.js';

/**
 * A cron expression read in a time zone, as croner computes it (DST included: a local time that does
 * not exist is skipped, one that happens twice fires once). Pure: every question takes the time it is
 * asked at, so the scheduler's clock can be a fake one.
 */
export class CronSchedule {
  readonly #cron: Cron;

  private constructor(cron: Cron) {
    this.#cron = cron;
  }

  /**
   * Validates an expression and a zone: VALIDATION_FAILED with croner's own message for a bad
   * expression, and for an unknown zone or a schedule that never fires (`0 0 30 2 *`).
   */
  static parse(expression: string, timezone: string): CronSchedule {
    if (!isTimeZone(timezone)) {
      throw new StratoError('VALIDATION_FAILED', `invalid timezone: '${timezone}' is not an IANA time zone`);
    }
    // croner reads a string with ':' as one date to fire at, not as a schedule.
    if (expression.includes(':')) {
      throw new StratoError(
        'VALIDATION_FAILED',
        `invalid schedule: '${expression}' is not a cron expression`,
      );
    }
    let cron: Cron;
    try {
      // Paused and without a callback: croner only computes, it never sets a timer of its own.
      cron = new Cron(expression, { timezone, paused: true });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new StratoError('VALIDATION_FAILED', `invalid schedule '${expression}': ${reason}`);
    }
    const schedule = new CronSchedule(cron);
    if (schedule.nextAfter(Date.now()) === undefined) {
      throw new StratoError('VALIDATION_FAILED', `invalid schedule '${expression}': it never fires`);
    }
    return schedule;
  }

  /** The first slot strictly after `afterMs` (epoch ms); undefined when there is none. */
  nextAfter(afterMs: number): number | undefined {
    return this.#cron.nextRun(new Date(afterMs))?.getTime();
  }

  /** The next `count` slots strictly after `afterMs`. */
  nextSlots(afterMs: number, count: number): number[] {
    const slots: number[] = [];
    let from = afterMs;
    for (let i = 0; i < count; i++) {
      const next = this.nextAfter(from);
      if (next === undefined) break;
      slots.push(next);
      from = next;
    }
    return slots;
  }

  /**
   * The latest slot in (`afterMs`, `untilMs`]; undefined when there is none. A bisection over forward
   * searches (croner's backward search fails on some expressions): a year of missed every-second slots
   * costs ~25 steps, not one per slot.
   */
  latestBetween(afterMs: number, untilMs: number): number | undefined {
    const hasSlotUpTo = (fromMs: number) => (this.nextAfter(fromMs) ?? Infinity) <= untilMs;
    if (!hasSlotUpTo(afterMs)) return undefined;
    // Invariant: a slot lies in (low, untilMs], none in (high, untilMs].
    let low = afterMs;
    let high = untilMs;
    // Slots are whole seconds, so (low, high] narrower than a second holds exactly one: the latest.
    while (high - low > 1000) {
      const middle = Math.floor((low + high) / 2);
      if (hasSlotUpTo(middle)) low = middle;
      else high = middle;
    }
    return this.nextAfter(low);
  }
}

/** True for a zone Intl knows (IANA names, and `UTC`). */
export function isTimeZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}
