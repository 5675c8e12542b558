import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  GetFunctionCommand,
  InvalidParameterValueException,
  LambdaClient,
  RequestTooLargeException,
  ResourceConflictException,
  ResourceNotFoundException,
  TooManyRequestsException,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StratoError } from '../core/strato-error.js';
import { lambdaErrorReply, lambdaSignatureErrorReply, type LambdaErrorReply } from './lambda-errors.js';

let server: http.Server;
let client: LambdaClient;
let nextReply: LambdaErrorReply;

beforeAll(async () => {
  server = http.createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(nextReply.status, {
        'content-type': 'application/json',
        'x-amzn-errortype': nextReply.errorType,
      });
      response.end(JSON.stringify(nextReply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  client = new LambdaClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
    maxAttempts: 1,
  });
});
afterAll(async () => {
  client.destroy();
  await new Promise((resolve) => server.close(resolve));
});

/** What the unmodified SDK throws when Strato answers with this reply. */
async function sdkErrorFor(reply: LambdaErrorReply): Promise<unknown> {
  nextReply = reply;
  try {
    await client.send(new GetFunctionCommand({ FunctionName: 'fn' }));
  } catch (error) {
    return error;
  }
  throw new Error('the SDK did not throw');
}

describe('Lambda error replies, as the AWS SDK reads them', () => {
  it.each([
    ['FUNCTION_NOT_FOUND', ResourceNotFoundException, 404],
    ['ALIAS_NOT_FOUND', ResourceNotFoundException, 404],
    ['FUNCTION_EXISTS', ResourceConflictException, 409],
    ['VALIDATION_FAILED', InvalidParameterValueException, 400],
    ['INVALID_ZIP', InvalidParameterValueException, 400],
    ['PAYLOAD_TOO_LARGE', RequestTooLargeException, 413],
    ['TOO_MANY_REQUESTS', TooManyRequestsException, 429],
  ] as const)('%s becomes the SDK typed exception', async (code, exception, status) => {
    const error = await sdkErrorFor(lambdaErrorReply(new StratoError(code, `because ${code}`)));
    expect(error).toBeInstanceOf(exception);
    expect(error).toMatchObject({ message: `because ${code}`, $metadata: { httpStatusCode: status } });
  });

  it('sends retryAfterSeconds with throttles, as Lambda does', async () => {
    const error = await sdkErrorFor(
      lambdaErrorReply(
        new StratoError('TOO_MANY_REQUESTS', 'slow down', { details: { retryAfterSeconds: 3 } }),
      ),
    );
    expect(error).toMatchObject({
      retryAfterSeconds: '3',
      Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
    });
  });

  it('makes platform failures a 5xx ServiceException', async () => {
    const error = await sdkErrorFor(lambdaErrorReply(new StratoError('INTERNAL', 'oops')));
    expect(error).toMatchObject({ name: 'ServiceException', $metadata: { httpStatusCode: 500 } });
  });

  it('answers signature failures with 403 and AWS exception names', async () => {
    const bad = await sdkErrorFor(
      lambdaSignatureErrorReply({ ok: false, reason: 'bad-signature', message: 'no match' }),
    );
    expect(bad).toMatchObject({
      name: 'InvalidSignatureException',
      message: 'no match',
      $metadata: { httpStatusCode: 403 },
    });
    const unknown = await sdkErrorFor(
      lambdaSignatureErrorReply({ ok: false, reason: 'unknown-key', message: 'who?' }),
    );
    expect(unknown).toMatchObject({
      name: 'UnrecognizedClientException',
      $metadata: { httpStatusCode: 403 },
    });
  });
});
