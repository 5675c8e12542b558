import { describe, expect, it } from 'vitest';
import { CronSchedule } from '../src/triggers/cron-schedule.js';
import { scheduledEventJson, slotIdempotencyKey } from '../src/triggers/scheduled-event.js';
import type { TriggerRecord } from '../src/core/trigger.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

describe('CronSchedule', () => {
  it('reads the schedule in its time zone: 09:00 Berlin is 08:00Z in winter, 07:00Z in summer', () => {
    const nine = CronSchedule.parse('0 9 * * *', 'Europe/Berlin');
    expect(iso(nine.nextAfter(at('2024-01-10T12:00:00Z')))).toBe('2024-01-11T08:00:00.000Z');
    expect(iso(nine.nextAfter(at('2024-07-10T12:00:00Z')))).toBe('2024-07-11T07:00:00.000Z');
    // Across the spring change (31 March 2024): the day before and the day after.
    expect(nine.nextSlots(at('2024-03-30T00:00:00Z'), 2).map(iso)).toEqual([
      '2024-03-30T08:00:00.000Z',
      '2024-03-31T07:00:00.000Z',
    ]);
  });

  it('skips a local time that does not exist on the DST change, and fires once on one that repeats', () => {
    // 02:30 does not exist in Berlin on 31 March 2024 and happens twice on 27 October 2024.
    const half = CronSchedule.parse('30 2 * * *', 'Europe/Berlin');
    const spring = half.nextSlots(at('2024-03-30T12:00:00Z'), 2).map(iso);
    expect(spring[0]).not.toMatch(/^2024-03-31T00:30/);
    const autumn = half.nextSlots(at('2024-10-26T12:00:00Z'), 2).map(iso);
    expect(autumn.filter((slot) => slot?.startsWith('2024-10-27'))).toHaveLength(1);
  });

  it('is UTC by default in the API, and supports seconds as a sixth field', () => {
    const everySecond = CronSchedule.parse('* * * * * *', 'UTC');
    expect(iso(everySecond.nextAfter(at('2024-01-10T08:00:00.500Z')))).toBe('2024-01-10T08:00:01.000Z');
    expect(iso(everySecond.nextAfter(at('2024-01-10T08:00:01.000Z')))).toBe('2024-01-10T08:00:02.000Z');
  });

  it("refuses a bad expression with croner's message, an unknown zone, a date, and a slot-less schedule", () => {
    expect(() => CronSchedule.parse('61 * * * *', 'UTC')).toThrow(/Invalid value for minute: 61/);
    expect(() => CronSchedule.parse('* * *', 'UTC')).toThrow(/exactly five, six, or seven/);
    for (const [expression, zone] of [
      ['61 * * * *', 'UTC'],
      ['* * * * *', 'Mars/Olympus_Mons'],
      ['2030-01-01T00:00:00', 'UTC'],
      ['0 0 30 2 *', 'UTC'],
    ] as const) {
      expect(() => CronSchedule.parse(expression, zone)).toThrow(
        expect.objectContaining({ code: 'VALIDATION_FAILED' }),
      );
    }
  });

  describe('latestBetween', () => {
    const everyFive = CronSchedule.parse('*/5 * * * *', 'UTC');

    it('finds the most recent slot in (after, until], none when the window holds none', () => {
      expect(iso(everyFive.latestBetween(at('2024-01-01T00:00:00Z'), at('2024-01-01T00:27:00Z')))).toBe(
        '2024-01-01T00:25:00.000Z',
      );
      // `after` is exclusive, `until` inclusive.
      expect(everyFive.latestBetween(at('2024-01-01T00:25:00Z'), at('2024-01-01T00:29:59Z'))).toBeUndefined();
      expect(iso(everyFive.latestBetween(at('2024-01-01T00:24:59Z'), at('2024-01-01T00:25:00Z')))).toBe(
        '2024-01-01T00:25:00.000Z',
      );
    });

    it('is quick across a long downtime of a dense schedule', () => {
      const everySecond = CronSchedule.parse('* * * * * *', 'UTC');
      const started = performance.now();
      expect(iso(everySecond.latestBetween(at('2024-01-01T00:00:00Z'), at('2024-03-01T00:00:00.400Z')))).toBe(
        '2024-03-01T00:00:00.000Z',
      );
      // Sparse within dense: every second of hour 3 only, a week later.
      const hourThree = CronSchedule.parse('* * 3 * * *', 'UTC');
      expect(iso(hourThree.latestBetween(at('2024-01-01T00:00:00Z'), at('2024-01-08T12:00:00Z')))).toBe(
        '2024-01-08T03:59:59.000Z',
      );
      expect(performance.now() - started).toBeLessThan(2000);
    });
  });
});

describe('scheduled event', () => {
  const trigger: TriggerRecord = {
    id: 'trg_0123',
    type: 'cron',
    functionName: 'report',
    qualifier: null,
    schedule: '0 9 * * *',
    timezone: 'Europe/Berlin',
    payloadJson: '{"report":"daily"}',
    missed: 'catch-up-once',
    enabled: true,
    createdAt: '2024-01-01T00:00:00.000Z',
    lastFiredSlot: null,
  };

  it('has the shape of an EventBridge Scheduled Event, the same for the same slot', () => {
    const slot = at('2024-01-10T08:00:00Z');
    const event = JSON.parse(scheduledEventJson(trigger, slot)) as Record<string, unknown>;
    expect(event).toStrictEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      'detail-type': 'Scheduled Event',
      source: 'strato.cron',
      time: '2024-01-10T08:00:00Z',
      resources: ['trg_0123'],
      detail: { report: 'daily' },
    });
    expect(scheduledEventJson(trigger, slot)).toBe(scheduledEventJson(trigger, slot));
    expect(scheduledEventJson(trigger, slot + 60_000)).not.toBe(scheduledEventJson(trigger, slot));
    expect(slotIdempotencyKey('trg_0123', slot)).toBe('cron:trg_0123:2024-01-10T08:00:00.000Z');
  });
});
