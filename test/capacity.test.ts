import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { deploySource, startTestServer, uniqueName, type TestServer } from './helpers/server.js';
import type { ServerConfigInput } from '../src/config/server-config.js';

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

async function serverWith(overrides: Partial<ServerConfigInput>): Promise<TestServer> {
  const server = await startTestServer(overrides);
  servers.push(server);
  return server;
}

const sleepy = (ms: number) =>
  `export default async (event) => { await new Promise((r) => setTimeout(r, ${ms})); return { ok: true, n: event.n ?? null }; };`;

async function invoke(server: TestServer, name: string, n = 0): Promise<Response> {
  return server.authedFetch(`${server.url}/v1/functions/${name}/invoke`, {
    method: 'POST',
    body: JSON.stringify({ n }),
  });
}

/** Samples how many instances a function has (and how many are busy) while `work` runs. */
async function sampleWhile<T>(
  server: TestServer,
  name: string,
  work: Promise<T>,
): Promise<{ result: T; maxInstances: number; maxBusy: number }> {
  let maxInstances = 0;
  let maxBusy = 0;
  let done = false;
  const sampling = (async () => {
    while (!done) {
      const instances = server.scheduler.list(name);
      maxInstances = Math.max(maxInstances, instances.length);
      maxBusy = Math.max(maxBusy, instances.filter((i) => i.state !== 'idle').length);
      await sleep(5);
    }
  })();
  const result = await work;
  done = true;
  await sampling;
  return { result, maxInstances, maxBusy };
}

describe('capacity: concurrency caps, reservations, memory, scale to zero, provisioned instances', () => {
  it('holds max concurrency under 200 parallel requests; the excess waits, then gets 429 with Retry-After', async () => {
    const server = await serverWith({ maxQueueWait: 400 });
    const name = uniqueName('cap-max');
    await deploySource(server.client, name, sleepy(100), { maxConcurrency: 5 });
    const { result, maxInstances } = await sampleWhile(
      server,
      name,
      Promise.all(Array.from({ length: 200 }, (_, n) => invoke(server, name, n))),
    );
    expect(maxInstances).toBeLessThanOrEqual(5);
    const statuses = result.map((response) => response.status);
    expect(new Set(statuses)).toEqual(new Set([200, 429]));
    // Those that waited got through as instances freed up: more than one round of 5.
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThan(5);
    const refused = result.find((response) => response.status === 429)!;
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toMatchObject({ error: { code: 'TOO_MANY_REQUESTS' } });
  });

  it('keeps a reserved function serving while a noisy neighbour floods the node', async () => {
    const server = await serverWith({ totalConcurrency: 20, maxQueueWait: 2000 });
    const quiet = uniqueName('cap-reserved');
    const noisy = uniqueName('cap-noisy');
    await deploySource(server.client, quiet, sleepy(20), { reservedConcurrency: 5 });
    await deploySource(server.client, noisy, sleepy(300), { maxConcurrency: 100 });
    const flood = sampleWhile(
      server,
      noisy,
      Promise.all(Array.from({ length: 60 }, (_, n) => invoke(server, noisy, n))),
    );
    await sleep(100);
    const quietCalls = await Promise.all(Array.from({ length: 5 }, (_, n) => invoke(server, quiet, n)));
    expect(quietCalls.map((response) => response.status)).toEqual([200, 200, 200, 200, 200]);
    const { maxBusy } = await flood;
    // The neighbour only ever had the unreserved rest: 20 - 5.
    expect(maxBusy).toBeLessThanOrEqual(15);
    expect(maxBusy).toBeGreaterThan(5);
  });

  it('refuses a reservation beyond what the node can reserve', async () => {
    const server = await serverWith({ totalConcurrency: 20 });
    const name = uniqueName('cap-too-much');
    await expect(
      deploySource(server.client, name, sleepy(1), { reservedConcurrency: 19 }),
    ).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });

  it('places instances only while their memory limits fit the node', async () => {
    const server = await serverWith({ instanceMemory: '300mb', maxQueueWait: 3000 });
    const name = uniqueName('cap-memory');
    await deploySource(server.client, name, sleepy(150), { memoryMb: 128, maxConcurrency: 10 });
    const { result, maxBusy } = await sampleWhile(
      server,
      name,
      Promise.all(Array.from({ length: 6 }, (_, n) => invoke(server, name, n))),
    );
    expect(result.map((response) => response.status)).toEqual([200, 200, 200, 200, 200, 200]);
    // 300 MB holds two busy 128 MB instances, not three.
    expect(maxBusy).toBe(2);
    expect(server.scheduler.capacity.memoryUsed).toBeLessThanOrEqual(300);
  });

  it('scales to zero: idle instances and the memory they were counted for are freed', async () => {
    const server = await serverWith({ keepAlive: 200 });
    const name = uniqueName('cap-zero');
    await deploySource(server.client, name, sleepy(1), { memoryMb: 64 });
    const calls = await Promise.all([invoke(server, name), invoke(server, name), invoke(server, name)]);
    expect(calls.map((response) => response.status)).toEqual([200, 200, 200]);
    expect(server.scheduler.list(name).length).toBeGreaterThan(0);
    expect(server.scheduler.capacity.memoryUsed).toBeGreaterThan(0);
    await expect.poll(() => server.scheduler.list(name).length, { timeout: 5000 }).toBe(0);
    expect(server.scheduler.capacity.memoryUsed).toBe(0);
  });

  it('starts provisioned instances before the first call, so it is warm', async () => {
    const server = await serverWith({ keepAlive: 200 });
    const name = uniqueName('cap-provisioned');
    await deploySource(server.client, name, sleepy(1), { minInstances: 2 });
    await expect
      .poll(() => server.scheduler.list(name).filter((i) => i.provisioned && i.state === 'idle').length, {
        timeout: 5000,
      })
      .toBe(2);
    const first = await server.client.invoke(name, '{}');
    expect(first).toMatchObject({ status: 200, cold: false });
    // Not reaped like ordinary idle instances.
    await sleep(600);
    expect(server.scheduler.list(name)).toHaveLength(2);
    // A new version moves the provisioned instances to it.
    const next = await deploySource(server.client, name, sleepy(2), { minInstances: 1 });
    await expect
      .poll(() => server.scheduler.list(name).map((i) => `${i.version}:${String(i.provisioned)}`), {
        timeout: 5000,
      })
      .toEqual([`${next.version.version}:true`]);
    await server.client.updateSettings(name, { minInstances: 0 });
    await expect.poll(() => server.scheduler.list(name).length, { timeout: 5000 }).toBe(0);
  });
});
