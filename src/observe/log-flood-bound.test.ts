import { describe, expect, it } from 'vitest';
import type { InvocationRecord, LogLine } from '../core/invocation.js';
import { invocationRecord } from '../../test/helpers/invocation-fixture.js';
import { LogFloodBound } from './log-flood-bound.js';

const MINUTE = 60_000;
/** A window boundary, so tests can say "30 s into the minute". */
const T0 = 1_700_000_040_000 - (1_700_000_040_000 % MINUTE);

function invocation(functionName: string): InvocationRecord {
  return invocationRecord(functionName, { startedAt: new Date(T0).toISOString() });
}

/** `count` lines of exactly `bytes` bytes each. */
function linesOf(record: InvocationRecord, count: number, bytes: number): LogLine[] {
  return Array.from({ length: count }, (_, seq) => ({
    invocationId: record.id,
    functionName: record.functionName,
    seq,
    ts: T0,
    level: 'info',
    message: 'x'.repeat(bytes),
  }));
}

function boundAt(bytesPerWindow: number): { bound: LogFloodBound; clock: { now: number } } {
  const clock = { now: T0 };
  return { bound: new LogFloodBound({ bytesPerWindow, now: () => clock.now }), clock };
}

/** Admits `count` lines of `bytes` for a new invocation of `fn`; answers how many were kept. */
function keptOf(bound: LogFloodBound, fn: string, count: number, bytes: number): number {
  const record = invocation(fn);
  const { lines, dropped } = bound.admit(record, linesOf(record, count, bytes));
  // The marker is not one of the function's lines.
  return lines.length - (dropped > 0 ? 1 : 0);
}

describe('LogFloodBound', () => {
  it('keeps lines within the budget and drops the rest with one marker and logTruncated', () => {
    const { bound } = boundAt(1000);
    const record = invocation('flooder');
    const lines = linesOf(record, 30, 100);
    const result = bound.admit(record, lines);
    expect(result.dropped).toBe(20);
    expect(result.lines.slice(0, 10)).toStrictEqual(lines.slice(0, 10));
    expect(result.lines).toHaveLength(11);
    expect(result.lines[10]).toMatchObject({
      invocationId: record.id,
      functionName: 'flooder',
      seq: 30,
      level: 'warn',
      message: '[strato] log flood: 20 of 30 lines dropped (function over 1000 log bytes per minute)',
    });
    expect(result.record).toStrictEqual({ ...record, logTruncated: true });
    expect(record.logTruncated).toBe(false);
  });

  it('leaves an invocation within budget untouched', () => {
    const { bound } = boundAt(1000);
    const record = invocation('quiet');
    const lines = linesOf(record, 10, 100);
    const result = bound.admit(record, lines);
    expect(result).toStrictEqual({ record, lines, dropped: 0 });
    expect(result.record).toBe(record);
  });

  it('shares the budget between invocations of a function, not between functions', () => {
    const { bound } = boundAt(1000);
    expect(keptOf(bound, 'a', 6, 100)).toBe(6);
    expect(keptOf(bound, 'a', 6, 100)).toBe(4);
    expect(keptOf(bound, 'a', 3, 100)).toBe(0);
    expect(keptOf(bound, 'neighbour', 10, 100)).toBe(10);
  });

  it('keeps a prefix: a small line after one that did not fit is dropped too', () => {
    const { bound } = boundAt(1000);
    const record = invocation('prefix');
    const lines = [...linesOf(record, 1, 900), ...linesOf(record, 1, 200), ...linesOf(record, 1, 10)].map(
      (line, seq) => ({ ...line, seq }),
    );
    const result = bound.admit(record, lines);
    expect(result.dropped).toBe(2);
    expect(result.lines.map((line) => line.seq)).toEqual([0, 3]);
  });

  it('counts UTF-8 bytes, not characters', () => {
    const { bound } = boundAt(10);
    const record = invocation('utf8');
    // 'é' is 2 bytes: 5 of them fill the budget, the 6th does not fit.
    const lines = linesOf(record, 6, 1).map((line) => ({ ...line, message: 'é' }));
    expect(bound.admit(record, lines).dropped).toBe(1);
  });

  it('slides: the previous minute counts in proportion to its part of the last 60 s', () => {
    const { bound, clock } = boundAt(1000);
    expect(keptOf(bound, 'slide', 10, 100)).toBe(10);
    // Halfway into the next minute half of the previous one still counts: 500 bytes are free.
    clock.now = T0 + MINUTE + MINUTE / 2;
    expect(keptOf(bound, 'slide', 10, 100)).toBe(5);
    // At the start of the minute after, that minute (500 bytes) counts whole.
    clock.now = T0 + 2 * MINUTE;
    expect(keptOf(bound, 'slide', 10, 100)).toBe(5);
    // A minute with nothing in between: the budget is whole again.
    clock.now = T0 + 4 * MINUTE;
    expect(keptOf(bound, 'slide', 12, 100)).toBe(10);
  });

  it('does not forget the budget used when the clock steps back', () => {
    const { bound, clock } = boundAt(1000);
    clock.now = T0 + MINUTE / 2;
    expect(keptOf(bound, 'stepper', 10, 100)).toBe(10);
    clock.now = T0 - 1;
    expect(keptOf(bound, 'stepper', 1, 100)).toBe(0);
  });

  it('forgets functions that have not logged for two windows', () => {
    const { bound, clock } = boundAt(1000);
    keptOf(bound, 'gone', 1, 1);
    keptOf(bound, 'stays', 1, 1);
    clock.now = T0 + 2 * MINUTE;
    keptOf(bound, 'stays', 1, 1);
    expect(bound.trackedFunctions).toBe(1);
  });

  it('is off with a budget of 0', () => {
    const { bound } = boundAt(0);
    expect(keptOf(bound, 'unbounded', 1000, 10_000)).toBe(1000);
  });
});
