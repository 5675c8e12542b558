import {
  CreateAliasCommand,
  CreateFunctionCommand,
  DeleteAliasCommand,
  DeleteFunctionCommand,
  GetAliasCommand,
  GetFunctionCommand,
  InvalidParameterValueException,
  InvokeCommand,
  LambdaClient,
  ListFunctionsCommand,
  ListVersionsByFunctionCommand,
  PublishVersionCommand,
  RequestTooLargeException,
  ResourceConflictException,
  ResourceNotFoundException,
  UpdateAliasCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  paginateListFunctions,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectConfinement } from '../src/sandbox/process/index.js';
import { startTestServer, uniqueName, type TestServer } from './helpers/server.js';
import { zipOf } from './helpers/zip.js';

// Credentials as a user would configure them: in Strato's config, and the same pair in the SDK client.
const credentials = { accessKeyId: 'STRATOTESTKEY0000001', secretAccessKey: 'strato-test-secret-key-0001' };
const support = await detectConfinement();
/** Lambda requires a role; Strato has no IAM and ignores it. */
const role = 'arn:aws:iam::123456789012:role/ignored';

let server: TestServer;
let lambda: LambdaClient;
beforeAll(async () => {
  server = await startTestServer({ lambdaCredentials: [credentials] });
  lambda = sdkClient(credentials.secretAccessKey);
});
afterAll(async () => {
  lambda.destroy();
  await server.stop();
});

function sdkClient(secretAccessKey: string): LambdaClient {
  return new LambdaClient({
    endpoint: server.url,
    region: 'eu-central-1',
    credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey },
    maxAttempts: 1,
  });
}

/** A Node handler that says which code it is, logs a line, and fails on request. */
function nodeHandler(tag: string): Promise<Buffer> {
  return zipOf({
    'index.js': `
exports.handler = async (event, context) => {
  console.log('hello from ${tag}', JSON.stringify(event));
  if (event.fail) throw new TypeError('failing as asked');
  return { tag: '${tag}', event, requestId: context.awsRequestId, greeting: process.env.GREETING ?? null };
};`,
  });
}

const decoder = new TextDecoder();
const payloadOf = (bytes: Uint8Array | undefined) =>
  JSON.parse(decoder.decode(bytes)) as Record<string, unknown>;
const payload = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

