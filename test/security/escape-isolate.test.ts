import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invokeJson, uniqueName } from '../helpers/server.js';
import { allLogsOf, expectNoCanary, startCanaryServer, type CanaryServer } from './support/canary-server.js';
import { GUEST_PRELUDE, isolateEscapeCases, type ProbeEvent } from './support/isolate-escape-cases.js';

// The sandbox-escape corpus against the isolate tier. Each case runs as its own function (so one case's
// pollution cannot mask another's) and must report a denial; neither canary may show in its response, its
// logs or any platform log line.
//
// That a case can fail: `reachable-host-references` is the one that guards isolated-vm's own warning. If
// the guest runtime stopped deleting `globalThis.__strato_host` (src/guest/runtime.ts) the walk would find
// `globalThis.__strato_host`, and had it kept an ivm Reference there, `applySync`: the case returns
// ESCAPED. `global-process` fails the same way if the isolate shared the host's global (node:vm).

let server: CanaryServer;
let event: ProbeEvent;
beforeAll(async () => {
  server = await startCanaryServer();
  event = {
    port: server.port,
    dataDir: server.dataDir,
    dbPath: path.join(server.dataDir, 'strato.db'),
    serverPid: process.pid,
    hostCwd: process.cwd(),
  };
});
afterAll(async () => {
  await server?.stop();
});

function probeCode(body: string): string {
  return `module.exports = async function (event, context) {\n${GUEST_PRELUDE}\n${body}\n};`;
}

describe('isolate tier: sandbox-escape corpus', () => {
  it.each(isolateEscapeCases.map((testCase) => [testCase.id, testCase] as const))(
    '%s is denied',
    async (_id, testCase) => {
      const name = uniqueName(`esc-${testCase.id}`).slice(0, 64);
      await server.client.deploy(name, { code: probeCode(testCase.body), env: { OWN: 'mine' } });
      const response = await server.client.invoke(name, JSON.stringify(event));
      expect(response.status, response.body).toBe(200);
      const verdict = JSON.parse(response.body) as { verdict: string; detail: string };
      expect(verdict, testCase.technique).toMatchObject({ verdict: 'denied' });
      expectNoCanary(server, response.body, await allLogsOf(server, name));
    },
  );

  it('keeps pollution of one isolate out of the next function and out of the host', async () => {
    const polluter = uniqueName('esc-polluter');
    const victim = uniqueName('esc-victim');
    await server.client.deploy(polluter, {
      code: `module.exports = async () => {
        Object.prototype.pollutedByProbe = 'yes';
        Array.prototype.push = () => 'hijacked';
        JSON.stringify = () => '"hijacked"';
        globalThis.Promise = function () { throw new Error('hijacked'); };
        return 'polluted';
      };`,
    });
    await server.client.deploy(victim, {
      code: `module.exports = async () => {
        const list = []; list.push(1);
        return { polluted: ({}).pollutedByProbe ?? null, pushed: list.length, json: JSON.stringify({ a: 1 }) };
      };`,
    });
    // The polluter's own result goes through its hijacked JSON.stringify: that is its business.
    expect(await invokeJson(server.client, polluter)).toMatchObject({ status: 200 });
    expect(await invokeJson(server.client, victim)).toMatchObject({
      status: 200,
      body: { polluted: null, pushed: 1, json: '{"a":1}' },
    });
    expect(({} as Record<string, unknown>)['pollutedByProbe']).toBeUndefined();
    // The canary holder, warm in the same host process, still works and still holds only its own secret.
    expect(await invokeJson(server.client, server.holderName)).toMatchObject({
      status: 200,
      body: { held: 1 },
    });
  });

  it('leaks no canary into any platform log line', () => {
    expect(server.logLines.length).toBeGreaterThan(0);
    expectNoCanary(server, server.logLines.join('\n'));
  });
});
