import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { lambdaFunctionArn } from '../src/core/lambda-arn.js';
import {
  RuntimeApiEndpoint,
  lambdaEnvironment,
  type RuntimeApiEndpointOptions,
  type RuntimeInvocationResult,
} from '../src/sandbox/runtime-api/index.js';

const execFileAsync = promisify(execFile);
const functionArn = lambdaFunctionArn({ functionName: 'runtime-api-test', qualifier: '3' });
const children: ChildProcess[] = [];
const endpoints: RuntimeApiEndpoint[] = [];
const tempDirs: string[] = [];

afterEach(async () => {
  // Each runtime runs in its own process group, so curl/python children die with their bootstrap.
  for (const child of children.splice(0)) {
    if (child.pid === undefined) continue; // never started
    const exited =
      child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : once(child, 'exit');
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // the whole group has already exited
    }
    await exited;
  }
  await Promise.all(endpoints.splice(0).map((endpoint) => endpoint.close()));
  await Promise.all(tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function startEndpoint(options: Partial<RuntimeApiEndpointOptions> = {}): Promise<RuntimeApiEndpoint> {
  const endpoint = await RuntimeApiEndpoint.start({ functionArn, ...options });
  endpoints.push(endpoint);
  return endpoint;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'strato-runtime-api-'));
  tempDirs.push(dir);
  return dir;
}

