import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploySource, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  // Fast retries and a short lease, so retry and renewal behaviour shows in a test's time.
  server = await startTestServer({ asyncRetryBaseDelay: 20, asyncLease: 300 });
});
afterAll(async () => {
  await server.stop();
});

interface AsyncStatus {
  id: string;
  status: string;
  attempts: number;
  deliveries: number;
  result: string | null;
  error: { code: string; message: string } | null;
  history: Array<{ error: { code: string } | null }>;
}

async function invokeAsync(
  name: string,
  event: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return server.authedFetch(`${server.url}/v1/functions/${name}/invoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', prefer: 'respond-async', ...headers },
    body: JSON.stringify(event),
  });
}

async function statusOf(id: string): Promise<AsyncStatus> {
  const response = await server.authedFetch(`${server.url}/v1/invocations/${id}`);
  return ((await response.json()) as { async: AsyncStatus }).async;
}

async function settled(id: string): Promise<AsyncStatus> {
  await expect
    .poll(async () => (await statusOf(id)).status, { timeout: 20_000, interval: 50 })
    .toMatch(/^(succeeded|failed|dead)$/);
  return statusOf(id);
}

async function runsOf(name: string): Promise<number> {
  const page = await server.client.listInvocations(name, { limit: 100 });
  return page.invocations.filter((record) => record.trigger === 'async').length;
}

describe('async invocations (Prefer: respond-async)', () => {
  it('accepts with 202 and a Location, then runs the function and keeps its result', async () => {
    const name = uniqueName('async-ok');
    await deploySource(server.client, name, `export default async (event) => ({ doubled: event.n * 2 });`);
    const accepted = await invokeAsync(name, { n: 21 });
    expect(accepted.status).toBe(202);
    const body = (await accepted.json()) as { invocationId: string; status: string };
    expect(body.status).toBe('queued');
    expect(accepted.headers.get('location')).toBe(`/v1/invocations/${body.invocationId}`);
    const done = await settled(body.invocationId);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(JSON.parse(done.result!)).toEqual({ doubled: 42 });

    // The same through the typed client.
    const viaClient = await server.client.invokeAsync(name, '{"n":5}');
    await expect
      .poll(async () => (await server.client.getAsyncInvocation(viaClient.invocationId)).result, {
        timeout: 20_000,
      })
      .toBe('{"doubled":10}');
  });

  it('refuses an unknown function at once, with nothing queued', async () => {
    const response = await invokeAsync(uniqueName('async-missing'), {});
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: 'FUNCTION_NOT_FOUND' } });
  });

  it('runs once per idempotency key and answers a repeat with the first id', async () => {
    const name = uniqueName('async-idem');
    await deploySource(server.client, name, `export default async () => ({ ok: true });`);
    const first = (await (await invokeAsync(name, {}, { 'idempotency-key': 'order-17' })).json()) as {
      invocationId: string;
      duplicate: boolean;
    };
    const again = (await (await invokeAsync(name, {}, { 'idempotency-key': 'order-17' })).json()) as {
      invocationId: string;
      duplicate: boolean;
    };
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ invocationId: first.invocationId, status: 'queued', duplicate: true });
    await settled(first.invocationId);
    await sleep(300);
    await expect.poll(() => runsOf(name), { timeout: 5_000 }).toBe(1);
  });

  it('retries a failing function with backoff, then dead-letters it with every attempt recorded', async () => {
    const name = uniqueName('async-fail');
    await deploySource(
      server.client,
      name,
      `export default async () => { throw new RangeError('always fails'); };`,
    );
    const { invocationId } = (await (await invokeAsync(name, {})).json()) as { invocationId: string };
    const dead = await settled(invocationId);
    expect(dead).toMatchObject({ status: 'dead', attempts: 3, error: { code: 'RangeError' } });
    expect(dead.history.map((attempt) => attempt.error?.code)).toEqual([
      'RangeError',
      'RangeError',
      'RangeError',
    ]);
    await expect.poll(() => runsOf(name), { timeout: 5_000 }).toBe(3);
  });

  it("lets async work use at most half of a function's concurrency, leaving the rest to sync callers", async () => {
    const name = uniqueName('async-flood');
    await deploySource(
      server.client,
      name,
      `export default async (event) => { await new Promise((r) => setTimeout(r, 150)); return { n: event.n }; };`,
      { concurrency: 4 },
    );
    const ids: string[] = [];
    for (let n = 0; n < 24; n++) {
      ids.push(((await (await invokeAsync(name, { n })).json()) as { invocationId: string }).invocationId);
    }
    let maxBusy = 0;
    for (let i = 0; i < 30; i++) {
      maxBusy = Math.max(
        maxBusy,
        server.scheduler.list(name).filter((instance) => instance.state === 'busy').length,
      );
      await sleep(20);
    }
    expect(maxBusy).toBe(2);
    // A sync caller gets an instance while the flood is still queued.
    const sync = await server.client.invoke(name, '{"n":-1}');
    expect(sync.status).toBe(200);
    const pending = await Promise.all(ids.map(async (id) => (await statusOf(id)).status));
    expect(pending.some((status) => status !== 'succeeded')).toBe(true);
    for (const id of ids) await settled(id);
  });

  it('renews the lease of a run longer than the lease, so it is delivered once', async () => {
    const name = uniqueName('async-slow');
    await deploySource(
      server.client,
      name,
      `export default async () => { await new Promise((r) => setTimeout(r, 1200)); return { slow: true }; };`,
    );
    const { invocationId } = (await (await invokeAsync(name, {})).json()) as { invocationId: string };
    const done = await settled(invocationId);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 1, deliveries: 1 });
    await expect.poll(() => runsOf(name), { timeout: 5_000 }).toBe(1);
  });
});
