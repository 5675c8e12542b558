import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StratoError } from '../src/core/strato-error.js';
import {
  deploySource,
  invokeJson,
  startTestServer,
  uniqueName,
  waitForInvocations,
  type TestServer,
} from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ keepAlive: '30s', maxQueueWait: '300ms' });
});
afterAll(async () => {
  await server.stop();
});

/** A module worker that waits `ms` (default 200) and reports the most requests its isolate held at once. */
const SLOW_FETCH = `
let active = 0;
let peak = 0;
export default {
  async fetch(request: Request) {
    const { n, ms, spin } = (await request.json()) as { n: number; ms?: number; spin?: boolean };
    active++;
    peak = Math.max(peak, active);
    console.log('start ' + n);
    if (spin) for (;;) {}
    await new Promise((resolve) => setTimeout(resolve, ms ?? 200));
    console.log('end ' + n);
    active--;
    return new Response(JSON.stringify({ n, peak }), { headers: { 'content-type': 'application/json' } });
  },
};`;

async function parallel(name: string, count: number, event: (n: number) => object = (n) => ({ n })) {
  return Promise.all(Array.from({ length: count }, (_, n) => invokeJson(server.client, name, event(n))));
}

/** Waits until the function's one instance holds `count` invocations. */
async function untilInFlight(name: string, count: number): Promise<void> {
  await expect
    .poll(async () => (await server.client.instances(name)).instances[0]?.inFlight, {
      timeout: 3000,
      interval: 20,
    })
    .toBe(count);
}

function refusal(promise: Promise<unknown>): Promise<StratoError> {
  return promise.then(
    () => {
      throw new Error('expected the request to be refused');
    },
    (error: unknown) => error as StratoError,
  );
}