/** Starts a runtime as the process tier will: the Lambda environment only, the task root as cwd. */
function startRuntime(endpoint: RuntimeApiEndpoint, taskRoot: string, command: string, args: string[] = []) {
  const env = {
    ...lambdaEnvironment({
      functionName: 'runtime-api-test',
      version: 3,
      memoryMb: 128,
      handler: 'handler.main',
      taskRoot,
      runtimeApi: endpoint.address,
    }),
    TMPDIR: taskRoot,
  };
  const child = spawn(command, args, {
    cwd: taskRoot,
    env,
    detached: true,
    // The runtime's stderr shows in the test output, which is where a failing runtime explains itself.
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  return child;
}

function invokeJson(
  endpoint: RuntimeApiEndpoint,
  event: unknown,
  options: { id?: string; deadline?: number } = {},
) {
  return endpoint.invoke({
    invocationId: options.id ?? crypto.randomUUID(),
    payload: Buffer.from(JSON.stringify(event)),
    deadline: options.deadline ?? Date.now() + 10_000,
  });
}

function successJson(result: RuntimeInvocationResult): unknown {
  if (result.outcome !== 'success') throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return JSON.parse(result.body.toString('utf8'));
}

const bashBootstrap = `#!/bin/bash
set -euo pipefail
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -LD "$HEADERS" "http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  RESPONSE=$(echo "$EVENT" | sed "s/^{/{\\"fn\\":\\"$AWS_LAMBDA_FUNCTION_NAME\\",/; s/world/WORLD/")
  curl -sS -X POST "http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response" \\
    -H 'Content-Type: application/json' -d "$RESPONSE" > /dev/null
  rm -f "$HEADERS"
done
`;

const pythonRuntime = `
import json, os, sys, traceback, urllib.request
base = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation"
def handler(event):
    if not event["numbers"]:
        raise ValueError("numbers must not be empty")
    return {"sum": sum(event["numbers"]), "memory": os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]}
while True:
    with urllib.request.urlopen(base + "/next") as poll:
        request_id = poll.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(poll.read())
    try:
        body, path, headers = json.dumps(handler(event)).encode(), "/response", {}
    except Exception as error:
        body = json.dumps({"errorMessage": str(error), "errorType": type(error).__name__,
                           "stackTrace": traceback.format_tb(error.__traceback__)}).encode()
        path, headers = "/error", {"Lambda-Runtime-Function-Error-Type": "Unhandled"}
    answer = urllib.request.Request(base + "/" + request_id + path, data=body, method="POST", headers=headers)
    urllib.request.urlopen(answer).read()
`;

describe('Lambda runtime clients', () => {
  it('runs the bash + curl custom runtime of the AWS tutorial', async () => {
    const endpoint = await startEndpoint();
    const taskRoot = await tempDir();
    await writeFile(join(taskRoot, 'bootstrap'), bashBootstrap);
    await chmod(join(taskRoot, 'bootstrap'), 0o755);
    startRuntime(endpoint, taskRoot, join(taskRoot, 'bootstrap'));

    for (let n = 1; n <= 3; n++) {
      const result = await invokeJson(endpoint, { name: 'world', n });
      expect(successJson(result)).toEqual({ fn: 'runtime-api-test', name: 'WORLD', n });
      expect(result.outcome === 'success' && result.contentType).toBe('application/json');
    }
  });

  it('runs a python runtime (urllib) that returns a result or posts an error', async () => {
    const python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)']).toString().trim();
    const endpoint = await startEndpoint();
    const taskRoot = await tempDir();
    await writeFile(join(taskRoot, 'runtime.py'), pythonRuntime);
    startRuntime(endpoint, taskRoot, python, ['runtime.py']);

    expect(successJson(await invokeJson(endpoint, { numbers: [1, 2, 3] }))).toEqual({
      sum: 6,
      memory: '128',
    });
    const failed = await invokeJson(endpoint, { numbers: [] });
    expect(failed).toMatchObject({
      outcome: 'error',
      error: { type: 'ValueError', message: 'numbers must not be empty' },
      functionErrorType: 'Unhandled',
    });
    expect(failed.outcome === 'error' && failed.error.stack).toMatch(/runtime\.py", line \d+, in handler/);
    // The instance is still serving after a function error.
    expect(successJson(await invokeJson(endpoint, { numbers: [4] }))).toEqual({ sum: 4, memory: '128' });
  });

  it('reports a node runtime that posts init/error', async () => {
    const endpoint = await startEndpoint();
    const taskRoot = await tempDir();
    await writeFile(
      join(taskRoot, 'bootstrap.mjs'),
      `await fetch('http://' + process.env.AWS_LAMBDA_RUNTIME_API + '/2018-06-01/runtime/init/error', {
        method: 'POST',
        headers: { 'Lambda-Runtime-Function-Error-Type': 'Runtime.ImportModuleError' },
        body: JSON.stringify({ errorType: 'Runtime.ImportModuleError', errorMessage: "Cannot find module 'left-pad'",
          stackTrace: ['at load (/var/task/index.mjs:1:1)', 'at init (/var/runtime/index.mjs:2:2)'] }),
      });
      process.exit(1);`,
    );
    const initError = new Promise((resolve) => endpoint.onInitError(resolve));
    const child = startRuntime(endpoint, taskRoot, process.execPath, ['bootstrap.mjs']);

    const expected = {
      type: 'Runtime.ImportModuleError',
      message: "Cannot find module 'left-pad'",
      stack: 'at load (/var/task/index.mjs:1:1)\nat init (/var/runtime/index.mjs:2:2)',
    };
    expect(await initError).toEqual(expected);
    await expect(endpoint.waitForFirstPoll()).rejects.toMatchObject({
      code: 'FUNCTION_ERROR',
      details: expected,
    });
    // A late subscriber still hears about it.
    expect(await new Promise((resolve) => endpoint.onInitError(resolve))).toEqual(expected);
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(1);
  });

  it('gives a node runtime the deadline, ARN, trace and client context headers', async () => {
    const endpoint = await startEndpoint();
    const taskRoot = await tempDir();
    await writeFile(
      join(taskRoot, 'bootstrap.mjs'),
      `const base = 'http://' + process.env.AWS_LAMBDA_RUNTIME_API + '/2018-06-01/runtime/invocation';
      for (;;) {
        const next = await fetch(base + '/next');
        const event = await next.json();
        const header = (name) => next.headers.get(name);
        const deadline = Number(header('lambda-runtime-deadline-ms'));
        const body = JSON.stringify({ event, deadline, remainingMs: deadline - Date.now(),
          arn: header('lambda-runtime-invoked-function-arn'), traceId: header('lambda-runtime-trace-id'),
          clientContext: JSON.parse(header('lambda-runtime-client-context')) });
        await fetch(base + '/' + header('lambda-runtime-aws-request-id') + '/response', { method: 'POST', body });
      }`,
    );
    startRuntime(endpoint, taskRoot, process.execPath, ['bootstrap.mjs']);
    await endpoint.waitForFirstPoll();

    const deadline = Date.now() + 3_000;
    const result = await endpoint.invoke({
      invocationId: crypto.randomUUID(),
      payload: Buffer.from('{"ping":true}'),
      deadline,
      clientContext: JSON.stringify({ custom: { tenant: 'a' } }),
    });
    const answer = successJson(result) as Record<string, unknown>;
    expect(answer).toMatchObject({ event: { ping: true }, deadline, arn: functionArn });
    expect(answer.remainingMs).toBeGreaterThan(0);
    expect(answer.remainingMs).toBeLessThanOrEqual(3_000);
    expect(answer.traceId).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$/);
    expect(answer.clientContext).toEqual({ custom: { tenant: 'a' } });
  });
});

function url(endpoint: RuntimeApiEndpoint, path: string): string {
  return `http://${endpoint.address}/2018-06-01/runtime${path}`;
}

async function pollNext(endpoint: RuntimeApiEndpoint, signal?: AbortSignal) {
  const response = await fetch(url(endpoint, '/invocation/next'), { signal });
  return {
    response,
    id: response.headers.get('lambda-runtime-aws-request-id') ?? '',
    body: await response.text(),
  };
}

async function post(endpoint: RuntimeApiEndpoint, path: string, body: string | Buffer, headers = {}) {
  const response = await fetch(url(endpoint, path), { method: 'POST', body, headers });
  return { status: response.status, json: await response.json() };
}

/** A chunked POST (no Content-Length), so the limit is enforced while streaming. */
function postChunked(endpoint: RuntimeApiEndpoint, path: string, chunks: Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url(endpoint, path), { method: 'POST' }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', reject);
    for (const chunk of chunks) request.write(chunk);
    request.end();
  });
}

