import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploySource, invokeJson, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ keepAlive: '400ms', maxQueueWait: '1500ms' });
});
afterAll(async () => {
  await server.stop();
});

describe('instances: warm reuse, keep-alive, concurrency', () => {
  it('reuses a warm instance: the first call is cold, the second warm, state survives', async () => {
    const name = uniqueName('warm');
    await deploySource(server.client, name, `let calls = 0; export default async () => ++calls;`);
    const first = await invokeJson(server.client, name);
    const second = await invokeJson(server.client, name);
    expect(first).toMatchObject({ status: 200, body: 1, cold: true });
    expect(second).toMatchObject({ status: 200, body: 2, cold: false });
    const { invocations } = await waitForInvocations(name, 2);
    expect(invocations.map((i) => i.cold).sort()).toEqual([false, true]);
    const cold = invocations.find((i) => i.cold)!;
    expect(cold.initDurationMs).toBeGreaterThan(0);
    expect(invocations.find((i) => !i.cold)!.initDurationMs).toBe(0);
  });

  it('a new version gets a new instance', async () => {
    const name = uniqueName('new-version');
    await deploySource(server.client, name, `export default async () => 'v1';`);
    expect(await invokeJson(server.client, name)).toMatchObject({ body: 'v1', cold: true });
    await deploySource(server.client, name, `export default async () => 'v2';`);
    expect(await invokeJson(server.client, name)).toMatchObject({ body: 'v2', cold: true });
  });

  it('reaps idle instances after the keep-alive, so the next call is cold', async () => {
    const name = uniqueName('reaped');
    await deploySource(server.client, name, `export default async () => 'x';`);
    await invokeJson(server.client, name);
    expect((await server.client.instances(name)).instances).toHaveLength(1);
    expect((await server.client.instances(name)).instances[0]).toMatchObject({
      state: 'idle',
      version: 1,
      tier: 'isolate',
    });
    let remaining = 1;
    for (let attempt = 0; attempt < 40 && remaining > 0; attempt++) {
      await sleep(100);
      remaining = (await server.client.instances(name)).instances.length;
    }
    expect(remaining).toBe(0);
    expect(await invokeJson(server.client, name)).toMatchObject({ status: 200, cold: true });
  });

  it('starts a new instance per concurrent request, up to the function concurrency', async () => {
    const name = uniqueName('concurrent');
    await deploySource(
      server.client,
      name,
      `let active = 0; let peak = 0;
       export default async () => { active++; peak = Math.max(peak, active); await new Promise((r) => setTimeout(r, 150)); active--; return peak; };`,
      { concurrency: 2 },
    );
    const results = await Promise.all(Array.from({ length: 6 }, () => invokeJson(server.client, name)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    // Each instance serves one request at a time: its own peak is 1.
    expect(results.every((r) => r.body === 1)).toBe(true);
    expect(results.filter((r) => r.cold)).toHaveLength(2);
    expect((await server.client.instances(name)).instances).toHaveLength(2);
  });

  it('answers 429 with Retry-After when no instance frees up within the queue wait', async () => {
    const name = uniqueName('saturated');
    await deploySource(
      server.client,
      name,
      `export default async () => { await new Promise((r) => setTimeout(r, 2500)); return 'slow'; };`,
      {
        concurrency: 1,
      },
    );
    const slow = invokeJson(server.client, name);
    await sleep(100);
    const response = await server.client.invoke(name, '{}');
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'TOO_MANY_REQUESTS' } });
    expect(await slow).toMatchObject({ status: 200, body: 'slow' });
  });
});

async function waitForInvocations(name: string, count: number) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const page = await server.client.listInvocations(name);
    if (page.invocations.length >= count) return page;
    await sleep(50);
  }
  throw new Error(`fewer than ${count} invocations recorded for ${name}`);
}
