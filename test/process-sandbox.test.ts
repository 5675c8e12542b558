import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { zipOf } from './helpers/zip.js';
import { extractZip } from '../src/build/zip-archive.js';
import { DEFAULT_FUNCTION_CONFIG, type FunctionConfig } from '../src/core/function.js';
import type { InstanceSpec, InvokeRequest, InvokeResult } from '../src/core/sandbox.js';
import { detectConfinement } from '../src/sandbox/process/host-capabilities.js';
import { ProcessSandbox } from '../src/sandbox/process/process-sandbox.js';

const support = await detectConfinement();
const logger = pino({ level: 'silent' });
const sandboxes: ProcessSandbox[] = [];
const tempDirs: string[] = [];
const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(sandboxes.splice(0).map((sandbox) => sandbox.close()));
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  await Promise.all(tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function newSandbox(logLimitBytes = 64 * 1024): Promise<ProcessSandbox> {
  const dataDir = await mkdtemp(join(tmpdir(), 'strato-ps-'));
  tempDirs.push(dataDir);
  const sandbox = await ProcessSandbox.create({
    dataDir,
    logger,
    logLimitBytes,
    tmpSizeBytes: 16 << 20,
    extractZip: (zip, target) => extractZip(zip, target),
  });
  sandboxes.push(sandbox);
  return sandbox;
}

function specOf(zip: Buffer, config: Partial<FunctionConfig> = {}): InstanceSpec {
  return {
    functionName: `fn-${randomUUID().slice(0, 8)}`,
    version: 1,
    codeSha256: createHash('sha256').update(zip).digest('hex'),
    loadCode: () => Promise.reject(new Error('the process tier loads zips')),
    loadArtifact: () => Promise.resolve(zip),
    config: { ...DEFAULT_FUNCTION_CONFIG, ...config },
    runtime: 'provided.al2023',
  };
}

function event(value: unknown, timeoutMs = 10_000): InvokeRequest {
  return {
    invocationId: randomUUID(),
    payload: { kind: 'event', eventJson: JSON.stringify(value) },
    deadline: Date.now() + timeoutMs,
  };
}

/** The AWS tutorial's bash runtime loop; `handle` sets RESPONSE from EVENT_DATA. */
function bashBootstrap(handler: string): string {
  return `#!/bin/bash
set -uo pipefail
API="http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
COUNT=0
${handler}
while true; do
  HEADERS="$(mktemp)"
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "$API/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  rm -f "$HEADERS"
  COUNT=$((COUNT+1))
  handle
  curl -sS "$API/$REQUEST_ID/response" -d "$RESPONSE" >/dev/null
done
`;
}

const echoHandler = `handle() { RESPONSE="{\\"echo\\":$EVENT_DATA,\\"count\\":$COUNT,\\"pid\\":$$}"; }`;

const pythonBootstrap = `#!/usr/bin/python3
import json, os, urllib.request
base = 'http://' + os.environ['AWS_LAMBDA_RUNTIME_API'] + '/2018-06-01/runtime/invocation'
while True:
    with urllib.request.urlopen(base + '/next') as r:
        rid = r.headers['Lambda-Runtime-Aws-Request-Id']
        event = json.loads(r.read())
    try:
        if 'fail' in event:
            raise ValueError('bad input: ' + str(event['fail']))
        if 'rawPath' in event:
            result = {'statusCode': 201, 'headers': {'x-path': event['rawPath']}, 'body': event['body'] + '!'}
            urllib.request.urlopen(urllib.request.Request(base + '/' + rid + '/response', data=json.dumps(result).encode(), method='POST')).read()
            continue
        if 'allocateMb' in event:
            hog = b'x' * (event['allocateMb'] << 20)
        body, url = json.dumps({'sum': event['a'] + event['b']}), base + '/' + rid + '/response'
    except Exception as e:
        body = json.dumps({'errorType': type(e).__name__, 'errorMessage': str(e), 'stackTrace': ['  File "bootstrap"']})
        url = base + '/' + rid + '/error'
    urllib.request.urlopen(urllib.request.Request(url, data=body.encode(), method='POST')).read()
`;

function expectSuccessJson(result: InvokeResult): unknown {
  if (result.outcome !== 'success' || result.response.kind !== 'json') {
    throw new Error(`expected a JSON success, got ${JSON.stringify(result)}`);
  }
  return JSON.parse(result.response.json);
}

describe.runIf(support.ok)('process sandbox', () => {
  it('runs the bash tutorial runtime warm across invocations', async () => {
    const sandbox = await newSandbox();
    const instance = sandbox.startInstance(specOf(await zipOf({ bootstrap: bashBootstrap(echoHandler) })));
    expect(instance.tier).toBe('process');
    const results = [];
    for (let n = 1; n <= 3; n++) results.push(await instance.invoke(event({ n })));
    const bodies = results.map(expectSuccessJson);
    expect(bodies).toEqual([
      { echo: { n: 1 }, count: 1, pid: 1 },
      { echo: { n: 2 }, count: 2, pid: 1 },
      { echo: { n: 3 }, count: 3, pid: 1 },
    ]);
    expect(results[0]?.initDurationMs).toBeGreaterThan(0);
    expect(results.slice(1).map((result) => result.initDurationMs)).toEqual([0, 0]);
    expect(instance.dead).toBe(false);
    await instance.dispose();
    expect(instance.dead).toBe(true);
  });

  it('runs a python runtime and reports its errors', async () => {
    const sandbox = await newSandbox();
    const instance = sandbox.startInstance(specOf(await zipOf({ bootstrap: pythonBootstrap })));
    expect(expectSuccessJson(await instance.invoke(event({ a: 2, b: 40 })))).toEqual({ sum: 42 });
    const failed = await instance.invoke(event({ fail: 'nope' }));
    expect(failed).toMatchObject({
      outcome: 'error',
      phase: 'invoke',
      error: { type: 'ValueError', message: 'bad input: nope', stack: '  File "bootstrap"' },
    });
    expect(instance.dead).toBe(false);
    expect(expectSuccessJson(await instance.invoke(event({ a: 1, b: 1 })))).toEqual({ sum: 2 });
  });

  it('hands HTTP requests over as API Gateway v2 events and maps the response back', async () => {
    const sandbox = await newSandbox();
    const instance = sandbox.startInstance(specOf(await zipOf({ bootstrap: pythonBootstrap })));
    const result = await instance.invoke({
      invocationId: randomUUID(),
      payload: {
        kind: 'http',
        request: {
          method: 'POST',
          url: 'http://localhost/fn/x/hello?a=1',
          path: '/hello?a=1',
          headers: [['content-type', 'text/plain']],
          bodyBase64: Buffer.from('hi').toString('base64'),
          sourceIp: '127.0.0.1',
        },
      },
      deadline: Date.now() + 10_000,
    });
    if (result.outcome !== 'success' || result.response.kind !== 'http')
      throw new Error(JSON.stringify(result));
    expect(result.response.response.status).toBe(201);
    expect(result.response.response.headers).toContainEqual(['x-path', '/hello']);
    expect(Buffer.from(result.response.response.bodyBase64, 'base64').toString()).toBe('hi!');
  });

  it('reports init errors, and a runtime that exits mid-invocation as crashed', async () => {
    const sandbox = await newSandbox();
    const initFails = `#!/bin/bash
echo 'reading config' >&2
curl -sS -X POST "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error" -d '{"errorType":"Config.Missing","errorMessage":"no config"}' >/dev/null
exit 1
`;
    const broken = sandbox.startInstance(specOf(await zipOf({ bootstrap: initFails })));
    const initResult = await broken.invoke(event({}));
    expect(initResult).toMatchObject({
      outcome: 'error',
      phase: 'init',
      error: { type: 'Config.Missing', message: 'no config' },
    });
    expect(initResult.logs.map((line) => line.message)).toContain('reading config');
    expect(broken.dead).toBe(true);
    const exits = sandbox.startInstance(
      specOf(await zipOf({ bootstrap: bashBootstrap(`handle() { echo bye; exit 3; }`) })),
    );
    const crashed = await exits.invoke(event({}));
    expect(crashed).toMatchObject({ outcome: 'crashed', error: { type: 'Runtime.ExitError' } });
    expect(crashed.logs.map((line) => line.message)).toEqual(['bye']);
    expect(exits.dead).toBe(true);
  });

  it('captures stdout and stderr per invocation and truncates a flood', async () => {
    const sandbox = await newSandbox(4096);
    const handler = `handle() {
  echo "out $EVENT_DATA"; echo "err $EVENT_DATA" >&2
  if [ "$EVENT_DATA" = '"flood"' ]; then yes 0123456789012345678901234567890123456789 | head -n 1000; fi
  RESPONSE='{}'
}`;
    const instance = sandbox.startInstance(specOf(await zipOf({ bootstrap: bashBootstrap(handler) })));
    const first = await instance.invoke(event('one'));
    expect(first.logs.map(({ level, message }) => [level, message])).toEqual([
      ['info', 'out "one"'],
      ['error', 'err "one"'],
    ]);
    expect(first.logs[0]?.ts).toBeGreaterThan(Date.now() - 60_000);
    const second = await instance.invoke(event('two'));
    expect(second.logs.map((line) => line.message)).toEqual(['out "two"', 'err "two"']);
    expect(second.logTruncated).toBe(false);
    const flood = await instance.invoke(event('flood'));
    expect(flood.outcome).toBe('success');
    expect(flood.logTruncated).toBe(true);
    expect(flood.logBytes).toBeGreaterThan(40_000);
    expect(flood.logs.at(-1)?.message).toMatch(/^\[strato\] log output truncated: \d+ of \d+ bytes dropped/);
    const kept = flood.logs.slice(0, -1).reduce((sum, line) => sum + Buffer.byteLength(line.message) + 1, 0);
    expect(kept).toBeLessThanOrEqual(4096);
  });

  it('kills an instance that passes its timeout; a new one then works', async () => {
    const sandbox = await newSandbox();
    const handler = `handle() { if [ "$EVENT_DATA" = '"slow"' ]; then sleep 5; fi; RESPONSE='"done"'; }`;
    const spec = specOf(await zipOf({ bootstrap: bashBootstrap(handler) }), { timeoutMs: 500 });
    const instance = sandbox.startInstance(spec);
    const started = performance.now();
    const result = await instance.invoke(event('slow', 500));
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(result).toMatchObject({ outcome: 'timeout', error: { type: 'Timeout' } });
    expect(instance.dead).toBe(true);
    const fresh = sandbox.startInstance(spec);
    expect(expectSuccessJson(await fresh.invoke(event('fast', 500)))).toBe('done');
  });

  it('reports out_of_memory when the runtime passes its memory limit', async () => {
    const sandbox = await newSandbox();
    const instance = sandbox.startInstance(
      specOf(await zipOf({ bootstrap: pythonBootstrap }), { memoryMb: 64 }),
    );
    expect(expectSuccessJson(await instance.invoke(event({ a: 1, b: 2 })))).toEqual({ sum: 3 });
    const result = await instance.invoke(event({ allocateMb: 200, a: 0, b: 0 }));
    expect(result).toMatchObject({ outcome: 'out_of_memory', error: { type: 'OutOfMemory' } });
    expect(instance.dead).toBe(true);
  });

  it('confines the runtime: no host network, only its own env, its own pid namespace', async () => {
    const server = createServer((_request, response) => response.end('reached'));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    const port = (server.address() as AddressInfo).port;
    const hostIp =
      Object.values(networkInterfaces())
        .flat()
        .find((address) => address?.family === 'IPv4' && !address.internal)?.address ?? '127.0.0.1';
    process.env['STRATO_TEST_SECRET'] = 'hunter2';
    try {
      const handler = `handle() {
  if curl -s -m 2 "http://${hostIp}:${port}/" >/dev/null 2>&1; then NET=reached; else NET=blocked; fi
  if curl -s -m 2 "http://127.0.0.1:${port}/" >/dev/null 2>&1; then LOOP=reached; else LOOP=blocked; fi
  SECRET="\${STRATO_TEST_SECRET:-absent}"
  PROCS=$(ls -d /proc/[0-9]* | wc -l)
  RESPONSE="{\\"net\\":\\"$NET\\",\\"loop\\":\\"$LOOP\\",\\"secret\\":\\"$SECRET\\",\\"color\\":\\"$COLOR\\",\\"procs\\":$PROCS,\\"uid\\":$(id -u),\\"root\\":\\"$LAMBDA_TASK_ROOT\\",\\"fname\\":\\"$AWS_LAMBDA_FUNCTION_NAME\\"}"
}`;
      const sandbox = await newSandbox();
      const instance = sandbox.startInstance(
        specOf(await zipOf({ bootstrap: bashBootstrap(handler) }), {
          env: { COLOR: 'teal', AWS_LAMBDA_FUNCTION_NAME: 'spoofed' },
        }),
      );
      const body = expectSuccessJson(await instance.invoke(event({})));
      expect(body).toMatchObject({
        net: 'blocked',
        loop: 'blocked',
        secret: 'absent',
        color: 'teal',
        uid: 65534,
        root: '/var/task',
      });
      // Lambda's reserved variables win over the function's own.
      expect((body as { fname: string }).fname).toMatch(/^fn-/);
      process.stdout.write(`isolation probe: ${JSON.stringify(body)}\n`);
      // bootstrap (pid 1), the forwarder, and the subshell + ls of the count itself.
      expect((body as { procs: number }).procs).toBeLessThanOrEqual(6);
    } finally {
      delete process.env['STRATO_TEST_SECRET'];
    }
  });

  it('reports a zip without an executable bootstrap as an init error', async () => {
    const sandbox = await newSandbox();
    const instance = sandbox.startInstance(specOf(await zipOf({ 'index.sh': 'echo hi' })));
    const result = await instance.invoke(event({}));
    expect(result).toMatchObject({
      outcome: 'error',
      phase: 'init',
      error: { type: 'Runtime.InvalidEntrypoint' },
    });
    expect(instance.dead).toBe(true);
  });

  it('disposes an instance that is still starting without waiting for it', async () => {
    const sandbox = await newSandbox();
    const slowInit = `#!/bin/bash\nsleep 30\n`;
    const instance = sandbox.startInstance(
      specOf(await zipOf({ bootstrap: slowInit }), { timeoutMs: 60_000 }),
    );
    const pending = instance.invoke(event({}, 60_000));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = performance.now();
    await sandbox.close();
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(await pending).toMatchObject({ outcome: 'crashed', error: { type: 'SandboxCrashed' } });
    expect(sandbox.instanceCount).toBe(0);
    // Only this instance's cgroup: other servers on the host (other test files' included) keep pooled
    // sandboxes, each with a cgroup of its own.
    const leftovers = await readdir('/sys/fs/cgroup/memory/strato').catch(() => []);
    expect(leftovers).not.toContain(`strato-${instance.id}`);
  });

  it('measures the cold start of the bash runtime', async () => {
    const sandbox = await newSandbox();
    const spec = specOf(await zipOf({ bootstrap: bashBootstrap(echoHandler) }));
    const coldStartsMs: number[] = [];
    const initsMs: number[] = [];
    for (let run = 0; run < 10; run++) {
      const started = performance.now();
      const instance = sandbox.startInstance(spec);
      const result = await instance.invoke(event({ run }));
      expect(expectSuccessJson(result)).toMatchObject({ count: 1 });
      initsMs.push(result.initDurationMs);
      coldStartsMs.push(performance.now() - started);
      await instance.dispose();
    }
    coldStartsMs.sort((a, b) => a - b);
    initsMs.sort((a, b) => a - b);
    const p50 = coldStartsMs[Math.floor(coldStartsMs.length / 2)] ?? 0;
    const initP50 = initsMs[Math.floor(initsMs.length / 2)] ?? 0;
    process.stdout.write(
      `process tier cold start p50: ${p50.toFixed(1)} ms (spawn to first poll p50 ${initP50.toFixed(1)} ms) (${coldStartsMs.map((ms) => ms.toFixed(0)).join(', ')})\n`,
    );
    const warm = sandbox.startInstance(spec);
    await warm.invoke(event({}));
    const warmMs: number[] = [];
    for (let run = 0; run < 20; run++) {
      const started = performance.now();
      expectSuccessJson(await warm.invoke(event({ run })));
      warmMs.push(performance.now() - started);
    }
    warmMs.sort((a, b) => a - b);
    process.stdout.write(`process tier warm invoke p50 (bash runtime): ${(warmMs[10] ?? 0).toFixed(1)} ms\n`);
    await warm.dispose();
    expect(sandbox.instanceCount).toBe(0);
  });
});
