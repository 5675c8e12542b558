import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { zipOf } from './helpers/zip.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectConfinement } from '../src/sandbox/process/index.js';
import { invokeJson, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

const support = await detectConfinement();
let server: TestServer;
const secretName = 'STRATO_TEST_SERVER_SECRET';
beforeAll(async () => {
  // A variable of the server's own environment: functions must never see it.
  process.env[secretName] = 'server-only';
  server = await startTestServer();
});
afterAll(async () => {
  delete process.env[secretName];
  await server.stop();
});

async function deployNode(
  name: string,
  handler: string,
  files: Record<string, string | Buffer>,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const response = await server.authedFetch(`${server.url}/v1/functions/${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      zipFile: (await zipOf(files)).toString('base64'),
      runtime: 'nodejs20.x',
      handler,
      memoryMb: 256,
      ...extra,
    }),
  });
  expect(response.status, await response.clone().text()).toBe(201);
}

async function logsOf(name: string, invocationId: string | null): Promise<string[]> {
  let logs: string[] = [];
  for (let attempt = 0; attempt < 40 && logs.length === 0; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    logs = (await server.client.logs(name, { invocationId: invocationId! })).logs.map((line) => line.message);
  }
  return logs;
}

type ErrorBody = { error: { code: string; type: string; message: string; stack?: string } };

describe('Node.js functions in the process tier', () => {
  it.runIf(support.ok)('runs an async handler with a Lambda context, and logs console output', async () => {
    const name = uniqueName('node-async');
    await deployNode(name, 'index.handler', {
      'index.js': `
        exports.handler = async (event, context) => {
          console.log('adding', event.a, event.b);
          return {
            sum: event.a + event.b,
            requestId: context.awsRequestId,
            functionName: context.functionName,
            functionVersion: context.functionVersion,
            arn: context.invokedFunctionArn,
            memory: context.memoryLimitInMB,
            logGroup: context.logGroupName,
            hasStream: typeof context.logStreamName === 'string',
            remaining: context.getRemainingTimeInMillis(),
            waits: context.callbackWaitsForEmptyEventLoop,
            execEnv: process.env.AWS_EXECUTION_ENV,
            nodeVersion: process.version,
          };
        };`,
    });
    const coldStart = performance.now();
    const first = await invokeJson(server.client, name, { a: 2, b: 3 });
    const coldMs = performance.now() - coldStart;
    expect(first).toMatchObject({
      status: 200,
      cold: true,
      body: {
        sum: 5,
        requestId: first.invocationId,
        functionName: name,
        functionVersion: '1',
        memory: '256',
        logGroup: `/aws/lambda/${name}`,
        hasStream: true,
        waits: true,
        execEnv: 'AWS_Lambda_nodejs20.x',
        nodeVersion: process.version,
      },
    });
    expect((first.body as { arn: string }).arn).toContain(`:function:${name}`);
    expect((first.body as { remaining: number }).remaining).toBeGreaterThan(0);
    const warmTimes: number[] = [];
    for (let i = 0; i < 20; i++) {
      const warmStart = performance.now();
      const warm = await invokeJson(server.client, name, { a: i, b: 1 });
      warmTimes.push(performance.now() - warmStart);
      expect(warm).toMatchObject({ status: 200, cold: false, body: { sum: i + 1 } });
    }
    warmTimes.sort((x, y) => x - y);
    console.log(
      `node process tier: cold ${coldMs.toFixed(1)} ms, warm median ${warmTimes[10]!.toFixed(2)} ms, ` +
        `warm min ${warmTimes[0]!.toFixed(2)} ms`,
    );
    const logs = await logsOf(name, first.invocationId);
    expect(logs).toContain('adding 2 3');
    // The permission model's start-up warnings must not end up in the function's logs.
    expect(logs.join('\n')).not.toMatch(/Warning/);
  });

  it.runIf(support.ok)(
    'runs callback handlers, results that are undefined, and ESM .mjs handlers',
    async () => {
      const name = uniqueName('node-callback');
      await deployNode(name, 'cb.handler', {
        'cb.js': `
        exports.handler = (event, context, callback) => {
          setTimeout(() => callback(null, { doubled: event.n * 2 }), 5);
        };`,
      });
      expect(await invokeJson(server.client, name, { n: 21 })).toMatchObject({
        status: 200,
        body: { doubled: 42 },
      });

      const none = uniqueName('node-undefined');
      await deployNode(none, 'index.handler', { 'index.js': 'exports.handler = async () => undefined;' });
      expect(await invokeJson(server.client, none, {})).toMatchObject({ status: 200, body: null });

      const esm = uniqueName('node-esm');
      await deployNode(esm, 'app.main', {
        'app.mjs': `
        import { readFile } from 'node:fs/promises';
        const greeting = await Promise.resolve('hello');
        export const main = async (event) => ({ greeting: greeting + ' ' + event.who });`,
      });
      expect(await invokeJson(server.client, esm, { who: 'esm' })).toMatchObject({
        status: 200,
        body: { greeting: 'hello esm' },
      });

      // A .js file is ESM under a package.json "type": "module", as Node decides.
      const typed = uniqueName('node-type-module');
      await deployNode(typed, 'src/app.main', {
        'package.json': JSON.stringify({ type: 'module' }),
        'src/app.js': `import { helper } from './lib/helper.js';\nexport const main = async () => helper();`,
        'src/lib/helper.js': `export const helper = () => ({ from: 'subdirectory' });`,
      });
      expect(await invokeJson(server.client, typed, {})).toMatchObject({
        status: 200,
        body: { from: 'subdirectory' },
      });
    },
  );

  it.runIf(support.ok)(
    'gives node:fs a writable /tmp and a readable task root, and nothing else writable',
    async () => {
      const name = uniqueName('node-fs');
      await deployNode(name, 'lib/fs-handler.handler', {
        'lib/fs-handler.cjs': `
        const fs = require('node:fs');
        const path = require('node:path');
        exports.handler = async () => {
          fs.writeFileSync('/tmp/note.txt', 'kept in tmp');
          const attempt = (fn) => { try { fn(); return 'allowed'; } catch (e) { return e.code; } };
          return {
            tmp: fs.readFileSync('/tmp/note.txt', 'utf8'),
            own: fs.readFileSync(path.join(process.env.LAMBDA_TASK_ROOT, 'data.txt'), 'utf8'),
            writeTask: attempt(() => fs.writeFileSync('/var/task/x.txt', 'no')),
            writeEtc: attempt(() => fs.writeFileSync('/etc/strato-test', 'no')),
            readEtc: attempt(() => fs.readFileSync('/etc/hostname')),
            spawn: attempt(() => require('node:child_process').execFileSync('/bin/true')),
            worker: await new Promise((resolve, reject) => {
              const { Worker } = require('node:worker_threads');
              const code = "require('node:worker_threads').parentPort.postMessage(require('node:fs').readFileSync('/tmp/note.txt', 'utf8'))";
              new Worker(code, { eval: true }).once('message', resolve).once('error', reject);
            }),
          };
        };`,
        'data.txt': 'bundled data',
      });
      const result = await invokeJson(server.client, name, {});
      expect(result).toMatchObject({ status: 200, body: { tmp: 'kept in tmp', own: 'bundled data' } });
      const body = result.body as Record<string, string>;
      // Denied twice over: by Node's permission model and by the read-only root.
      expect(body.writeTask).toMatch(/^(ERR_ACCESS_DENIED|EROFS|EACCES)$/);
      expect(body.writeEtc).toMatch(/^(ERR_ACCESS_DENIED|EROFS|EACCES)$/);
      expect(body.readEtc).toBe('ERR_ACCESS_DENIED');
      // Workers share the permissions; child processes would run outside them, so they stay denied.
      expect(body.worker).toBe('kept in tmp');
      expect(body.spawn).toBe('ERR_ACCESS_DENIED');
    },
  );

  it.runIf(support.ok)('loads modules bundled in node_modules, and native addons', async () => {
    const name = uniqueName('node-modules');
    const files: Record<string, string | Buffer> = {
      'index.js': `
        const tiny = require('tiny-native-like');
        let native = null;
        try { native = require('./hello.node').hello(); } catch (e) { native = e.code || e.message; }
        exports.handler = async () => ({ tiny: tiny.answer(), native });`,
      'node_modules/tiny-native-like/package.json': JSON.stringify({
        name: 'tiny-native-like',
        main: 'lib/main.js',
      }),
      'node_modules/tiny-native-like/lib/main.js': 'exports.answer = () => 42;',
    };
    const addon = buildAddon();
    if (addon !== undefined) files['hello.node'] = addon;
    await deployNode(name, 'index.handler', files);
    expect(await invokeJson(server.client, name, {})).toMatchObject({
      status: 200,
      body: { tiny: 42, native: addon === undefined ? 'MODULE_NOT_FOUND' : 'native hello' },
    });
  });

  it.runIf(support.ok)('reports thrown errors as invocation errors', async () => {
    const name = uniqueName('node-throw');
    await deployNode(name, 'index.handler', {
      'index.js': `
        exports.handler = async (event) => {
          const error = new RangeError('bad order ' + event.id);
          throw error;
        };`,
    });
    const result = await invokeJson(server.client, name, { id: 7 });
    expect(result.status).toBe(500);
    const error = (result.body as ErrorBody).error;
    expect(error).toMatchObject({ code: 'FUNCTION_ERROR', type: 'RangeError', message: 'bad order 7' });
    expect(error.stack).toContain('/var/task/index.js');
    // The instance survives a handled error.
    expect(await invokeJson(server.client, name, { id: 8 })).toMatchObject({ status: 500, cold: false });
  });

  it.runIf(support.ok)('reports an uncaught exception, and answers callbacks early on request', async () => {
    const name = uniqueName('node-uncaught');
    await deployNode(name, 'index.handler', {
      'index.js': `
        exports.handler = (event, context, callback) => {
          if (event.crash) {
            setTimeout(() => { throw new TypeError('escaped the handler'); }, 1);
            return;
          }
          // A pending timer would hold the answer back unless the handler says not to wait for it.
          context.callbackWaitsForEmptyEventLoop = false;
          setTimeout(() => undefined, 60_000);
          callback(null, 'early');
        };`,
    });
    const started = performance.now();
    expect(await invokeJson(server.client, name, {})).toMatchObject({ status: 200, body: 'early' });
    expect(performance.now() - started).toBeLessThan(30_000);
    const crashed = await invokeJson(server.client, name, { crash: true });
    expect(crashed.status).toBe(500);
    expect((crashed.body as ErrorBody).error).toMatchObject({
      type: 'TypeError',
      message: 'escaped the handler',
    });
    // As on AWS, the runtime exits once it has reported the error. The tier notices the exit only after the
    // answer (an invocation sent in between meets the exit as a crash: see the report), so give it a moment.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await invokeJson(server.client, name, {})).toMatchObject({ status: 200, cold: true });
  });

  it.runIf(support.ok)(
    'reports a syntax error in the handler module as Runtime.UserCodeSyntaxError',
    async () => {
      const name = uniqueName('node-syntax');
      await deployNode(name, 'index.handler', { 'index.js': 'exports.handler = async () => {' });
      const result = await invokeJson(server.client, name, {});
      expect(result.status).toBe(500);
      expect((result.body as ErrorBody).error).toMatchObject({ type: 'Runtime.UserCodeSyntaxError' });
    },
  );

  it.runIf(support.ok)('reports a missing export or module as Lambda init errors', async () => {
    const noExport = uniqueName('node-no-export');
    await deployNode(noExport, 'index.nothere', { 'index.js': 'exports.handler = async () => 1;' });
    const missingExport = await invokeJson(server.client, noExport, {});
    expect(missingExport.status).toBe(500);
    expect((missingExport.body as ErrorBody).error).toMatchObject({
      type: 'Runtime.HandlerNotFound',
      message: 'index.nothere is undefined or not exported',
    });

    const noFile = uniqueName('node-no-file');
    await deployNode(noFile, 'missing.handler', { 'index.js': 'exports.handler = async () => 1;' });
    const missingFile = await invokeJson(server.client, noFile, {});
    expect(missingFile.status).toBe(500);
    expect((missingFile.body as ErrorBody).error).toMatchObject({
      type: 'Runtime.ImportModuleError',
      message: "Error: Cannot find module 'missing'",
    });
  });

  it.runIf(support.ok)("sees the function's env, never the server's", async () => {
    const name = uniqueName('node-env');
    await deployNode(
      name,
      'index.handler',
      {
        'index.js': `
        exports.handler = async () => ({
          mine: process.env.MY_SETTING,
          server: process.env.${secretName} ?? null,
          handler: process.env._HANDLER,
          nodePath: process.env.NODE_PATH,
          runtimeDir: process.env.LAMBDA_RUNTIME_DIR,
        });`,
      },
      { env: { MY_SETTING: 'from-deploy' } },
    );
    expect(await invokeJson(server.client, name, {})).toMatchObject({
      status: 200,
      body: {
        mine: 'from-deploy',
        server: null,
        handler: 'index.handler',
        nodePath: '/var/runtime/node_modules:/var/runtime:/var/task',
        runtimeDir: '/var/runtime',
      },
    });
  });

  it('validates the handler of Node.js runtimes', async () => {
    const zipFile = (await zipOf({ 'index.js': '' })).toString('base64');
    for (const handler of [undefined, 'index', '../up.handler', '/abs.handler', 'index.', 'a b.handler']) {
      const response = await server.authedFetch(`${server.url}/v1/functions/${uniqueName('bad-handler')}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          zipFile,
          runtime: 'nodejs22.x',
          ...(handler === undefined ? {} : { handler }),
        }),
      });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    }
  });
});

/** A real N-API addon compiled from C against this machine's Node headers, or undefined without a compiler. */
function buildAddon(): Buffer | undefined {
  if (!existsSync('/usr/include/node/node_api.h') || !existsSync('/usr/bin/gcc')) return undefined;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'strato-addon-'));
  try {
    writeFileSync(
      path.join(dir, 'hello.c'),
      `#include <node_api.h>
static napi_value Hello(napi_env env, napi_callback_info info) {
  napi_value s; napi_create_string_utf8(env, "native hello", NAPI_AUTO_LENGTH, &s); return s;
}
NAPI_MODULE_INIT() {
  napi_value fn; napi_create_function(env, "hello", NAPI_AUTO_LENGTH, Hello, NULL, &fn);
  napi_set_named_property(env, exports, "hello", fn); return exports;
}
`,
    );
    execFileSync('/usr/bin/gcc', ['-shared', '-fPIC', '-I/usr/include/node', 'hello.c', '-o', 'hello.node'], {
      cwd: dir,
    });
    return readFileSync(path.join(dir, 'hello.node'));
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
