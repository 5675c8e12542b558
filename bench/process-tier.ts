// Process-tier functions for `npm run bench`: zips, deploys, cold-start samples and a warm load run.
import { AUTHORIZATION, BENCH_API_KEY } from './bench-key.js';
import { zipOf } from '../test/helpers/zip.js';
import { StratoClient } from '../src/client/strato-client.js';
import { loadTest, percentile, request, type LoadResult } from './http-load.js';

/** AWS's tutorial runtime, trimmed to builtins between the two curls (each fork is ~1 ms here). */
export const bashBootstrap = `#!/bin/bash
API="http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
while true; do
  EVENT=$(curl -sS -D /tmp/headers "$API/next")
  while IFS=': ' read -r name value; do
    [ "\${name,,}" = lambda-runtime-aws-request-id ] && REQUEST_ID=\${value%$'\\r'}
  done < /tmp/headers
  curl -sS -o /dev/null "$API/$REQUEST_ID/response" -d "{\\"message\\":\\"Hello, bench!\\",\\"bytes\\":\${#EVENT}}"
done
`;

export const pythonBootstrap = `#!/usr/bin/python3
import json, os, urllib.request
base = 'http://' + os.environ['AWS_LAMBDA_RUNTIME_API'] + '/2018-06-01/runtime/invocation'
while True:
    with urllib.request.urlopen(base + '/next') as r:
        rid = r.headers['Lambda-Runtime-Aws-Request-Id']
        event = json.loads(r.read())
    body = json.dumps({'message': 'Hello, ' + str(event.get('name')) + '!'}).encode()
    urllib.request.urlopen(urllib.request.Request(base + '/' + rid + '/response', data=body, method='POST')).read()
`;

export const nodeHandler = `exports.handler = async (event) => ({ message: \`Hello, \${event.name}!\` });\n`;

export type ProcessRuntimeKind = 'bash' | 'python' | 'node';

/** The deploy body of a process-tier function; `salt` makes each version's code (and sha256) new. */
export async function processDeployBody(kind: ProcessRuntimeKind, salt: string): Promise<object> {
  const files: Record<string, string> =
    kind === 'node'
      ? { 'index.js': `${nodeHandler}// ${salt}\n` }
      : { bootstrap: `${kind === 'bash' ? bashBootstrap : pythonBootstrap}# ${salt}\n` };
  const zip = await zipOf(files);
  return {
    zipFile: zip.toString('base64'),
    runtime: kind === 'node' ? 'nodejs20.x' : 'provided.al2023',
    ...(kind === 'node' ? { handler: 'index.handler' } : {}),
  };
}

export async function deployProcessFunction(
  baseUrl: string,
  name: string,
  body: object,
  settings: Record<string, unknown> = {},
): Promise<void> {
  const response = await fetch(`${baseUrl}/v1/functions/${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: AUTHORIZATION },
    body: JSON.stringify({ ...body, ...settings }),
  });
  if (!response.ok) throw new Error(`deploy ${name}: ${response.status} ${await response.text()}`);
}

export interface ColdStarts {
  endToEnd: number[];
  /** Server-side: from the start of the runtime (pooled: the assignment) to its first poll. */
  init: number[];
}

/** Deploys a new version per sample and times its first invoke, end to end over HTTP. */
export async function processColdStarts(
  baseUrl: string,
  kind: ProcessRuntimeKind,
  samples: number,
): Promise<ColdStarts> {
  const name = `cold-${kind}-${Math.random().toString(36).slice(2, 8)}`;
  const client = new StratoClient(baseUrl, { apiKey: () => BENCH_API_KEY });
  const endToEnd: number[] = [];
  const body = '{"name":"bench"}';
  for (let i = 0; i < samples; i++) {
    await deployProcessFunction(baseUrl, name, await processDeployBody(kind, `version ${i}`));
    // Lets the pool's refill after the previous sample finish, as between two real cold starts.
    await new Promise((resolve) => setTimeout(resolve, 150));
    const startedAt = process.hrtime.bigint();
    const response = await request(`${baseUrl}/v1/functions/${name}/invoke`, 'POST', body);
    endToEnd.push(Number(process.hrtime.bigint() - startedAt) / 1e6);
    if (response.status !== 200) throw new Error(`cold invoke failed: ${response.status} ${response.body}`);
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  const { invocations } = await client.listInvocations(name, { limit: samples });
  return { endToEnd, init: invocations.filter((it) => it.cold).map((it) => it.initDurationMs) };
}

/** Warm throughput of a Node process-tier function (`connections` instances at most). */
export async function processWarmLoad(
  baseUrl: string,
  connections: number,
  seconds: number,
): Promise<LoadResult> {
  const name = `warm-node-${Math.random().toString(36).slice(2, 8)}`;
  await deployProcessFunction(baseUrl, name, await processDeployBody('node', 'warm'), {
    concurrency: connections,
  });
  const url = `${baseUrl}/v1/functions/${name}/invoke`;
  const body = '{"name":"bench"}';
  await loadTest({ url, method: 'POST', body, connections, seconds: 1 });
  return loadTest({ url, method: 'POST', body, connections, seconds });
}

export function p50p99(values: number[]): [number, number] {
  return [percentile(values, 50), percentile(values, 99)];
}
