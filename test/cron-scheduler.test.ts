import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { TriggerRecord } from '../src/core/trigger.js';
import { CronScheduler, type EnqueueSlot, type TriggerSource } from '../src/triggers/cron-scheduler.js';
import { MAX_TIMER_MS, type SchedulerClock } from '../src/triggers/scheduler-clock.js';
import type { ScheduledEvent } from '../src/triggers/scheduled-event.js';

const at = (iso: string) => Date.parse(iso);
const logger = pino({ level: 'silent' });

/** A clock whose time moves only when a test says so; due timers run in time order. */
class FakeClock implements SchedulerClock {
  #now: number;
  #timers: Array<{ due: number; callback: () => void; seq: number }> = [];
  #seq = 0;
  readonly delays: number[] = [];

  constructor(startIso: string) {
    this.#now = at(startIso);
  }

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => void, delayMs: number): () => void {
    this.delays.push(delayMs);
    const timer = { due: this.#now + delayMs, callback, seq: this.#seq++ };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  pending(): number {
    return this.#timers.length;
  }

  /** Moves to `iso`, running each timer at its due time and letting the scheduler settle after each. */
  async advanceTo(iso: string, scheduler: CronScheduler): Promise<void> {
    const target = at(iso);
    await scheduler.settled();
    for (;;) {
      const next = [...this.#timers].sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (next === undefined || next.due > target) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#now = Math.max(this.#now, next.due);
      next.callback();
      await scheduler.settled();
    }
    this.#now = target;
  }

  /** Jumps without running timers (an event loop that stalled). */
  jumpTo(iso: string): void {
    this.#now = at(iso);
  }
}

/** The store's trigger methods, in memory, with the store's never-backwards rule. */
class MemoryTriggers implements TriggerSource {
  readonly records = new Map<string, TriggerRecord>();
  failRecording = false;

  put(trigger: TriggerRecord): TriggerRecord {
    this.records.set(trigger.id, trigger);
    return trigger;
  }

  listTriggers(filter: { functionName?: string | undefined }): Promise<TriggerRecord[]> {
    return Promise.resolve(
      [...this.records.values()].filter(
        (t) => filter.functionName === undefined || t.functionName === filter.functionName,
      ),
    );
  }

  getTrigger(id: string): Promise<TriggerRecord | undefined> {
    return Promise.resolve(this.records.get(id));
  }

  recordTriggerFired(id: string, slot: string): Promise<boolean> {
    if (this.failRecording) return Promise.reject(new Error('store down'));
    const current = this.records.get(id);
    if (current === undefined || (current.lastFiredSlot !== null && current.lastFiredSlot >= slot)) {
      return Promise.resolve(false);
    }
    this.records.set(id, { ...current, lastFiredSlot: slot });
    return Promise.resolve(true);
  }
}

/** The queue as the scheduler sees it: one message per idempotency key. */
class MemoryQueue {
  readonly messages: Array<{
    key: string;
    functionName: string;
    qualifier: string | undefined;
    event: ScheduledEvent;
  }> = [];
  readonly calls: string[] = [];

  readonly enqueue: EnqueueSlot = (input) => {
    this.calls.push(input.idempotencyKey);
    const index = this.messages.findIndex((m) => m.key === input.idempotencyKey);
    if (index >= 0) return Promise.resolve({ invocationId: `inv-${index}`, duplicate: true });
    this.messages.push({
      key: input.idempotencyKey,
      functionName: input.functionName,
      qualifier: input.qualifier,
      event: JSON.parse(input.eventJson) as ScheduledEvent,
    });
    return Promise.resolve({ invocationId: `inv-${this.messages.length - 1}`, duplicate: false });
  };

  times(): string[] {
    return this.messages.map((m) => m.event.time);
  }
}

function trigger(overrides: Partial<TriggerRecord> = {}): TriggerRecord {
  return {
    id: 'trg_a',
    type: 'cron',
    functionName: 'fn',
    qualifier: null,
    schedule: '*/5 * * * *',
    timezone: 'UTC',
    payloadJson: '{"k":1}',
    missed: 'catch-up-once',
    enabled: true,
    createdAt: '2024-01-01T00:00:00.000Z',
    lastFiredSlot: null,
    ...overrides,
  };
}

function setup(startIso: string) {
  const clock = new FakeClock(startIso);
  const triggers = new MemoryTriggers();
  const queue = new MemoryQueue();
  const scheduler = new CronScheduler({ triggers, enqueue: queue.enqueue, logger, clock });
  return { clock, triggers, queue, scheduler };
}

describe('CronScheduler', () => {
  it('enqueues each slot once, with the scheduled event, and records it as fired', async () => {
    const { clock, triggers, queue, scheduler } = setup('2024-01-01T00:01:00Z');
    scheduler.add(triggers.put(trigger({ qualifier: 'live' })));
    await clock.advanceTo('2024-01-01T00:16:00Z', scheduler);
    expect(queue.times()).toEqual(['2024-01-01T00:05:00Z', '2024-01-01T00:10:00Z', '2024-01-01T00:15:00Z']);
    expect(queue.messages[0]).toMatchObject({
      key: 'cron:trg_a:2024-01-01T00:05:00.000Z',
      functionName: 'fn',
      qualifier: 'live',
      event: { source: 'strato.cron', resources: ['trg_a'], detail: { k: 1 } },
    });
    expect(triggers.records.get('trg_a')?.lastFiredSlot).toBe('2024-01-01T00:15:00.000Z');
    // Armed for the next slot, and nothing else.
    expect(clock.pending()).toBe(1);
    await scheduler.stop();
    expect(clock.pending()).toBe(0);
  });

  it('fires 09:00 Europe/Berlin at 08:00Z in winter and 07:00Z in summer', async () => {
    const { clock, triggers, queue, scheduler } = setup('2024-03-29T12:00:00Z');
    scheduler.add(
      triggers.put(
        trigger({ schedule: '0 9 * * *', timezone: 'Europe/Berlin', createdAt: '2024-03-29T12:00:00.000Z' }),
      ),
    );
    await clock.advanceTo('2024-04-01T12:00:00Z', scheduler);
    expect(queue.times()).toEqual(['2024-03-30T08:00:00Z', '2024-03-31T07:00:00Z', '2024-04-01T07:00:00Z']);
    await scheduler.stop();
  });

  describe('slots missed while down', () => {
    // Last fired 00:05; down until 00:32, across 00:10, 00:15, 00:20, 00:25 and 00:30.
    const down = { lastFiredSlot: '2024-01-01T00:05:00.000Z' };

    it('catch-up-once enqueues one invocation, for the most recent missed slot, then runs on', async () => {
      const { clock, triggers, queue, scheduler } = setup('2024-01-01T00:32:00Z');
      triggers.put(trigger({ ...down, missed: 'catch-up-once' }));
      await scheduler.start();
      await scheduler.settled();
      expect(queue.times()).toEqual(['2024-01-01T00:30:00Z']);
      await clock.advanceTo('2024-01-01T00:36:00Z', scheduler);
      expect(queue.times()).toEqual(['2024-01-01T00:30:00Z', '2024-01-01T00:35:00Z']);
      await scheduler.stop();
    });

    it('skip enqueues none, then runs on', async () => {
      const { clock, triggers, queue, scheduler } = setup('2024-01-01T00:32:00Z');
      triggers.put(trigger({ ...down, missed: 'skip' }));
      await scheduler.start();
      await scheduler.settled();
      expect(queue.times()).toEqual([]);
      expect(triggers.records.get('trg_a')?.lastFiredSlot).toBe(down.lastFiredSlot);
      await clock.advanceTo('2024-01-01T00:36:00Z', scheduler);
      expect(queue.times()).toEqual(['2024-01-01T00:35:00Z']);
      await scheduler.stop();
    });

    it('counts from createdAt for a trigger that never fired, and catches up nothing when none was missed', async () => {
      const { triggers, queue, scheduler } = setup('2024-01-01T00:12:00Z');
      triggers.put(trigger({ id: 'trg_new', createdAt: '2024-01-01T00:03:00.000Z' }));
      triggers.put(trigger({ id: 'trg_current', lastFiredSlot: '2024-01-01T00:10:00.000Z' }));
      await scheduler.start();
      await scheduler.settled();
      expect(queue.messages.map((m) => m.key)).toEqual(['cron:trg_new:2024-01-01T00:10:00.000Z']);
      await scheduler.stop();
    });
  });

  it('never enqueues a slot twice: two nodes on one slot, and a restart between enqueue and record', async () => {
    const clockA = new FakeClock('2024-01-01T00:04:00Z');
    const clockB = new FakeClock('2024-01-01T00:04:00Z');
    const triggers = new MemoryTriggers();
    const queue = new MemoryQueue();
    const nodeA = new CronScheduler({ triggers, enqueue: queue.enqueue, logger, clock: clockA });
    const nodeB = new CronScheduler({ triggers, enqueue: queue.enqueue, logger, clock: clockB });
    triggers.put(trigger());
    await nodeA.start();
    await nodeB.start();
    // Both wake for 00:05 before either recorded it.
    await Promise.all([
      clockA.advanceTo('2024-01-01T00:05:00Z', nodeA),
      clockB.advanceTo('2024-01-01T00:05:00Z', nodeB),
    ]);
    expect(queue.times()).toEqual(['2024-01-01T00:05:00Z']);
    await Promise.all([nodeA.stop(), nodeB.stop()]);

    // 00:10 is enqueued but the store fails before it is recorded; the node restarts at 00:11.
    const crashing = new CronScheduler({ triggers, enqueue: queue.enqueue, logger, clock: clockA });
    await crashing.start();
    triggers.failRecording = true;
    await clockA.advanceTo('2024-01-01T00:10:00Z', crashing);
    await crashing.stop();
    triggers.failRecording = false;
    expect(triggers.records.get('trg_a')?.lastFiredSlot).toBe('2024-01-01T00:05:00.000Z');
    clockA.jumpTo('2024-01-01T00:11:00Z');
    const restarted = new CronScheduler({ triggers, enqueue: queue.enqueue, logger, clock: clockA });
    await restarted.start();
    await restarted.settled();
    // The catch-up re-sent 00:10 with the same key: the queue holds it once.
    expect(queue.calls.filter((key) => key.endsWith('00:10:00.000Z'))).toHaveLength(2);
    expect(queue.times()).toEqual(['2024-01-01T00:05:00Z', '2024-01-01T00:10:00Z']);
    expect(triggers.records.get('trg_a')?.lastFiredSlot).toBe('2024-01-01T00:10:00.000Z');
    await restarted.stop();
  });

  it('after a stalled event loop fires only the latest due slot, and does not drift', async () => {
    const { clock, triggers, queue, scheduler } = setup('2024-01-01T00:00:00.200Z');
    scheduler.add(triggers.put(trigger({ schedule: '* * * * * *' })));
    clock.jumpTo('2024-01-01T00:00:03.700Z');
    await clock.advanceTo('2024-01-01T00:00:03.700Z', scheduler);
    expect(queue.times()).toEqual(['2024-01-01T00:00:03Z']);
    await clock.advanceTo('2024-01-01T00:00:05.000Z', scheduler);
    expect(queue.times()).toEqual(['2024-01-01T00:00:03Z', '2024-01-01T00:00:04Z', '2024-01-01T00:00:05Z']);
    // Each timer was set from the clock to the slot: 300 ms to 00:04 after firing 00:03 at 03.700.
    expect(clock.delays).toContain(300);
    await scheduler.stop();
  });

  it('caps timers at 2^31-1 ms and still fires a yearly slot on time', async () => {
    const { clock, triggers, queue, scheduler } = setup('2024-01-01T00:00:30Z');
    scheduler.add(triggers.put(trigger({ schedule: '0 0 1 1 *' })));
    expect(Math.max(...clock.delays)).toBe(MAX_TIMER_MS);
    await clock.advanceTo('2024-12-31T23:59:59Z', scheduler);
    expect(queue.times()).toEqual([]);
    await clock.advanceTo('2025-01-01T00:00:01Z', scheduler);
    expect(queue.times()).toEqual(['2025-01-01T00:00:00Z']);
    await scheduler.stop();
  });

  it('stops a trigger that is removed, disabled or deleted elsewhere, and one whose function changed', async () => {
    const { clock, triggers, queue, scheduler } = setup('2024-01-01T00:01:00Z');
    scheduler.add(triggers.put(trigger({ id: 'trg_removed' })));
    scheduler.add(triggers.put(trigger({ id: 'trg_elsewhere' })));
    scheduler.add(triggers.put(trigger({ id: 'trg_gone', functionName: 'deleted-fn' })));
    scheduler.add(triggers.put(trigger({ id: 'trg_disabled', enabled: false })));
    expect(scheduler.armedIds().sort()).toEqual(['trg_elsewhere', 'trg_gone', 'trg_removed']);

    scheduler.remove('trg_removed');
    triggers.records.delete('trg_elsewhere');
    triggers.records.delete('trg_gone');
    scheduler.functionChanged('deleted-fn');
    await scheduler.settled();
    expect(scheduler.armedIds()).toEqual(['trg_elsewhere']);
    await clock.advanceTo('2024-01-01T00:06:00Z', scheduler);
    // trg_elsewhere found itself gone at its slot and stopped without enqueueing.
    expect(queue.messages).toEqual([]);
    expect(scheduler.armedIds()).toEqual([]);
    expect(clock.pending()).toBe(0);
  });

  it('keeps running after a slot fails to enqueue, and arms nothing after stop', async () => {
    const { clock, triggers, scheduler } = setup('2024-01-01T00:01:00Z');
    let attempts = 0;
    const failing = new CronScheduler({
      triggers,
      enqueue: () => {
        attempts++;
        return Promise.reject(new Error('queue unavailable'));
      },
      logger,
      clock,
    });
    failing.add(triggers.put(trigger()));
    await clock.advanceTo('2024-01-01T00:11:00Z', failing);
    expect(attempts).toBe(2);
    expect(clock.pending()).toBe(1);
    await failing.stop();
    failing.add(trigger({ id: 'trg_late' }));
    expect(clock.pending()).toBe(0);
    await scheduler.stop();
  });
});
