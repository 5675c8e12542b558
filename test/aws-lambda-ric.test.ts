import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zipOf } from './helpers/zip.js';
import { detectConfinement } from '../src/sandbox/process/index.js';
import { invokeJson, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

/**
 * The unmodified `aws-lambda-ric` package (AWS's Node.js runtime interface client, the one in AWS's Node
 * base images) as a `provided.al2023` function's runtime: proof that the process tier speaks the Runtime
 * API the way Lambda does, to a client we did not write.
 */

const require = createRequire(import.meta.url);
/** Absent when its native addon could not be built (it needs cmake and a C++ toolchain at install). */
const ricDir = ((): string | undefined => {
  try {
    const dir = path.dirname(require.resolve('aws-lambda-ric/package.json'));
    return existsSync(path.join(dir, 'rapid-client.node')) ? dir : undefined;
  } catch {
    return undefined;
  }
})();

/**
 * What the package needs at run time: its bundled entry (which already inlines its one runtime dependency,
 * `@aws/lambda-invoke-store`) and the addon its postinstall built. `node-addon-api` and `node-gyp`, its
 * other dependencies, only build that addon.
 */
const ricRuntimeFiles = ['package.json', 'index.mjs', 'rapid-client.node', 'LICENSE', 'NOTICE'];

const handlerSource = `exports.handler = async (event, context) => {
  console.log('handling', JSON.stringify(event));
  if (event.fail) {
    const error = new RangeError('amount must be positive');
    error.name = 'AmountError';
    throw error;
  }
  return { echoed: event, requestId: context.awsRequestId, fn: context.functionName };
};
`;

/**
 * Runs the RIC with the Node running these tests (the host's root is visible, read-only, inside the
 * sandbox). RIC 4 reads the handler from `_HANDLER` and `LAMBDA_TASK_ROOT`, which the process tier sets;
 * the argument is what AWS's own images pass.
 */
const bootstrap = `#!/bin/sh
exec ${process.execPath} /var/task/node_modules/aws-lambda-ric/index.mjs index.handler
`;

async function ricFunctionZip(packageDir: string): Promise<Buffer> {
  const files: Record<string, Buffer | string> = { bootstrap, 'index.js': handlerSource };
  for (const file of ricRuntimeFiles) {
    files[`node_modules/aws-lambda-ric/${file}`] = readFileSync(path.join(packageDir, file));
  }
  return zipOf(files);
}

/** Deploys a function whose runtime is the RIC from this repo's node_modules. */
async function deployRicFunction(name: string, packageDir: string): Promise<void> {
  const zipFile = (await ricFunctionZip(packageDir)).toString('base64');
  const deployed = await server.authedFetch(`${server.url}/v1/functions/${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ zipFile, runtime: 'provided.al2023', handler: 'index.handler', memoryMb: 256 }),
  });
  expect(deployed.status).toBe(201);
}

async function logsOf(name: string, invocationId: string): Promise<string[]> {
  let logs: string[] = [];
  for (let attempt = 0; attempt < 40 && logs.length === 0; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    logs = (await server.client.logs(name, { invocationId })).logs.map((line) => line.message);
  }
  return logs;
}

const support = await detectConfinement();
const missingRic =
  'node_modules/aws-lambda-ric (with the rapid-client.node its install builds) is missing: ' +
  'install cmake, make, g++ and python3, then npm install';
let server: TestServer;
beforeAll(async () => {
  if (support.ok && ricDir !== undefined) server = await startTestServer();
});
afterAll(async () => {
  if (support.ok && ricDir !== undefined) await server.stop();
});

describe('the unmodified aws-lambda-ric as a custom runtime in the process tier', () => {
  it.runIf(support.ok)(
    'runs a Node handler: result, request id, function name and console output, cold then warm',
    async (context) => {
      if (ricDir === undefined) return context.skip(missingRic);
      const name = uniqueName('ric-node');
      await deployRicFunction(name, ricDir);

      const cold = await invokeJson(server.client, name, { order: 1 });
      expect(cold).toMatchObject({ status: 200, cold: true, body: { echoed: { order: 1 }, fn: name } });
      const coldRequestId = (cold.body as { requestId: string }).requestId;
      // The RIC's awsRequestId is the Lambda request id, which Strato makes the invocation id.
      expect(coldRequestId).toBe(cold.invocationId);

      const warm = await invokeJson(server.client, name, { order: 2 });
      expect(warm).toMatchObject({ status: 200, cold: false, body: { echoed: { order: 2 }, fn: name } });
      expect((warm.body as { requestId: string }).requestId).toBe(warm.invocationId);
      expect(warm.invocationId).not.toBe(cold.invocationId);

      // The RIC writes each console line to stdout as "<ISO time>\t<request id>\tINFO\t<message>".
      const logs = await logsOf(name, cold.invocationId!);
      expect(logs).toContainEqual(expect.stringMatching(`\t${coldRequestId}\tINFO\thandling {"order":1}$`));
      const { instances } = await server.client.instances(name);
      expect(instances).toHaveLength(1);
      expect(instances[0]).toMatchObject({ tier: 'process' });
    },
  );

  it.runIf(support.ok)('reports an error thrown by the handler as a function error', async (context) => {
    if (ricDir === undefined) return context.skip(missingRic);
    const name = uniqueName('ric-node-throw');
    await deployRicFunction(name, ricDir);

    const failed = await invokeJson(server.client, name, { fail: true });
    expect(failed).toMatchObject({
      status: 500,
      body: { error: { code: 'FUNCTION_ERROR', type: 'AmountError', message: 'amount must be positive' } },
    });
    // The runtime client sends the stack as `trace`; it reaches the caller.
    expect((failed.body as { error: { stack?: string } }).error.stack).toContain('/var/task/index.js');
    // The instance survives a handler error, as on Lambda.
    expect(await invokeJson(server.client, name, { order: 3 })).toMatchObject({
      status: 200,
      cold: false,
      body: { echoed: { order: 3 } },
    });
  });
});
