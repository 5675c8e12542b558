import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deploySource, invokeJson, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ isolateHosts: 1 });
});
afterAll(async () => {
  await server.stop();
});

/** Spies on the store reads a first invoke made before deploys prepared it. */
function spyOnStoreReads() {
  const spies = [
    vi.spyOn(server.store, 'getArtifact'),
    vi.spyOn(server.store, 'getFunction'),
    vi.spyOn(server.store, 'getVersion'),
  ];
  return {
    calls: () => spies.reduce((sum, spy) => sum + spy.mock.calls.length, 0),
    restore: () => spies.forEach((spy) => spy.mockRestore()),
  };
}

describe('a deploy prepares the first call of its version', () => {
  it('cold-starts a new version without reading the store on the invoke path', async () => {
    const name = uniqueName('prepared');
    await deploySource(server.client, name, `export default async () => 'one';`);
    const reads = spyOnStoreReads();
    try {
      expect(await invokeJson(server.client, name)).toMatchObject({ status: 200, body: 'one', cold: true });
      expect(reads.calls()).toBe(0);
    } finally {
      reads.restore();
    }

    await deploySource(server.client, name, `export default async () => 'two';`);
    const again = spyOnStoreReads();
    try {
      expect(await invokeJson(server.client, name)).toMatchObject({ status: 200, body: 'two', cold: true });
      expect(again.calls()).toBe(0);
    } finally {
      again.restore();
    }
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
