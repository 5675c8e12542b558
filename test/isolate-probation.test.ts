import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, uniqueName, type TestServer } from './helpers/server.js';

// New code is on probation: its calls run on isolated-vm's thread pool until one finishes light, so a
// function's first call that busy-loops cannot hold its host's event loop while a neighbour waits. The
// test asserts order, not time: on one isolate host, the neighbour sent after the looper must answer
// before the looper's timeout does. Without probation (a synchronous first call) it answers after.

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ isolateHosts: 1 });
});
afterAll(async () => {
  await server?.stop();
});

describe('probation of new code', () => {
  it("keeps a new function's busy first call off its host's event loop", async () => {
    const neighbour = uniqueName('probation-neighbour');
    const looper = uniqueName('probation-looper');
    await server.client.deploy(neighbour, { code: 'module.exports = async () => "near";' });
    expect((await server.client.invoke(neighbour, '{}')).status).toBe(200);
    await server.client.deploy(looper, { code: 'module.exports = () => { for (;;) {} };', timeout: '3s' });

    const order: string[] = [];
    const looping = server.client.invoke(looper, '{}').then((reply) => {
      order.push('looper');
      return reply;
    });
    // Once the gateway has leased it an instance, the looper's invoke is ahead of the neighbour's on the
    // host's channel.
    await expect
      .poll(
        async () =>
          (await server.client.instances(looper)).instances.some((i) => i.inFlight > 0 || i.state !== 'idle'),
        {
          timeout: 5000,
          interval: 5,
        },
      )
      .toBe(true);
    const near = await server.client.invoke(neighbour, '{}');
    order.push('neighbour');
    expect(near.status).toBe(200);
    const looped = await looping;
    expect(JSON.parse(looped.body)).toMatchObject({ error: { code: 'INVOCATION_TIMEOUT' } });
    expect(order).toEqual(['neighbour', 'looper']);
  });
});
