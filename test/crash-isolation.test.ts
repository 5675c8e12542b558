import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploySource, invokeJson, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  // One host: the bomb and the victim share a process, the hardest case.
  server = await startTestServer({ isolateHosts: 1 });
});
afterAll(async () => {
  await server.stop();
});

describe('a function that aborts its host process', () => {
  it('fails with OUT_OF_MEMORY and every other function keeps serving', async () => {
    const victim = uniqueName('victim');
    const bomb = uniqueName('bomb');
    await deploySource(server.client, victim, `let n = 0; export default async () => ++n;`);
    // One allocation larger than the isolate heap: V8 aborts the whole process (measured on Node 20).
    await deploySource(server.client, bomb, `export default async () => new Array(2 ** 30).fill(0).length;`, {
      memoryMb: 128,
    });
    expect(await invokeJson(server.client, victim)).toMatchObject({ status: 200, body: 1 });
    const pidBefore = server.sandbox.hostPids()[0];

    const exploded = await invokeJson(server.client, bomb);
    expect(exploded.status).toBe(502);
    expect(exploded.body).toMatchObject({ error: { code: 'OUT_OF_MEMORY' } });

    const after = await invokeJson(server.client, victim);
    expect(after).toMatchObject({ status: 200, body: 1, cold: true });
    expect(server.sandbox.hostPids()[0]).not.toBe(pidBefore);

    expect(await invokeJson(server.client, bomb)).toMatchObject({
      status: 502,
      body: { error: { code: 'OUT_OF_MEMORY' } },
    });
    expect(await invokeJson(server.client, victim)).toMatchObject({ status: 200 });
  });
});
