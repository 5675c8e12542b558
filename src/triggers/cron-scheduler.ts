import type { Logger } from 'pino';
import { isStratoError } from '../core/strato-error.js';
import type { TriggerRecord } from '../core/trigger.js';
import { CronSchedule } from './cron-schedule.js';
import { MAX_TIMER_MS, systemClock, type SchedulerClock } from './scheduler-clock.js';
import { scheduledEventJson, slotIdempotencyKey } from './scheduled-event.js';

/** The store methods the scheduler needs (a narrow view of core's Store). */
export interface TriggerSource {
  listTriggers(filter: { functionName?: string | undefined }): Promise<TriggerRecord[]>;
  getTrigger(id: string): Promise<TriggerRecord | undefined>;
  recordTriggerFired(id: string, slot: string): Promise<boolean>;
}

/** Hands one slot to the durable queue (AsyncInvocations.enqueue). */
export type EnqueueSlot = (input: {
  functionName: string;
  qualifier: string | undefined;
  eventJson: string;
  idempotencyKey: string;
}) => Promise<{ invocationId: string; duplicate: boolean }>;

export interface CronSchedulerOptions {
  triggers: TriggerSource;
  enqueue: EnqueueSlot;
  logger: Logger;
  /** @default systemClock */
  clock?: SchedulerClock;
}

interface ArmedTrigger {
  trigger: TriggerRecord;
  schedule: CronSchedule;
  cancelTimer: (() => void) | undefined;
}

/**
 * Runs every enabled cron trigger of the store on this node: at each slot it enqueues one async
 * invocation with the key `cron:<id>:<slot>`, then records the slot as fired. Enqueue before record
 * means a crash in between re-sends the slot on restart, and the queue's idempotency turns that into
 * nothing (as it does for two nodes firing one slot).
 *
 * Timers never accumulate drift: after each slot the next one is computed from the clock, and a timer
 * that wakes early (or was capped at {@link MAX_TIMER_MS}) is simply set again.
 */
export class CronScheduler {
  readonly #triggers: TriggerSource;
  readonly #enqueue: EnqueueSlot;
  readonly #logger: Logger;
  readonly #clock: SchedulerClock;
  readonly #armed = new Map<string, ArmedTrigger>();
  readonly #inFlight = new Set<Promise<void>>();
  #stopped = false;