const okBody = { status: 'OK' };

describe('Runtime API protocol', () => {
  it('accepts one response per delivered invocation and refuses unknown ids', async () => {
    const endpoint = await startEndpoint();
    expect(await post(endpoint, '/invocation/nope/response', '{}')).toEqual({
      status: 400,
      json: { errorType: 'InvalidRequestID', errorMessage: 'Invalid request ID' },
    });

    const invocation = invokeJson(endpoint, { a: 1 }, { id: 'req-1' });
    const poll = await pollNext(endpoint);
    expect(poll).toMatchObject({ id: 'req-1', body: '{"a":1}' });
    expect(poll.response.headers.get('content-type')).toBe('application/json');
    expect(
      await post(endpoint, '/invocation/req-1/response', 'plain bytes', { 'content-type': 'text/plain' }),
    ).toEqual({ status: 202, json: okBody });
    const result = await invocation;
    expect(result).toMatchObject({ outcome: 'success', contentType: 'text/plain' });
    expect(result.outcome === 'success' && result.body.toString()).toBe('plain bytes');
    expect((await post(endpoint, '/invocation/req-1/response', 'again')).status).toBe(400);
    expect((await post(endpoint, '/invocation/req-1/error', '{}')).status).toBe(400);
  });

  it('turns an error post into an error outcome, leniently', async () => {
    const endpoint = await startEndpoint();
    const invocation = invokeJson(endpoint, {}, { id: 'req-err' });
    await pollNext(endpoint);
    const posted = await post(endpoint, '/invocation/req-err/error', 'not json', {
      'lambda-runtime-function-error-type': 'Runtime.Unknown',
    });
    expect(posted).toEqual({ status: 202, json: okBody });
    expect(await invocation).toEqual({
      outcome: 'error',
      error: { type: 'Runtime.Unknown', message: 'not json', stack: undefined },
      functionErrorType: 'Runtime.Unknown',
    });
  });

  it('refuses a response over the limit with 413, declared or streamed, and fails the invocation', async () => {
    const endpoint = await startEndpoint({ maxResponseBytes: 1024 });
    const tooLarge = {
      outcome: 'error',
      error: { type: 'Function.ResponseSizeTooLarge', message: expect.stringContaining('(1024 bytes)') },
    };
    const declared = invokeJson(endpoint, {}, { id: 'big-1' });
    await pollNext(endpoint);
    expect(await post(endpoint, '/invocation/big-1/response', Buffer.alloc(2048, 'x'))).toEqual({
      status: 413,
      json: {
        errorType: 'RequestEntityTooLarge',
        errorMessage: 'Exceeded maximum allowed payload size (1024 bytes).',
      },
    });
    expect(await declared).toMatchObject(tooLarge);

    const streamed = invokeJson(endpoint, {}, { id: 'big-2' });
    await pollNext(endpoint);
    const status = await postChunked(endpoint, '/invocation/big-2/response', [
      Buffer.alloc(700),
      Buffer.alloc(700),
    ]);
    expect(status).toBe(413);
    expect(await streamed).toMatchObject(tooLarge);
    // Exactly at the limit is fine.
    const exact = invokeJson(endpoint, {}, { id: 'big-3' });
    await pollNext(endpoint);
    expect((await post(endpoint, '/invocation/big-3/response', Buffer.alloc(1024))).status).toBe(202);
    expect((await exact).outcome).toBe('success');
  });

  it('answers unknown routes 404 and wrong methods 405 in Lambda shape', async () => {
    const endpoint = await startEndpoint();
    const missing = await fetch(url(endpoint, '/invocation/abc'));
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ errorType: 'NotFound', errorMessage: expect.any(String) });
    const wrong = await fetch(url(endpoint, '/invocation/next'), { method: 'POST', body: '{}' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET');
    expect(await wrong.json()).toMatchObject({ errorType: 'MethodNotAllowed' });
    expect((await fetch(url(endpoint, '/init/error'))).status).toBe(405);
  });

  it('holds a /next long poll until an invocation arrives', async () => {
    const endpoint = await startEndpoint();
    let settled = false;
    const poll = pollNext(endpoint).finally(() => (settled = true));
    await endpoint.waitForFirstPoll();
    await sleep(200);
    expect(settled).toBe(false);
    const invocation = invokeJson(endpoint, { late: true }, { id: 'late-1' });
    expect(await poll).toMatchObject({ id: 'late-1', body: '{"late":true}' });
    await post(endpoint, '/invocation/late-1/response', 'null');
    expect((await invocation).outcome).toBe('success');
  });

  it('keeps an invocation queued when the polling client disconnects', async () => {
    const endpoint = await startEndpoint();
    const abort = new AbortController();
    const abandoned = pollNext(endpoint, abort.signal).catch((error: unknown) => error);
    await endpoint.waitForFirstPoll();
    abort.abort();
    await abandoned;
    await sleep(50); // let the server see the connection close
    const invocation = invokeJson(endpoint, { kept: true }, { id: 'kept-1' });
    expect(await pollNext(endpoint)).toMatchObject({ id: 'kept-1', body: '{"kept":true}' });
    await post(endpoint, '/invocation/kept-1/response', '1');
    expect((await invocation).outcome).toBe('success');
  });

  it('allows one invocation in flight and rejects pending work on close()', async () => {
    const endpoint = await startEndpoint();
    const first = invokeJson(endpoint, {});
    await expect(invokeJson(endpoint, {})).rejects.toMatchObject({ code: 'INTERNAL' });
    await pollNext(endpoint); // the runtime takes the invocation and never answers
    const waitingPoll = fetch(url(endpoint, '/invocation/next')).then(
      (response) => response.status,
      () => 'connection closed',
    );
    await sleep(50);
    await endpoint.close();
    await expect(first).rejects.toMatchObject({ code: 'SANDBOX_CRASHED' });
    expect(await waitingPoll).toBe(500);
    await expect(invokeJson(endpoint, {})).rejects.toMatchObject({ code: 'SANDBOX_CRASHED' });
  });

  it('refuses init/error once the runtime has polled', async () => {
    const endpoint = await startEndpoint();
    const abort = new AbortController();
    const poll = pollNext(endpoint, abort.signal).catch(() => undefined);
    await endpoint.waitForFirstPoll();
    const late = await post(endpoint, '/init/error', '{"errorType":"X","errorMessage":"y"}');
    expect(late).toMatchObject({ status: 403, json: { errorType: 'InvalidStateTransition' } });
    abort.abort();
    await poll;
  });

  it('serves a Unix socket for a tier that bridges it into a network namespace', async () => {
    const dir = await tempDir();
    const endpoint = await startEndpoint({ listen: { path: join(dir, 'runtime.sock') } });
    expect(endpoint.address).toBe('127.0.0.1:9001');
    const invocation = invokeJson(endpoint, { via: 'unix' }, { id: 'unix-1' });
    // Asynchronously: a synchronous child would block the endpoint it talks to.
    const curl = async (args: string[]) =>
      (await execFileAsync('curl', ['-sS', '--unix-socket', join(dir, 'runtime.sock'), ...args])).stdout;
    expect(await curl(['http://localhost/2018-06-01/runtime/invocation/next'])).toBe('{"via":"unix"}');
    expect(await curl(['-d', 'ok', 'http://localhost/2018-06-01/runtime/invocation/unix-1/response'])).toBe(
      '{"status":"OK"}',
    );
    expect((await invocation).outcome).toBe('success');
  });
});

