import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectConfinement } from '../src/sandbox/process/index.js';
import { invokeJson, startTestServer, uniqueName, type TestServer } from './helpers/server.js';
import { zipOf } from './helpers/zip.js';

/** A Python custom runtime (stdlib only): answers `{"sum": a + b}` and prints a log line. */
const pythonBootstrap = `#!/usr/bin/python3
import json, os, sys, urllib.request
base = 'http://' + os.environ['AWS_LAMBDA_RUNTIME_API'] + '/2018-06-01/runtime/invocation'
while True:
    with urllib.request.urlopen(base + '/next') as r:
        rid = r.headers['Lambda-Runtime-Aws-Request-Id']
        event = json.loads(r.read())
    print('adding', event.get('a'), event.get('b'), 'handler', os.environ.get('_HANDLER'), flush=True)
    if 'rawPath' in event:
        result = {'statusCode': 202, 'headers': {'x-path': event['rawPath']}, 'body': 'via trigger'}
    else:
        result = {'sum': event['a'] + event['b']}
    urllib.request.urlopen(urllib.request.Request(base + '/' + rid + '/response', data=json.dumps(result).encode(), method='POST')).read()
`;

const support = await detectConfinement();
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

async function deployZip(name: string, body: Record<string, unknown>): Promise<Response> {
  return server.authedFetch(`${server.url}/v1/functions/${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('custom-runtime functions through the native API', () => {
  it.runIf(support.ok)(
    'deploys a zip with a bootstrap and runs it in the process tier, over invoke and the trigger',
    async () => {
      const name = uniqueName('py-runtime');
      const zipFile = (await zipOf({ bootstrap: pythonBootstrap })).toString('base64');
      const deployed = await deployZip(name, {
        zipFile,
        runtime: 'provided.al2023',
        handler: 'add.handler',
        memoryMb: 128,
      });
      expect(deployed.status).toBe(201);
      expect(await deployed.json()).toMatchObject({
        version: { config: { runtime: 'provided.al2023', handler: 'add.handler' } },
      });

      const first = await invokeJson(server.client, name, { a: 2, b: 3 });
      expect(first).toMatchObject({ status: 200, body: { sum: 5 }, cold: true });
      expect(await invokeJson(server.client, name, { a: 10, b: 5 })).toMatchObject({
        status: 200,
        body: { sum: 15 },
        cold: false,
      });

      const trigger = await fetch(`${server.url}/fn/${name}/some/path`);
      expect(trigger.status).toBe(202);
      expect(trigger.headers.get('x-path')).toBe('/some/path');
      expect(await trigger.text()).toBe('via trigger');

      let logs: string[] = [];
      for (let attempt = 0; attempt < 40 && logs.length === 0; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        logs = (await server.client.logs(name, { invocationId: first.invocationId! })).logs.map(
          (line) => line.message,
        );
      }
      expect(logs).toContain('adding 2 3 handler add.handler');
      const { instances } = await server.client.instances(name);
      expect(instances[0]).toMatchObject({ tier: 'process' });
    },
  );

  it('validates the code kind: exactly one of code or zipFile, and a runtime with a zip', async () => {
    const name = uniqueName('bad-kind');
    const zipFile = (await zipOf({ bootstrap: '#!/bin/sh\n' })).toString('base64');
    for (const body of [
      {},
      { zipFile },
      { code: 'module.exports = () => 1', zipFile, runtime: 'provided.al2023' },
      { code: 'x', runtime: 'provided.al2' },
      { zipFile, runtime: 'nodejs1.x' },
      { zipFile: 'not base64!', runtime: 'provided.al2' },
    ]) {
      const response = await deployZip(name, body);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    }
  });
});