  constructor(options: CronSchedulerOptions) {
    this.#triggers = options.triggers;
    this.#enqueue = options.enqueue;
    this.#logger = options.logger.child({ component: 'cron' });
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Loads every trigger and arms it. Slots missed while no node ran them are handled per trigger:
   * `catch-up-once` enqueues the most recent one, `skip` none. Resolves once the triggers are loaded;
   * catch-up enqueues run on (see {@link settled}).
   */
  async start(): Promise<void> {
    for (const trigger of await this.#triggers.listTriggers({})) this.add(trigger);
  }

  /** Starts running a trigger (created here, or found in the store); replaces one with the same id. */
  add(trigger: TriggerRecord): void {
    this.remove(trigger.id);
    if (this.#stopped || !trigger.enabled) return;
    let schedule: CronSchedule;
    try {
      schedule = CronSchedule.parse(trigger.schedule, trigger.timezone);
    } catch (error) {
      // Checked at create; this is a zone that left the host's tz database, or a slot-less schedule.
      this.#logger.error({ err: error, triggerId: trigger.id }, 'cron trigger cannot be scheduled');
      return;
    }
    const armed: ArmedTrigger = { trigger, schedule, cancelTimer: undefined };
    this.#armed.set(trigger.id, armed);
    const now = this.#clock.now();
    const since = Date.parse(trigger.lastFiredSlot ?? trigger.createdAt);
    const missed = schedule.latestBetween(since, now);
    if (missed !== undefined && trigger.missed === 'catch-up-once') {
      this.#logger.info({ triggerId: trigger.id, slot: new Date(missed).toISOString() }, 'catching up');
      this.#track(this.#fireThenArm(armed, missed));
    } else {
      this.#arm(armed, now);
    }
  }

  /** Stops running a trigger (deleted); a slot already being enqueued still completes. */
  remove(id: string): void {
    const armed = this.#armed.get(id);
    if (armed === undefined) return;
    armed.cancelTimer?.();
    this.#armed.delete(id);
  }

  /**
   * Re-reads one function's triggers after it changed (deleted, or triggers added by another node).
   * Errors are logged: the triggers keep running as they were.
   */
  functionChanged(functionName: string): void {
    this.#track(
      (async () => {
        const current = await this.#triggers.listTriggers({ functionName });
        const ids = new Set(current.map((trigger) => trigger.id));
        for (const [id, armed] of this.#armed) {
          if (armed.trigger.functionName === functionName && !ids.has(id)) this.remove(id);
        }
        for (const trigger of current) if (!this.#armed.has(trigger.id)) this.add(trigger);
      })().catch((error: unknown) => {
        this.#logger.warn({ err: error, functionName }, 'cannot reload cron triggers');
      }),
    );
  }

  /** The ids of the triggers running here (tests, diagnostics). */
  armedIds(): string[] {
    return [...this.#armed.keys()];
  }

  /** Resolves when no slot is being enqueued (tests drive a fake clock, then wait for this). */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
  }

  /** Cancels every timer and waits for slots being enqueued; nothing fires afterwards. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const id of [...this.#armed.keys()]) this.remove(id);
    await this.settled();
  }

  /** Sets the timer for the first slot after `afterMs`. */
  #arm(armed: ArmedTrigger, afterMs: number): void {
    if (this.#stopped || this.#armed.get(armed.trigger.id) !== armed) return;
    const slot = armed.schedule.nextAfter(afterMs);
    if (slot === undefined) return;
    this.#setTimer(armed, slot);
  }

  #setTimer(armed: ArmedTrigger, slot: number): void {
    const delay = Math.min(Math.max(0, slot - this.#clock.now()), MAX_TIMER_MS);
    armed.cancelTimer = this.#clock.setTimer(() => this.#onTimer(armed, slot), delay);
  }

  #onTimer(armed: ArmedTrigger, slot: number): void {
    armed.cancelTimer = undefined;
    if (this.#stopped || this.#armed.get(armed.trigger.id) !== armed) return;
    const now = this.#clock.now();
    // Early (timer granularity) or a capped long wait: not due yet, wait again.
    if (now < slot) return this.#setTimer(armed, slot);
    // A wake-up later than the following slots (a stalled event loop) fires the latest one, once.
    const due = armed.schedule.latestBetween(slot - 1, now) ?? slot;
    this.#track(this.#fireThenArm(armed, due));
  }

  async #fireThenArm(armed: ArmedTrigger, slot: number): Promise<void> {
    try {
      await this.#fire(armed, slot);
    } finally {
      this.#arm(armed, Math.max(this.#clock.now(), slot));
    }
  }

  async #fire(armed: ArmedTrigger, slot: number): Promise<void> {
    const slotIso = new Date(slot).toISOString();
    const log = { triggerId: armed.trigger.id, functionName: armed.trigger.functionName, slot: slotIso };
    try {
      // Re-read: another node may have deleted or fired it, and its function may be gone.
      const trigger = await this.#triggers.getTrigger(armed.trigger.id);
      if (trigger === undefined || !trigger.enabled) {
        this.remove(armed.trigger.id);
        return;
      }
      if (trigger.lastFiredSlot !== null && trigger.lastFiredSlot >= slotIso) return;
      const { invocationId, duplicate } = await this.#enqueue({
        functionName: trigger.functionName,
        qualifier: trigger.qualifier ?? undefined,
        eventJson: scheduledEventJson(trigger, slot),
        idempotencyKey: slotIdempotencyKey(trigger.id, slot),
      });
      await this.#triggers.recordTriggerFired(trigger.id, slotIso);
      armed.trigger = { ...trigger, lastFiredSlot: slotIso };
      this.#logger.debug({ ...log, invocationId, duplicate }, 'cron slot enqueued');
    } catch (error) {
      // The slot is not recorded: a restart with catch-up-once sends it again (or a later one).
      this.#logger.warn(
        { ...log, err: error, code: isStratoError(error) ? error.code : undefined },
        'cron slot not enqueued',
      );
    }
  }

  #track(work: Promise<void>): void {
    const tracked: Promise<void> = work
      .catch((error: unknown) => this.#logger.error({ err: error }, 'cron scheduler failure'))
      .finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }
}