describe('lambdaEnvironment', () => {
  it('sets the standard Lambda variables', () => {
    const env = lambdaEnvironment({
      functionName: 'orders',
      version: '$LATEST',
      memoryMb: 256,
      handler: 'index.handler',
      taskRoot: '/srv/task',
      runtimeApi: '127.0.0.1:9001',
      region: 'eu-west-1',
    });
    expect(env).toMatchObject({
      AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001',
      _HANDLER: 'index.handler',
      LAMBDA_TASK_ROOT: '/srv/task',
      LAMBDA_RUNTIME_DIR: '/srv/task',
      AWS_LAMBDA_FUNCTION_NAME: 'orders',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/orders',
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      TZ: ':UTC',
      LANG: 'en_US.UTF-8',
      PATH: '/usr/local/bin:/usr/bin:/bin',
      LD_LIBRARY_PATH: '/srv/task:/srv/task/lib',
    });
    expect(env.AWS_LAMBDA_LOG_STREAM_NAME).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    expect(env.AWS_EXECUTION_ENV).toBeUndefined();
    expect(lambdaEnvironment({ ...baseMeta, runtime: 'nodejs20.x' }).AWS_EXECUTION_ENV).toBe(
      'AWS_Lambda_nodejs20.x',
    );
  });
});

const baseMeta = { functionName: 'f', version: 1, memoryMb: 128, taskRoot: '/t', runtimeApi: '127.0.0.1:1' };
