import { afterEach, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { openSqliteStore } from '../src/store/index.js';
import { deploySource, invokeJson, startTestServer, uniqueName } from './helpers/server.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe('graceful shutdown', () => {
  it('finishes in-flight invocations and records them before stopping', async () => {
    const server = await startTestServer();
    cleanups.push(() => rmSync(server.dataDir, { recursive: true, force: true }));
    const name = uniqueName('in-flight');
    await deploySource(
      server.client,
      name,
      `export default async () => { await new Promise((r) => setTimeout(r, 400)); return 'finished'; };`,
    );
    const inFlight = invokeJson(server.client, name);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closing = server.close();
    const result = await inFlight;
    expect(result).toMatchObject({ status: 200, body: 'finished' });
    await closing;
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();

    const store = await openSqliteStore({ file: path.join(server.dataDir, 'strato.db') });
    try {
      const recorded = await store.getInvocation(result.invocationId!);
      expect(recorded).toMatchObject({ functionName: name, outcome: 'success' });
    } finally {
      await store.close();
    }
  });
});

describe('graceful shutdown with a grace period', () => {
  it('stops invocations still running when the grace period is over', async () => {
    const server = await startTestServer({ shutdownGrace: '300ms' });
    cleanups.push(() => rmSync(server.dataDir, { recursive: true, force: true }));
    const name = uniqueName('too-slow');
    await deploySource(
      server.client,
      name,
      `export default async () => { await new Promise((r) => setTimeout(r, 20000)); return 'late'; };`,
      {
        timeout: '60s',
      },
    );
    const inFlight = invokeJson(server.client, name);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const startedClosing = Date.now();
    await server.close();
    const result = await inFlight;
    expect(Date.now() - startedClosing).toBeLessThan(5000);
    expect(result).toMatchObject({ status: 502, body: { error: { code: 'SANDBOX_CRASHED' } } });
  });
});