describe('the unmodified @aws-sdk/client-lambda against Strato', () => {
  it.runIf(support.ok)(
    'creates, invokes, versions, splits traffic, updates, lists and deletes a Node function',
    async () => {
      const name = uniqueName('sdk-node');
      const created = await lambda.send(
        new CreateFunctionCommand({
          FunctionName: name,
          Runtime: 'nodejs20.x',
          Handler: 'index.handler',
          Role: role,
          Code: { ZipFile: await nodeHandler('one') },
          MemorySize: 256,
          Timeout: 5,
          Environment: { Variables: { GREETING: 'hi' } },
        }),
      );
      expect(created).toMatchObject({
        FunctionName: name,
        FunctionArn: `arn:aws:lambda:eu-central-1:000000000000:function:${name}`,
        Runtime: 'nodejs20.x',
        Handler: 'index.handler',
        MemorySize: 256,
        Timeout: 5,
        Version: '$LATEST',
        State: 'Active',
        Environment: { Variables: { GREETING: 'hi' } },
        // No Node 20 is configured here beyond the one Strato runs on: GetFunction says which Node runs it.
        RuntimeVersionConfig: {
          RuntimeVersionArn: `arn:aws:lambda:::runtime:strato-node-${process.version}`,
        },
      });
      expect(created.StateReason === undefined).toBe(process.version.startsWith('v20.'));
      // The same function through Strato's native API: one set of functions.
      expect((await server.client.getFunction(name)).version.config).toMatchObject({
        runtime: 'nodejs20.x',
        memoryMb: 256,
      });

      // Sync invoke with the log tail.
      const first = await lambda.send(
        new InvokeCommand({ FunctionName: name, Payload: payload({ n: 1 }), LogType: 'Tail' }),
      );
      expect(first.StatusCode).toBe(200);
      expect(first.FunctionError).toBeUndefined();
      expect(first.ExecutedVersion).toBe('$LATEST');
      expect(payloadOf(first.Payload)).toMatchObject({ tag: 'one', event: { n: 1 }, greeting: 'hi' });
      const tail = Buffer.from(first.LogResult ?? '', 'base64').toString('utf8');
      expect(tail).toContain('hello from one {"n":1}');
      expect(tail).toMatch(/^START RequestId: \S+ Version: \$LATEST/);
      expect(tail).toMatch(
        /REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 256 MB/,
      );

      // A function error is a 200 with FunctionError, as on Lambda.
      const failed = await lambda.send(
        new InvokeCommand({ FunctionName: name, Payload: payload({ fail: true }) }),
      );
      expect(failed.StatusCode).toBe(200);
      expect(failed.FunctionError).toBe('Unhandled');
      expect(payloadOf(failed.Payload)).toMatchObject({
        errorType: 'TypeError',
        errorMessage: 'failing as asked',
      });

      // Event: accepted durably (202), then run by the queue; its id is the request id.
      const queued = await lambda.send(
        new InvokeCommand({
          FunctionName: name,
          InvocationType: 'Event',
          Payload: payload({ queued: true }),
        }),
      );
      expect(queued.StatusCode).toBe(202);
      const asyncId = queued.$metadata.requestId!;
      await expect
        .poll(
          async () => {
            const status = (await (
              await server.authedFetch(`${server.url}/v1/invocations/${asyncId}`)
            ).json()) as {
              async?: { status: string; result: string | null };
            };
            return status.async;
          },
          { timeout: 20_000, interval: 100 },
        )
        .toMatchObject({ status: 'succeeded', result: expect.stringContaining('"queued":true') });

      // DryRun checks without running.
      expect(
        (await lambda.send(new InvokeCommand({ FunctionName: name, InvocationType: 'DryRun' }))).StatusCode,
      ).toBe(204);

      // Two published versions, then a 70/30 alias over them.
      const v1 = await lambda.send(new PublishVersionCommand({ FunctionName: name }));
      await lambda.send(
        new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: await nodeHandler('two') }),
      );
      const v2 = await lambda.send(new PublishVersionCommand({ FunctionName: name }));
      expect(v1.Version).toMatch(/^\d+$/);
      expect(v2.Version).toMatch(/^\d+$/);
      expect(Number(v2.Version)).toBeGreaterThan(Number(v1.Version));
      const versions = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: name }));
      expect(versions.Versions?.map((v) => v.Version)).toEqual(
        expect.arrayContaining(['$LATEST', v1.Version, v2.Version]),
      );

      const alias = await lambda.send(
        new CreateAliasCommand({
          FunctionName: name,
          Name: 'live',
          FunctionVersion: v1.Version,
          RoutingConfig: { AdditionalVersionWeights: { [v2.Version!]: 0.3 } },
        }),
      );
      expect(alias).toMatchObject({
        Name: 'live',
        FunctionVersion: v1.Version,
        AliasArn: `arn:aws:lambda:eu-central-1:000000000000:function:${name}:live`,
        RoutingConfig: { AdditionalVersionWeights: { [v2.Version!]: 0.3 } },
      });
      const served = { one: 0, two: 0 };
      for (let i = 0; i < 60; i++) {
        const result = await lambda.send(
          new InvokeCommand({ FunctionName: name, Qualifier: 'live', Payload: payload({ i }) }),
        );
        const tag = payloadOf(result.Payload)['tag'] as 'one' | 'two';
        served[tag] += 1;
        expect(result.ExecutedVersion).toBe(tag === 'one' ? v1.Version : v2.Version);
      }
      // 60 draws at 30%: both versions serve (P(no 'two') = 0.7^60 ~ 5e-10), and 'one' serves most.
      expect(served.two).toBeGreaterThan(0);
      expect(served.one).toBeGreaterThan(served.two);

      // Moving the alias to v2 alone, and reading it back.
      await lambda.send(
        new UpdateAliasCommand({
          FunctionName: name,
          Name: 'live',
          FunctionVersion: v2.Version,
          RoutingConfig: {},
        }),
      );
      expect(await lambda.send(new GetAliasCommand({ FunctionName: name, Name: 'live' }))).toMatchObject({
        FunctionVersion: v2.Version,
      });
      const viaAlias = await lambda.send(
        new InvokeCommand({ FunctionName: `${name}:live`, Payload: payload({}) }),
      );
      expect(payloadOf(viaAlias.Payload)).toMatchObject({ tag: 'two' });

      // Configuration update: a new $LATEST with the new settings; published versions keep theirs.
      const updated = await lambda.send(
        new UpdateFunctionConfigurationCommand({
          FunctionName: name,
          MemorySize: 512,
          Environment: { Variables: { GREETING: 'hello again' } },
        }),
      );
      expect(updated).toMatchObject({
        MemorySize: 512,
        Environment: { Variables: { GREETING: 'hello again' } },
      });
      const afterUpdate = await lambda.send(new InvokeCommand({ FunctionName: name, Payload: payload({}) }));
      expect(payloadOf(afterUpdate.Payload)).toMatchObject({ tag: 'two', greeting: 'hello again' });
      const oldVersion = await lambda.send(
        new GetFunctionCommand({ FunctionName: name, Qualifier: v1.Version }),
      );
      expect(oldVersion.Configuration).toMatchObject({ Version: v1.Version, MemorySize: 256 });

      // An alias can go on its own.
      await lambda.send(new DeleteAliasCommand({ FunctionName: name, Name: 'live' }));
      expect(
        await errorOf(lambda.send(new GetAliasCommand({ FunctionName: name, Name: 'live' }))),
      ).toBeInstanceOf(ResourceNotFoundException);

      // Delete: gone for the SDK and for the native API.
      await lambda.send(new DeleteFunctionCommand({ FunctionName: name }));
      expect(await errorOf(lambda.send(new GetFunctionCommand({ FunctionName: name })))).toBeInstanceOf(
        ResourceNotFoundException,
      );
      await expect(server.client.getFunction(name)).rejects.toMatchObject({ code: 'FUNCTION_NOT_FOUND' });
    },
    60_000,
  );

  it('pages ListFunctions with Marker and MaxItems', async () => {
    const prefix = uniqueName('sdk-page');
    const names = [1, 2, 3, 4, 5].map((i) => `${prefix}-${i}`);
    for (const name of names) {
      await lambda.send(
        new CreateFunctionCommand({
          FunctionName: name,
          Runtime: 'provided.al2023',
          Handler: 'unused',
          Role: role,
          Code: { ZipFile: await zipOf({ bootstrap: '#!/bin/sh\nexit 1\n' }) },
        }),
      );
    }
    const firstPage = await lambda.send(new ListFunctionsCommand({ MaxItems: 2 }));
    expect(firstPage.Functions).toHaveLength(2);
    expect(firstPage.NextMarker).toBeDefined();
    const seen: string[] = [];
    for await (const page of paginateListFunctions({ client: lambda, pageSize: 2 }, {})) {
      expect(page.Functions!.length).toBeLessThanOrEqual(2);
      seen.push(...page.Functions!.map((fn) => fn.FunctionName!));
    }
    expect(seen).toEqual(expect.arrayContaining(names));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('throws the typed exceptions: missing function, conflict, bad parameter, oversized payload, bad signature', async () => {
    const missing = uniqueName('sdk-missing');
    const notFound = await errorOf(lambda.send(new InvokeCommand({ FunctionName: missing })));
    expect(notFound).toBeInstanceOf(ResourceNotFoundException);
    expect((notFound as ResourceNotFoundException).$metadata.httpStatusCode).toBe(404);

    const name = uniqueName('sdk-errors');
    const create = async () =>
      lambda.send(
        new CreateFunctionCommand({
          FunctionName: name,
          Runtime: 'provided.al2023',
          Handler: 'x',
          Role: role,
          Code: { ZipFile: await zipOf({ bootstrap: '#!/bin/sh\nexit 1\n' }) },
        }),
      );
    await create();
    expect(await errorOf(create())).toBeInstanceOf(ResourceConflictException);

    const badRuntime = await errorOf(
      lambda.send(
        new CreateFunctionCommand({
          FunctionName: uniqueName('sdk-bad'),
          Runtime: 'python2.7',
          Handler: 'x',
          Role: role,
          Code: { ZipFile: await zipOf({ bootstrap: '#!/bin/sh\n' }) },
        }),
      ),
    );
    expect(badRuntime).toBeInstanceOf(InvalidParameterValueException);
    expect((badRuntime as Error).message).toMatch(/python2\.7/);

    const tooLarge = await errorOf(
      lambda.send(
        new InvokeCommand({ FunctionName: name, Payload: new Uint8Array(6 * 1024 * 1024 + 1).fill(32) }),
      ),
    );
    expect(tooLarge).toBeInstanceOf(RequestTooLargeException);

    const wrongSecret = sdkClient('not-the-right-secret-at-all');
    try {
      const denied = await errorOf(wrongSecret.send(new GetFunctionCommand({ FunctionName: name })));
      expect((denied as { name: string }).name).toBe('InvalidSignatureException');
      expect((denied as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(403);
    } finally {
      wrongSecret.destroy();
    }

    const unsigned = await fetch(`${server.url}/2015-03-31/functions/${name}`);
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
  });
});
