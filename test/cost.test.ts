import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvocationRecord } from '../src/core/index.js';
import { expectCode } from './helpers/expect-code.js';
import { deploySource, invokeJson, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

/** The function's records once `count` of them are stored (the recorder writes in batches). */
async function recordsOf(name: string, count: number): Promise<InvocationRecord[]> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const { invocations } = await server.client.listInvocations(name, { limit: 1000 });
    if (invocations.length >= count) return invocations;
    await sleep(50);
  }
  throw new Error(`${name}: fewer than ${count} invocations were recorded`);
}

describe('GET /v1/cost against real invocations', () => {
  it('agrees with the invocation records: requests, billed ms, GB-s, errors and peak concurrency', async () => {
    const sleepy = uniqueName('cost-sleepy');
    const flaky = uniqueName('cost-flaky');
    await deploySource(
      server.client,
      sleepy,
      `export default async () => { await new Promise((r) => setTimeout(r, 300)); return 'slept'; };`,
      { memoryMb: 64 },
    );
    await deploySource(
      server.client,
      flaky,
      `export default async (e: { fail?: boolean }) => { if (e.fail) throw new Error('flaky'); return 'ok'; };`,
      { memoryMb: 256 },
    );
    // Three at once: each starts while the others sleep, so three are in flight together.
    const together = await Promise.all([1, 2, 3].map(() => invokeJson(server.client, sleepy)));
    expect(together.map((reply) => reply.status)).toEqual([200, 200, 200]);
    for (const event of [{}, { fail: true }, {}, { fail: true }, {}])
      await invokeJson(server.client, flaky, event);

    const sleepyRecords = await recordsOf(sleepy, 3);
    const flakyRecords = await recordsOf(flaky, 5);
    const report = await server.client.getCostReport({ since: '1h', granularity: 'hour' });

    for (const records of [sleepyRecords, flakyRecords]) {
      const name = records[0]!.functionName;
      const line = report.functions.find((fn) => fn.functionName === name);
      const billedMs = records.reduce((sum, record) => sum + record.billedMs, 0);
      const mbMs = records.reduce((sum, record) => sum + record.billedMs * record.memoryMb, 0);
      expect(line).toMatchObject({
        requests: records.length,
        billedMs,
        errors: records.filter((record) => record.outcome !== 'success').length,
        peakConcurrency: Math.max(...records.map((record) => record.inFlight)),
      });
      expect(line?.gbSeconds).toBeCloseTo(mbMs / 1024 / 1000, 12);
    }
    expect(report.functions.find((fn) => fn.functionName === sleepy)?.peakConcurrency).toBe(3);
    expect(report.functions.find((fn) => fn.functionName === flaky)?.errors).toBe(2);
    // Each 300 ms sleeper bills at least 300 ms of 64 MB.
    expect(sleepyRecords.every((record) => record.billedMs >= 300 && record.memoryMb === 64)).toBe(true);

    // The series holds the same requests as the functions, hour by hour.
    const seriesRequests = report.series.reduce((sum, point) => sum + point.requests, 0);
    expect(seriesRequests).toBe(report.total.requests);
    expect(report.total.requests).toBeGreaterThanOrEqual(8);
    expect(report.breakEven.requestsPerSecond).toBeGreaterThan(0);
    expect(report.breakEven.formula).toMatch(/^requestsPerSecond = instances × vmHourly \/ 3600/);

    const onlyFlaky = await server.client.getCostReport({ since: '1h', function: flaky, vmMemoryMb: 128 });
    expect(onlyFlaky.functions.map((fn) => fn.functionName)).toEqual([flaky]);
    expect(onlyFlaky.prices).toMatchObject({ vmMemoryMb: 128, gbSecond: 0.0000166667, request: 0.2 });
    // One 256 MB invocation in flight at a time needs two 128 MB VMs.
    expect(onlyFlaky.vm.instances).toBe(2);
  });

  it('answers the documented defaults and refuses bad queries with VALIDATION_FAILED', async () => {
    const report = await server.client.getCostReport();
    expect(report.granularity).toBe('hour');
    expect(report.prices).toStrictEqual({
      gbSecond: 0.0000166667,
      request: 0.2,
      vmHourly: 0.0416,
      vmMemoryMb: 4096,
    });
    // Seven days back, from the start of that hour.
    const since = Date.parse(report.since);
    expect(since % 3_600_000).toBe(0);
    expect(Date.parse(report.until) - since).toBeGreaterThanOrEqual(7 * 24 * 3_600_000);
    expect(Date.parse(report.until) - since).toBeLessThan(7 * 24 * 3_600_000 + 3_600_000);
    expect(report.series.length).toBeGreaterThanOrEqual(168);

    const badQueries: Array<Record<string, string>> = [
      { granularity: 'week' },
      { priceGbSecond: '-1' },
      { vmMemoryMb: '0' },
      { since: 'yesterday' },
      { since: '1h', until: '2h' },
      { since: '400d' },
      { colour: 'blue' },
    ];
    for (const bad of badQueries) {
      const response = await server.authedFetch(
        `${server.url}/v1/cost?${new URLSearchParams(bad).toString()}`,
      );
      expect(response.status, JSON.stringify(bad)).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
    }
    await expectCode(server.client.getCostReport({ granularity: 'fortnight' as 'day' }), 'VALIDATION_FAILED');
  });
});
