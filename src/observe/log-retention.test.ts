import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogLine } from '../core/invocation.js';
import type { Store } from '../core/store.js';
import { openSqliteStore } from '../store/index.js';
import { invocationRecord } from '../../test/helpers/invocation-fixture.js';
import { manualClock } from '../../test/helpers/manual-clock.js';
import { LogRetention, type LogRetentionOptions } from './log-retention.js';
import type { LogExpiryReason } from './metrics.js';

const DAY = 86_400_000;
const NOW = 1_700_000_000_000;

let store: Store;
beforeEach(async () => {
  store = await openSqliteStore({ file: ':memory:' });
});
afterEach(async () => {
  await store.close();
});

/** `count` lines of 10 bytes from `firstTs` on, one per ms, in one invocation of `fn`. */
async function seed(fn: string, firstTs: number, count: number): Promise<void> {
  const record = invocationRecord(fn, { id: `${fn}-${firstTs}`, logBytes: count * 10 });
  const lines: LogLine[] = Array.from({ length: count }, (_, seq) => ({
    invocationId: record.id,
    functionName: fn,
    seq,
    ts: firstTs + seq,
    level: 'info',
    message: `${seq}`.padEnd(10, '.'),
  }));
  await store.recordInvocations([record], lines);
}

function retention(overrides: Partial<LogRetentionOptions> = {}) {
  const counted: Array<[LogExpiryReason, number]> = [];
  const clock = manualClock(NOW);
  const sweeper = new LogRetention({
    store,
    maxAgeMs: 7 * DAY,
    maxBytes: 0,
    logger: pino({ level: 'silent' }),
    metrics: { logLinesExpired: (reason, lines) => counted.push([reason, lines]) },
    clock,
    batchSize: 3,
    ...overrides,
  });
  return { sweeper, counted, clock };
}

describe('LogRetention', () => {
  it('expires by age in batches, then trims by size, counting each batch', async () => {
    await seed('a', NOW - 8 * DAY, 7);
    await seed('b', NOW - DAY, 5);
    const { sweeper, counted } = retention({ maxBytes: 30 });
    expect(await sweeper.sweep()).toEqual({
      age: { lines: 7, bytes: 70 },
      size: { lines: 2, bytes: 20 },
    });
    expect(counted).toEqual([
      ['age', 3],
      ['age', 3],
      ['age', 1],
      ['size', 2],
    ]);
    expect(await store.logUsage()).toEqual({ lines: 3, bytes: 30 });
    expect((await store.listLogs({ functionName: 'b', limit: 10 })).map((l) => l.seq)).toEqual([2, 3, 4]);
  });

  it('leaves everything with both limits off', async () => {
    await seed('old', 1, 4);
    const { sweeper, counted } = retention({ maxAgeMs: 0, maxBytes: 0 });
    expect(await sweeper.sweep()).toEqual({ age: { lines: 0, bytes: 0 }, size: { lines: 0, bytes: 0 } });
    expect(counted).toEqual([]);
    expect(await store.logUsage()).toEqual({ lines: 4, bytes: 40 });
  });

  it('sweeps on its interval, joins a running sweep, and re-arms after each', async () => {
    await seed('old', NOW - 8 * DAY, 2);
    const { sweeper, clock } = retention({ intervalMs: 60_000 });
    sweeper.start();
    sweeper.start();
    expect(clock.timers.map((timer) => timer.delayMs)).toEqual([60_000]);
    clock.timers.shift()!.fire();
    expect((await sweeper.sweep()).age.lines).toBe(2);
    await expect.poll(() => clock.timers.length).toBe(1);
    await sweeper.stop();
    expect(clock.timers).toEqual([]);
  });

  it('stops between batches when stopped mid-sweep, and arms nothing after', async () => {
    await seed('old', NOW - 8 * DAY, 9);
    const { sweeper, clock, counted } = retention({ maxBytes: 1 });
    sweeper.start();
    clock.timers.shift()!.fire();
    // The first batch is in flight; stop lets it finish and ends the sweep there, size trimming included.
    await sweeper.stop();
    expect(counted).toEqual([['age', 3]]);
    expect(await store.logUsage()).toEqual({ lines: 6, bytes: 60 });
    expect(clock.timers).toEqual([]);
  });

  it('logs a failed sweep and keeps sweeping on its interval', async () => {
    const failing: LogRetentionOptions['store'] = {
      expireLogs: () => Promise.reject(new Error('store down')),
      trimLogs: () => Promise.resolve({ lines: 0, bytes: 0 }),
    };
    const { sweeper, clock } = retention({ store: failing });
    sweeper.start();
    clock.timers.shift()!.fire();
    await expect.poll(() => clock.timers.length).toBe(1);
    await sweeper.stop();
  });
});
