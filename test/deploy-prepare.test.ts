import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deploySource, invokeJson, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ isolateHosts: 1 });
});
afterAll(async () => {
  await server.stop();
});

/** The first invoke after a deploy: cold, answering `body`, and not one read of the store on its path. */
async function expectPreparedColdStart(name: string, body: unknown): Promise<void> {
  const spies = [
    vi.spyOn(server.store, 'getArtifact'),
    vi.spyOn(server.store, 'getFunction'),
    vi.spyOn(server.store, 'getVersion'),
  ];
  try {
    expect(await invokeJson(server.client, name)).toMatchObject({ status: 200, body, cold: true });
    expect(spies.reduce((sum, spy) => sum + spy.mock.calls.length, 0)).toBe(0);
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

describe('a deploy prepares the first call of its version', () => {
  it('cold-starts a new version without reading the store on the invoke path', async () => {
    const name = uniqueName('prepared');
    await deploySource(server.client, name, `export default async () => 'one';`);
    await expectPreparedColdStart(name, 'one');
    await deploySource(server.client, name, `export default async () => 'two';`);
    await expectPreparedColdStart(name, 'two');
  });

  it('keeps the code on its host across a settings change that evicts the only instance', async () => {
    const name = uniqueName('settings');
    await deploySource(server.client, name, `let n = 0; export default async () => ++n;`);
    expect(await invokeJson(server.client, name)).toMatchObject({ status: 200, body: 1 });
    // Same code, new version: the old instance goes (and with it its use of the code on the host).
    await server.client.updateSettings(name, { timeout: '5s' });
    expect(await invokeJson(server.client, name)).toMatchObject({ status: 200, body: 1, cold: true });
    expect(await invokeJson(server.client, name)).toMatchObject({ status: 200, body: 2, cold: false });
  });
});
