import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploySource, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

let server: TestServer;
/** A real HTTP endpoint standing in for a user's callback / destination URL. */
let receiver: Server;
let receiverUrl: string;
const received: Array<{ path: string; headers: IncomingHttpHeaders; body: string }> = [];

beforeAll(async () => {
  // The receiver is on loopback, which destinations and callbacks reach only when the operator opens it.
  server = await startTestServer({ asyncRetryBaseDelay: 20, egressAllowedNetworks: ['127.0.0.1/32'] });
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString(),
      });
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await server.stop();
  await new Promise((resolve) => receiver.close(resolve));
});

const receivedAt = (path: string) => received.filter((request) => request.path === path);

async function invokeAsync(
  name: string,
  event: unknown,
  headers: Record<string, string> = {},
): Promise<string> {
  const response = await server.authedFetch(`${server.url}/v1/functions/${name}/invoke`, {
    method: 'POST',
    headers: { prefer: 'respond-async', ...headers },
    body: JSON.stringify(event),
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { invocationId: string }).invocationId;
}

const statusOf = (id: string) => server.client.getAsyncInvocation(id);

describe('async delivery: destinations, callbacks, event age, dead-letter queue', () => {
  it('posts the result to X-Callback-Url and the success record to an HTTP destination', async () => {
    const name = uniqueName('async-dest');
    await deploySource(server.client, name, `export default async (event) => ({ got: event.v });`, {
      onSuccess: `${receiverUrl}/success`,
    });
    const id = await invokeAsync(name, { v: 7 }, { 'x-callback-url': `${receiverUrl}/callback` });
    await expect.poll(() => receivedAt('/callback').length, { timeout: 10_000 }).toBe(1);
    await expect.poll(() => receivedAt('/success').length, { timeout: 10_000 }).toBe(1);

    const callback = receivedAt('/callback')[0]!;
    expect(JSON.parse(callback.body)).toEqual({ got: 7 });
    expect(callback.headers).toMatchObject({
      'x-call-id': id,
      'x-function-name': name,
      'x-function-status': '200',
    });
    const record = JSON.parse(receivedAt('/success')[0]!.body) as Record<string, unknown>;
    expect(record).toMatchObject({
      version: '1.0',
      requestContext: { requestId: id, condition: 'Success', approximateInvokeCount: 1 },
      requestPayload: { v: 7 },
      responseContext: { statusCode: 200, executedVersion: '$LATEST' },
      responsePayload: { got: 7 },
    });
  });

  it('never sends a destination or callback to loopback (or another private address) the operator did not open', async () => {
    const closed = await startTestServer({ asyncRetryBaseDelay: 20 });
    try {
      const name = uniqueName('async-ssrf');
      await deploySource(closed.client, name, `export default async () => ({ ok: true });`, {
        onSuccess: `${receiverUrl}/ssrf-success`,
      });
      const accepted = await closed.authedFetch(`${closed.url}/v1/functions/${name}/invoke`, {
        method: 'POST',
        headers: { prefer: 'respond-async', 'x-callback-url': `${receiverUrl}/ssrf-callback` },
        body: '{}',
      });
      const { invocationId } = (await accepted.json()) as { invocationId: string };
      // Deliveries are attempted before the invocation is acked as succeeded.
      await expect
        .poll(async () => (await closed.client.getAsyncInvocation(invocationId)).status, { timeout: 10_000 })
        .toBe('succeeded');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(receivedAt('/ssrf-success')).toEqual([]);
      expect(receivedAt('/ssrf-callback')).toEqual([]);
    } finally {
      await closed.stop();
    }
  });

  it('sends a dead-lettered invocation to its failure destination function, as that function event', async () => {
    const sink = uniqueName('async-sink');
    await deploySource(
      server.client,
      sink,
      `export default async (event) => ({ condition: event.requestContext.condition });`,
    );
    const name = uniqueName('async-failing');
    await deploySource(server.client, name, `export default async () => { throw new Error('nope'); };`, {
      asyncRetries: 1,
      onFailure: sink,
    });
    const id = await invokeAsync(name, { order: 1 });
    await expect.poll(async () => (await statusOf(id)).status, { timeout: 10_000 }).toBe('dead');
    expect(await statusOf(id)).toMatchObject({ attempts: 2 });
    // The sink ran once with the record as its event.
    await expect
      .poll(
        async () =>
          (await server.client.listInvocations(sink)).invocations.filter((r) => r.outcome === 'success')
            .length,
        {
          timeout: 10_000,
        },
      )
      .toBe(1);
  });

  it('dead-letters an event older than its maximum age instead of running it again', async () => {
    const name = uniqueName('async-aged');
    // One slow failing attempt, then a retry that comes after the event's 1 s maximum age.
    await deploySource(
      server.client,
      name,
      `export default async () => { await new Promise((r) => setTimeout(r, 1200)); throw new Error('slow failure'); };`,
      { maxEventAge: '1s', asyncRetries: 2, onFailure: `${receiverUrl}/aged` },
    );
    const id = await invokeAsync(name, {});
    await expect.poll(async () => (await statusOf(id)).status, { timeout: 10_000 }).toBe('dead');
    expect(await statusOf(id)).toMatchObject({ attempts: 2, error: { code: 'EVENT_EXPIRED' } });
    await expect.poll(() => receivedAt('/aged').length, { timeout: 10_000 }).toBe(1);
    expect(JSON.parse(receivedAt('/aged')[0]!.body)).toMatchObject({
      requestContext: { condition: 'EventAgeExceeded' },
    });
    const runs = (await server.client.listInvocations(name)).invocations.filter((r) => r.trigger === 'async');
    expect(runs).toHaveLength(1);
  });

  it('lists, shows, redrives and purges the dead-letter queue', async () => {
    const name = uniqueName('async-dlq');
    // Fails until it is redeployed to succeed.
    await deploySource(server.client, name, `export default async () => { throw new Error('broken'); };`, {
      asyncRetries: 0,
    });
    const ids = [
      await invokeAsync(name, { n: 1 }),
      await invokeAsync(name, { n: 2 }),
      await invokeAsync(name, { n: 3 }),
    ];
    await expect
      .poll(async () => (await server.client.listDeadLetters(name)).invocations.length, { timeout: 10_000 })
      .toBe(3);
    const shown = await server.client.getDeadLetter(name, ids[0]!);
    expect(shown.invocation).toMatchObject({
      id: ids[0],
      status: 'dead',
      error: { code: 'Error', message: 'broken' },
    });
    await expect(server.client.getDeadLetter(uniqueName('other'), ids[0]!)).rejects.toMatchObject({
      code: 'INVOCATION_NOT_FOUND',
    });

    await deploySource(server.client, name, `export default async (event) => ({ fixed: event.n });`);
    expect(await server.client.redriveDeadLetters(name, ids[0])).toEqual({ redriven: 1 });
    await expect.poll(async () => (await statusOf(ids[0]!)).status, { timeout: 10_000 }).toBe('succeeded');
    expect((await server.client.listDeadLetters(name)).invocations.map((i) => i.id).sort()).toEqual(
      [ids[1], ids[2]].sort(),
    );

    expect(await server.client.purgeDeadLetters(name)).toEqual({ purged: 2 });
    expect((await server.client.listDeadLetters(name)).invocations).toEqual([]);
  });
});