describe('instanceConcurrency: several requests per isolate', () => {
  it('serves 30 slow requests with instanceConcurrency 10 on at most 3 instances, logs kept per invocation', async () => {
    const name = uniqueName('shared');
    await deploySource(server.client, name, SLOW_FETCH, { concurrency: 30, instanceConcurrency: 10 });
    const results = await parallel(name, 30);
    expect(results.map((r) => r.status)).toEqual(Array<number>(30).fill(200));
    expect(results.map((r) => (r.body as { n: number }).n)).toEqual([...Array(30).keys()]);
    const { instances } = await server.client.instances(name);
    expect(instances.length).toBeLessThanOrEqual(3);
    expect(results.filter((r) => r.cold).length).toBeLessThanOrEqual(3);
    expect(Math.max(...results.map((r) => (r.body as { peak: number }).peak))).toBeGreaterThan(1);
    expect(instances.every((i) => i.instanceConcurrency === 10 && i.inFlight === 0)).toBe(true);
    expect(instances.reduce((sum, i) => sum + i.invocations, 0)).toBe(30);
    // Each invocation's record holds exactly its own two lines, although 10 ran interleaved per isolate.
    await waitForInvocations(server.client, name, 30);
    for (const result of results) {
      const n = (result.body as { n: number }).n;
      const { logs } = await server.client.getInvocation(result.invocationId!);
      expect(logs.map((line) => line.message)).toEqual([`start ${n}`, `end ${n}`]);
    }
  });

  it('shows in-flight requests per instance while they run', async () => {
    const name = uniqueName('ps');
    await deploySource(server.client, name, SLOW_FETCH, { instanceConcurrency: 10 });
    const running = parallel(name, 4, (n) => ({ n, ms: 600 }));
    await expect
      .poll(async () => (await server.client.instances(name)).instances.map((i) => [i.inFlight, i.state]), {
        timeout: 3000,
        interval: 20,
      })
      .toEqual([[4, expect.stringMatching(/^(starting|busy)$/)]]);
    expect((await running).every((r) => r.status === 200)).toBe(true);
    expect((await server.client.instances(name)).instances.map((i) => [i.inFlight, i.state])).toEqual([
      [0, 'idle'],
    ]);
  });

  it('uses one instance per request with the default of 1', async () => {
    const name = uniqueName('single');
    await deploySource(server.client, name, SLOW_FETCH, { concurrency: 30 });
    const results = await parallel(name, 30);
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(results.every((r) => (r.body as { peak: number }).peak === 1)).toBe(true);
    expect(results.filter((r) => r.cold)).toHaveLength(30);
    expect((await server.client.instances(name)).instances).toHaveLength(30);
  });

  it('still holds maxConcurrency in requests: the excess gets 429', async () => {
    const name = uniqueName('capped');
    await deploySource(server.client, name, SLOW_FETCH, { maxConcurrency: 4, instanceConcurrency: 10 });
    const slow = parallel(name, 4, (n) => ({ n, ms: 1500 }));
    await untilInFlight(name, 4);
    const response = await server.client.invoke(name, JSON.stringify({ n: 99 }));
    expect(response.status).toBe(429);
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'TOO_MANY_REQUESTS' } });
    expect((await slow).every((r) => r.status === 200)).toBe(true);
    expect((await server.client.instances(name)).instances).toHaveLength(1);
  });

  it('refuses instanceConcurrency above 1 for a Lambda-style handler, at deploy and in a settings change', async () => {
    const name = uniqueName('lambda');
    const deploy = await refusal(
      deploySource(server.client, name, `export const handler = async () => 'x';`, {
        instanceConcurrency: 5,
      }),
    );
    expect(deploy).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(deploy.message).toMatch(/Lambda-style handler/);
    await deploySource(server.client, name, `export const handler = async () => 'x';`);
    const update = await refusal(server.client.updateSettings(name, { instanceConcurrency: 5 }));
    expect(update).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect((await server.client.getFunction(name)).version.config.instanceConcurrency).toBeUndefined();
    // 1 is always fine, and is not stored.
    await server.client.updateSettings(name, { instanceConcurrency: 1 });
    expect((await invokeJson(server.client, name)).body).toBe('x');
  });

  it('refuses out-of-range values', async () => {
    const name = uniqueName('range');
    for (const instanceConcurrency of [0, 1001, 2.5]) {
      const error = await refusal(deploySource(server.client, name, SLOW_FETCH, { instanceConcurrency }));
      expect(error).toMatchObject({ code: 'VALIDATION_FAILED' });
    }
  });

  it('times out one request alone while the isolate is free: its siblings succeed on the same instance', async () => {
    const name = uniqueName('timeout');
    await deploySource(server.client, name, SLOW_FETCH, { instanceConcurrency: 10, timeout: '500ms' });
    const results = await parallel(name, 4, (n) => ({ n, ms: n === 0 ? 5000 : 200 }));
    expect(results[0]).toMatchObject({ status: 504, body: { error: { code: 'INVOCATION_TIMEOUT' } } });
    expect(results.slice(1).map((r) => r.status)).toEqual([200, 200, 200]);
    const { instances } = await server.client.instances(name);
    expect(instances).toHaveLength(1);
    expect(await invokeJson(server.client, name, { n: 9 })).toMatchObject({ status: 200, cold: false });
  });

  it('fails the siblings as crashed when a busy loop needs the isolate terminated', async () => {
    const name = uniqueName('spin');
    await deploySource(server.client, name, SLOW_FETCH, { instanceConcurrency: 10, timeout: '1s' });
    const waiting = parallel(name, 2, (n) => ({ n, ms: 5000 }));
    await untilInFlight(name, 2);
    const spinning = await invokeJson(server.client, name, { n: 2, spin: true });
    const siblings = await waiting;
    const codeOf = (r: { body: unknown }) => (r.body as { error: { code: string } }).error.code;
    // The spinner's own call was cut (at the siblings' earlier deadline, since it held them up): it timed
    // out; the siblings lost the isolate with it.
    expect(codeOf(spinning)).toBe('INVOCATION_TIMEOUT');
    expect(siblings.map(codeOf)).toEqual(['SANDBOX_CRASHED', 'SANDBOX_CRASHED']);
    expect(await invokeJson(server.client, name, { n: 3 })).toMatchObject({ status: 200, cold: true });
  });
});
