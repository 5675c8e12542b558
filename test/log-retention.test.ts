import { afterEach, describe, expect, it } from 'vitest';
import type { LogLine } from '../src/core/invocation.js';
import { manualClock } from './helpers/manual-clock.js';
import { scrapeMetrics, valueOf } from './helpers/prometheus-text.js';
import { deploySource, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

const DAY = 86_400_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Prints `event.lines` lines of exactly `event.bytes` ASCII bytes, each starting with `event.tag`. */
const PRINTER = `export default async (event: { tag: string; lines: number; bytes: number }) => {
  for (let i = 0; i < event.lines; i++) console.log((event.tag + '-' + i).padEnd(event.bytes, '.'));
  return 'printed';
};`;

let server: TestServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function print(name: string, tag: string, lines: number, bytes: number): Promise<void> {
  const response = await server!.client.invoke(name, JSON.stringify({ tag, lines, bytes }));
  expect(response.status).toBe(200);
}

/** Waits until the recorder has written `count` lines of the function (records are written in batches). */
async function storedLines(name: string, count: number): Promise<LogLine[]> {
  await expect.poll(async () => (await server!.client.logs(name)).logs.length, { timeout: 5000 }).toBe(count);
  return (await server!.client.logs(name)).logs;
}

describe('log retention', () => {
  it('deletes lines older than logRetention on the minute sweep; search returns the rest', async () => {
    const clock = manualClock();
    server = await startTestServer({ logRetention: '7d' }, { clock });
    const name = uniqueName('retained');
    await deploySource(server.client, name, PRINTER);
    await print(name, 'old-a', 2, 20);
    await print(name, 'old-b', 2, 20);
    await storedLines(name, 4);
    // Every old line is strictly before `cut`, every new one at or after it.
    await sleep(2);
    const cut = Date.now();
    await sleep(2);
    await print(name, 'new-a', 3, 20);
    await storedLines(name, 7);

    // The sweep is armed for every 60 s; a week after `cut`, the old lines are past a 7-day retention.
    expect(clock.timers.map((timer) => timer.delayMs)).toEqual([60_000]);
    clock.fakeNow = cut + 7 * DAY;
    clock.timers[0]!.fire();
    // Joins the sweep the timer started.
    const swept = await server.logRetention.sweep();
    expect(swept.age).toEqual({ lines: 4, bytes: 80 });
    expect(swept.size.lines).toBe(0);

    const left = (await server.client.logs(name)).logs;
    expect(left.map((line) => line.message)).toEqual(
      ['new-a-0', 'new-a-1', 'new-a-2'].map((m) => m.padEnd(20, '.')),
    );
    expect((await server.client.logs(name, { q: 'NEW-A-1' })).logs).toHaveLength(1);
    expect((await server.client.logs(name, { q: 'old-' })).logs).toEqual([]);
    expect(await server.store.logUsage(name)).toEqual({ lines: 3, bytes: 60 });
    expect(valueOf(await scrapeMetrics(server), 'strato_log_lines_expired_total', { reason: 'age' })).toBe(4);
    // The next sweep is armed once this one is done.
    await expect.poll(() => clock.timers.length).toBe(2);
  });

  it('keeps the store under logRetentionBytes by deleting the oldest lines first, across functions', async () => {
    server = await startTestServer({ logRetentionBytes: '1kb' });
    const first = uniqueName('size-a');
    const second = uniqueName('size-b');
    await deploySource(server.client, first, PRINTER);
    await deploySource(server.client, second, PRINTER);
    // 3 x 5 lines of 100 bytes: 1,500 bytes, 476 over the cap; distinct milliseconds keep "oldest" exact.
    await print(first, 'one', 5, 100);
    await storedLines(first, 5);
    await sleep(2);
    await print(second, 'two', 5, 100);
    await sleep(2);
    await print(first, 'three', 5, 100);
    await storedLines(first, 10);
    await storedLines(second, 5);

    const swept = await server.logRetention.sweep();
    // Exactly the five oldest lines (500 bytes), not a whole batch: 1,000 bytes stay.
    expect(swept.size).toEqual({ lines: 5, bytes: 500 });
    expect(await server.store.logUsage()).toEqual({ lines: 10, bytes: 1000 });
    const firstLeft = (await server.client.logs(first)).logs.map((line) => line.message.split('.')[0]);
    expect(firstLeft).toEqual(['three-0', 'three-1', 'three-2', 'three-3', 'three-4']);
    expect((await server.client.logs(second)).logs).toHaveLength(5);
    expect((await server.client.logs(first, { q: 'one-' })).logs).toEqual([]);
    expect((await server.client.logs(first, { q: 'three-2' })).logs).toHaveLength(1);
    const samples = await scrapeMetrics(server);
    expect(valueOf(samples, 'strato_log_lines_expired_total', { reason: 'size' })).toBe(5);
    expect(valueOf(samples, 'strato_log_lines_expired_total', { reason: 'age' })).toBe(0);

    // Under the cap, a sweep deletes nothing.
    expect((await server.logRetention.sweep()).size).toEqual({ lines: 0, bytes: 0 });
  });

  it('stops its sweep on shutdown', async () => {
    const clock = manualClock();
    server = await startTestServer({}, { clock });
    expect(clock.timers).toHaveLength(1);
    await server.stop();
    server = undefined;
    expect(clock.timers).toHaveLength(0);
  });
});
