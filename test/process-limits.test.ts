import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectConfinement } from '../src/sandbox/process/index.js';
import { invokeJson, startTestServer, uniqueName, type TestServer } from './helpers/server.js';
import { deployNodeZip } from './helpers/zip.js';

const support = await detectConfinement();
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

// Buffers live outside the V8 heap, so only the cgroup's memory limit can stop them.
const greedyHandler = `
const held = [];
exports.handler = async (event) => {
  if (event.grow) for (let i = 0; i < 64; i++) held.push(Buffer.alloc(16 * 1024 * 1024, 1));
  return { pid: process.pid, held: held.length };
};`;

describe('process-tier limits through the server', () => {
  it.runIf(support.ok)(
    'ends an invocation over the memory limit with OUT_OF_MEMORY and replaces the instance',
    async () => {
      const name = uniqueName('proc-oom');
      const deployed = await deployNodeZip(server, name, { 'index.js': greedyHandler }, 'index.handler', {
        memoryMb: 128,
      });
      expect(deployed.status).toBe(201);
      const warm = await invokeJson(server.client, name, {});
      expect(warm).toMatchObject({ status: 200, body: { held: 0 } });

      const oom = await invokeJson(server.client, name, { grow: true });
      expect(oom).toMatchObject({ status: 502, body: { error: { code: 'OUT_OF_MEMORY' } } });

      // The next invocation gets a fresh instance: cold, another process, nothing held.
      const after = await invokeJson(server.client, name, {});
      expect(after).toMatchObject({ status: 200, cold: true, body: { held: 0 } });
    },
    60_000,
  );
});
