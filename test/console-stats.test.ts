import { invocationRecord } from './helpers/invocation-fixture.js';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvocationRecord } from '../src/core/invocation.js';
import { expectCode } from './helpers/expect-code.js';
import { statsBucket } from './helpers/stats-bucket.js';
import { deploySource, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server.stop();
});

// A fixed window far in the past, so the function's own deploy-time records cannot fall into it.
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

function record(functionName: string, offsetMs: number, fields: Partial<InvocationRecord>): InvocationRecord {
  return invocationRecord(functionName, {
    id: randomUUID(),
    startedAt: new Date(T0 + offsetMs).toISOString(),
    ...fields,
  });
}

/** 100 invocations in the first minute (durations 1..100 ms, every tenth cold, every 25th failing), 2 in the third. */
async function recordKnownWorkload(name: string): Promise<void> {
  const records = Array.from({ length: 100 }, (_, i) =>
    record(name, i * 500, {
      durationMs: i + 1,
      cold: i % 10 === 0,
      outcome: i % 25 === 24 ? 'error' : 'success',
    }),
  );
  records.push(record(name, 120_000, { durationMs: 40, outcome: 'timeout' }));
  records.push(record(name, 150_000, { durationMs: 60, cold: true }));
  await server.store.recordInvocations(records, []);
}

describe('GET /v1/functions/:name/stats', () => {
  it('computes requests, errors, cold starts and p50/p99 per bucket from the records', async () => {
    const name = uniqueName('stats');
    await deploySource(server.client, name, `export default async () => 1;`);
    await recordKnownWorkload(name);

    const stats = await server.client.stats(name, {
      since: new Date(T0).toISOString(),
      until: new Date(T0 + 180_000).toISOString(),
      bucket: '1m',
    });
    expect(stats).toMatchObject({
      functionName: name,
      since: new Date(T0).toISOString(),
      until: new Date(T0 + 180_000).toISOString(),
      bucketMs: 60_000,
      records: 102,
      truncated: false,
    });
    expect(stats.buckets).toEqual([
      // Durations 1..100: nearest-rank p50 is the 50th value, p99 the 99th.
      statsBucket(T0, [100, 4, 10], [50, 99]),
      statsBucket(T0 + 60_000, [0, 0, 0]),
      // Two values: p50 is the first, p99 the second.
      statsBucket(T0 + 120_000, [2, 1, 1], [40, 60]),
    ]);
  });

  it('counts a real invocation in the current window', async () => {
    const name = uniqueName('stats-live');
    await deploySource(server.client, name, `export default async () => 1;`);
    expect((await server.client.invoke(name, '{}')).status).toBe(200);
    await expect
      .poll(async () => (await server.client.stats(name, { since: '10m' })).records, { timeout: 5000 })
      .toBe(1);
    const stats = await server.client.stats(name, { since: '10m' });
    expect(stats.buckets).toHaveLength(10);
    expect(stats.buckets.reduce((sum, b) => sum + b.requests, 0)).toBe(1);
    expect(stats.buckets.reduce((sum, b) => sum + b.cold, 0)).toBe(1);
  });

  it('refuses too many buckets, an empty window and unknown functions', async () => {
    const name = uniqueName('stats-bad');
    await deploySource(server.client, name, `export default async () => 1;`);
    await expectCode(server.client.stats(name, { since: '2h', bucket: '1s' }), 'VALIDATION_FAILED');
    await expectCode(server.client.stats(name, { since: '1m', until: '2m' }), 'VALIDATION_FAILED');
    await expectCode(server.client.stats(name, { bucket: 'soon' }), 'VALIDATION_FAILED');
    await expectCode(server.client.stats(uniqueName('missing')), 'FUNCTION_NOT_FOUND');
  });
});

describe('GET /v1/functions/:name/invocations filters', () => {
  it('narrows by outcome, cold and time', async () => {
    const name = uniqueName('filtered');
    await deploySource(server.client, name, `export default async () => 1;`);
    await recordKnownWorkload(name);
    const list = async (filter: Parameters<typeof server.client.listInvocations>[1]): Promise<number> =>
      (await server.client.listInvocations(name, { limit: 1000, ...filter })).invocations.length;
    expect(await list({ outcome: 'error' })).toBe(4);
    expect(await list({ outcome: 'timeout' })).toBe(1);
    expect(await list({ cold: true })).toBe(11);
    expect(await list({ cold: false, outcome: 'success' })).toBe(86);
    expect(
      await list({
        since: new Date(T0 + 120_000).toISOString(),
        until: new Date(T0 + 150_000).toISOString(),
      }),
    ).toBe(1);
    await expectCode(
      server.client.listInvocations(name, { outcome: 'lost' as 'error' }),
      'VALIDATION_FAILED',
    );
  });
});
