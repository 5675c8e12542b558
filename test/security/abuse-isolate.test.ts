import { expect } from 'vitest';
import { isolateHostOf } from '../../src/sandbox/isolate/isolate-sandbox.js';
import { startTestServer, uniqueName, type TestServer } from '../helpers/server.js';
import { describeAbuseCorpus, logFloodCase, type AbuseCase } from './support/abuse-harness.js';

// Resource abuse in the isolate tier: each abuser runs beside a neighbour isolate in the same host
// process. That a case can fail: without isolated-vm's memoryLimit (src/sandbox/isolate/host/) the
// memory bombs would grow the host process until the kernel killed it (SANDBOX_CRASHED for everyone in
// it), and without the timeout watchdog the loops would never answer (the test times out).

function code(source: string, settings: { timeout?: string; memoryMb?: number } = {}): AbuseCase['deploy'] {
  return async (server: TestServer, name: string) => {
    await server.client.deploy(name, { code: `module.exports = async () => { ${source} };`, ...settings });
  };
}

const LOG_LIMIT = 64 * 1024;
const HOSTS = 2;

const cases: AbuseCase[] = [
  {
    id: 'sync-infinite-loop',
    deploy: code('for (;;) {}', { timeout: '1s' }),
    expectedStatus: 504,
    expectedCode: 'INVOCATION_TIMEOUT',
  },
  {
    // A busy loop blocks its host's event loop once, for one timeout; after that its code is known to be
    // CPU-heavy and every new instance of it runs off the event loop (the timeout killed the first).
    id: 'sync-infinite-loop-again',
    deploy: async (server, name) => {
      await code('for (;;) {}', { timeout: '1s' })(server, name);
      expect((await server.client.invoke(name, '{}')).status).toBe(504);
    },
    expectedStatus: 504,
    expectedCode: 'INVOCATION_TIMEOUT',
  },
  {
    id: 'async-infinite-loop',
    deploy: code('for (;;) await null;', { timeout: '1s' }),
    expectedStatus: 504,
    expectedCode: 'INVOCATION_TIMEOUT',
  },
  {
    id: 'timer-storm',
    deploy: code(
      'const spin = () => { for (let i = 0; i < 100; i++) setTimeout(spin, 0); }; spin(); await new Promise(() => {});',
      { timeout: '1s' },
    ),
    expectedStatus: 504,
    expectedCode: 'INVOCATION_TIMEOUT',
  },
  {
    id: 'memory-bomb-gradual',
    deploy: code('const held = []; for (;;) held.push(new Array(10000).fill({ x: 1 }));', { memoryMb: 64 }),
    expectedStatus: 502,
    expectedCode: 'OUT_OF_MEMORY',
  },
  {
    id: 'memory-bomb-one-allocation',
    // One allocation past the limit aborts V8 in the whole host process (a known gap, docs/security.md):
    // the host restarts, and what else ran in it fails with SANDBOX_CRASHED. Measured from another host.
    deploy: code('const big = new Array(2 ** 26).fill(0); return big.length;', { memoryMb: 64 }),
    placement: 'apart',
    expectedStatus: 502,
    expectedCode: 'OUT_OF_MEMORY',
  },
  {
    id: 'array-buffer-bomb',
    // Backing stores live outside the V8 heap; the allocator refuses them past the limit with a RangeError
    // the function may catch, so this is the function's own error.
    deploy: code('const held = []; for (;;) held.push(new Uint8Array(16 * 1024 * 1024).fill(1));', {
      memoryMb: 64,
    }),
    expectedStatus: 500,
    expectedCode: 'FUNCTION_ERROR',
  },
  logFloodCase(
    code("for (let i = 0; i < 200000; i++) console.log('flood '.repeat(20)); return 'flooded';"),
    LOG_LIMIT,
  ),
];

describeAbuseCorpus({
  tier: 'isolate',
  unavailable: undefined,
  startServer: () => startTestServer({ logLimitPerInvocation: LOG_LIMIT, isolateHosts: HOSTS }),
  // The neighbour lives in host 0; abusers join it there unless they must be apart.
  nameFor: (role, prefix, placement) => {
    const wanted = role === 'abuser' && placement === 'apart' ? 1 : 0;
    for (;;) {
      const name = uniqueName(prefix);
      if (isolateHostOf(name, HOSTS) === wanted) return name;
    }
  },
  deployNeighbour: code("return 'ok';"),
  cases,
});
