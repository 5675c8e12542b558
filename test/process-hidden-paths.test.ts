import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { detectConfinement } from '../src/sandbox/process/index.js';
import { invokeJson, startTestServer, uniqueName, type TestServer } from './helpers/server.js';
import { zipOf } from './helpers/zip.js';

// The process tier shows functions the host's root read-only, with a private /tmp. A data dir outside /tmp
// (the default `.strato` is in the working directory) must still be invisible: it holds the store (every
// function's code and env), the queue and the image cache.

const support = await detectConfinement();
const canary = `canary-${Math.random().toString(36).slice(2)}`;
let server: TestServer;
let dataDir: string;
let imageCacheDir: string;

beforeAll(async () => {
  // /var/tmp is an ordinary host directory inside the sandbox (only /tmp is private).
  dataDir = mkdtempSync('/var/tmp/strato-hidden-');
  imageCacheDir = mkdtempSync('/var/tmp/strato-hidden-images-');
  // As `mkdir .strato` leaves them: readable by everyone, so only the cover keeps functions out.
  chmodSync(dataDir, 0o755);
  chmodSync(imageCacheDir, 0o755);
  server = await startTestServer({ dataDir, imageCacheDir });
});
afterAll(async () => {
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(imageCacheDir, { recursive: true, force: true });
});

it.runIf(support.ok)('cannot read the store, the queue or the image cache', async () => {
  // Another function's env lands in the store.
  await server.client.deploy(uniqueName('holder'), {
    code: 'module.exports = () => 1;',
    env: { SECRET: canary },
  });
  const bootstrap = `#!/bin/bash
API="http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
while true; do
  curl -sS -D /tmp/h -o /tmp/e "$API/next"
  ID=$(grep -i request-id /tmp/h | sed 's/.*: //' | tr -d '\\r')
  SEEN=$( (ls -A '${dataDir}'; ls -A '${imageCacheDir}'; head -c 3000 '${path.join(dataDir, 'strato.db')}' '${path.join(dataDir, 'strato.db-wal')}' '${path.join(dataDir, 'queue.db')}') 2>/dev/null | base64 -w0)
  curl -sS -o /dev/null "$API/$ID/response" -d "\\"$SEEN\\""
done
`;
  const name = uniqueName('hidden-probe');
  const deployed = await server.authedFetch(`${server.url}/v1/functions/${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      zipFile: (await zipOf({ bootstrap })).toString('base64'),
      runtime: 'provided.al2023',
    }),
  });
  expect(deployed.status).toBe(201);
  const result = await invokeJson(server.client, name, {});
  expect(result.status).toBe(200);
  const seen = Buffer.from(result.body as string, 'base64').toString('latin1');
  expect(seen).not.toContain('SQLite format');
  expect(seen).not.toContain(canary);
  // The covers are empty: not even file names show.
  expect(seen).not.toContain('strato.db');
  expect(seen).toBe('');
});
