import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/core/clock.js';
import type { LogLine } from '../src/core/invocation.js';
import { scrapeMetrics, valueOf } from './helpers/prometheus-text.js';
import { deploySource, invokeJson, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

const BUDGET = 4096;

/** Prints `event.lines` lines of 50 ASCII bytes. */
const PRINTER = `export default async (event: { lines: number }) => {
  for (let i = 0; i < event.lines; i++) console.log(('line ' + i).padEnd(50, '.'));
  return 'survived';
};`;

let server: TestServer;
beforeAll(async () => {
  // One instant for the whole file: the flood window cannot roll over between two invocations.
  const frozen = Date.now();
  server = await startTestServer(
    // The per-invocation cap is well above what the functions print: only the per-function bound applies.
    { logBytesPerFunctionPerMinute: BUDGET, logLimitPerInvocation: '2mb' },
    {
      clock: { now: () => frozen, setTimer: (callback, delayMs) => systemClock.setTimer(callback, delayMs) },
    },
  );
});
afterAll(async () => {
  await server.stop();
});

async function linesOf(name: string, invocationId: string): Promise<LogLine[]> {
  await expect
    .poll(async () => (await server.client.logs(name, { invocationId, limit: 10_000 })).logs.length, {
      timeout: 5000,
    })
    .toBeGreaterThan(0);
  return (await server.client.logs(name, { invocationId, limit: 10_000 })).logs;
}

describe('log flood bound per function', () => {
  it('drops and counts lines past logBytesPerFunctionPerMinute, marks them, and leaves a neighbour alone', async () => {
    const flooder = uniqueName('flooder');
    const neighbour = uniqueName('neighbour');
    await deploySource(server.client, flooder, PRINTER, { timeout: '5s' });
    await deploySource(server.client, neighbour, PRINTER);

    // 10,000 lines of 50 bytes: 500 KB, over a hundred times the budget.
    const flood = await invokeJson(server.client, flooder, { lines: 10_000 });
    expect(flood).toMatchObject({ status: 200, body: 'survived' });
    const calm = await invokeJson(server.client, neighbour, { lines: 50 });
    expect(calm).toMatchObject({ status: 200, body: 'survived' });

    const flooded = await linesOf(flooder, flood.invocationId!);
    const marker = flooded.at(-1)!;
    const kept = flooded.slice(0, -1);
    // 81 lines of 50 bytes fit in 4,096; the rest is dropped, and one marker says how many.
    expect(kept).toHaveLength(Math.floor(BUDGET / 50));
    expect(kept.map((line) => line.seq)).toEqual(kept.map((_, i) => i));
    expect(marker).toMatchObject({ level: 'warn', seq: 10_000 });
    expect(marker.message).toBe(
      `[strato] log flood: ${10_000 - kept.length} of 10000 lines dropped (function over ${BUDGET} log bytes per minute)`,
    );
    const { invocation } = await server.client.getInvocation(flood.invocationId!);
    expect(invocation).toMatchObject({ outcome: 'success', logTruncated: true });
    // The function printed everything and was not cut short; only storage was bounded.
    expect(invocation.logBytes).toBeGreaterThan(10_000 * 50);

    // The neighbour has its own budget: every line stored, nothing marked.
    const calmLines = await linesOf(neighbour, calm.invocationId!);
    expect(calmLines).toHaveLength(50);
    expect(calmLines.every((line) => !line.message.startsWith('[strato]'))).toBe(true);
    expect((await server.client.getInvocation(calm.invocationId!)).invocation.logTruncated).toBe(false);

    // Still within the same minute: the flooder's next invocation keeps no line of its own, only the marker.
    const again = await invokeJson(server.client, flooder, { lines: 10 });
    expect(again).toMatchObject({ status: 200, body: 'survived' });
    const againLines = await linesOf(flooder, again.invocationId!);
    expect(againLines.map((line) => line.message)).toEqual([
      `[strato] log flood: 10 of 10 lines dropped (function over ${BUDGET} log bytes per minute)`,
    ]);

    const samples = await scrapeMetrics(server);
    expect(valueOf(samples, 'strato_log_lines_dropped_total', { function: flooder })).toBe(
      10_000 - kept.length + 10,
    );
    expect(valueOf(samples, 'strato_log_lines_dropped_total', { function: neighbour })).toBe(0);
  });
});
