import { InvokeCommand, LambdaClient, TooManyRequestsException } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploySource, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

const credentials = { accessKeyId: 'STRATORATELIMITKEY01', secretAccessKey: 'strato-rate-limit-secret-0001' };

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ lambdaCredentials: [credentials], asyncRetryBaseDelay: 20 });
});
afterAll(async () => {
  await server.stop();
});

/** Answers JSON to invoke and text to the HTTP trigger. */
const source = `export default {
  async fetch() { return new Response('ok'); },
};`;
const jsonSource = `export default async () => ({ ok: true });`;

/** PATCH the function's settings (the typed client has no rateLimit field yet). */
async function setRateLimit(name: string, rateLimit: unknown): Promise<void> {
  const response = await server.authedFetch(`${server.url}/v1/functions/${name}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rateLimit }),
  });
  expect(response.status, await response.text()).toBe(200);
}

async function invokeStatus(name: string): Promise<Response> {
  const response = await server.authedFetch(`${server.url}/v1/functions/${name}/invoke`, {
    method: 'POST',
    body: '{}',
  });
  await response.arrayBuffer();
  return response;
}

/** Polls until `attempt` answers 2xx (the bucket refilled); never asserts how quickly. */
async function eventuallyAccepted(attempt: () => Promise<Response>): Promise<void> {
  for (;;) {
    const response = await attempt();
    if (response.ok) return;
    expect(response.status).toBe(429);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('per-function rate limits', () => {
  it('accepts exactly the burst, then answers 429 RATE_LIMITED with Retry-After, then refills', async () => {
    const name = uniqueName('limited');
    await deploySource(server.client, name, jsonSource);
    await setRateLimit(name, { rate: 2, burst: 3 });
    const fn = await server.client.getFunction(name);
    expect(fn.version.config.rateLimit).toEqual({ ratePerSecond: 2, burst: 3, initialBurst: 0 });

    for (let i = 0; i < 3; i++) expect((await invokeStatus(name)).status).toBe(200);
    const refused = await server.authedFetch(`${server.url}/v1/functions/${name}/invoke`, {
      method: 'POST',
      body: '{}',
    });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    const body = (await refused.json()) as { error: { code: string; details: unknown } };
    expect(body.error.code).toBe('RATE_LIMITED');
    expect(body.error.details).toEqual({ retryAfterSeconds: 1, scope: 'function' });

    // 2 per second: one token per 500 ms.
    await eventuallyAccepted(() => invokeStatus(name));
  });

  it('limits the HTTP trigger with the same budget', async () => {
    const name = uniqueName('limited-http');
    await deploySource(server.client, name, source);
    await setRateLimit(name, { rate: 2, burst: 3 });
    const hit = async () => {
      const response = await fetch(`${server.url}/fn/${name}/path`);
      await response.arrayBuffer();
      return response;
    };
    for (let i = 0; i < 2; i++) expect((await hit()).status).toBe(200);
    // The invoke endpoint spends the same function's budget.
    expect((await invokeStatus(name)).status).toBe(200);
    const refused = await hit();
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    await eventuallyAccepted(hit);
  });

  it('grants the initial burst once, and null lifts the limit', async () => {
    const name = uniqueName('limited-lift');
    await deploySource(server.client, name, jsonSource);
    await setRateLimit(name, { rate: 0.5, initialBurst: 2 });
    // burst defaults to ceil(rate) = 1, plus the one-time 2.
    for (let i = 0; i < 3; i++) expect((await invokeStatus(name)).status).toBe(200);
    const refused = await invokeStatus(name);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('2');

    await setRateLimit(name, null);
    expect((await server.client.getFunction(name)).version.config.rateLimit).toBeUndefined();
    for (let i = 0; i < 10; i++) expect((await invokeStatus(name)).status).toBe(200);
  });

  it('keeps the limit across other settings changes and refuses invalid limits', async () => {
    const name = uniqueName('limited-keep');
    await deploySource(server.client, name, jsonSource);
    await setRateLimit(name, { rate: 5 });
    await server.client.updateSettings(name, { memoryMb: 64 });
    expect((await server.client.getFunction(name)).version.config.rateLimit).toEqual({
      ratePerSecond: 5,
      burst: 5,
      initialBurst: 0,
    });
    for (const invalid of [{ rate: 0 }, { rate: 1, burst: 0 }, { burst: 3 }, { rate: 1, extra: true }]) {
      const response = await server.authedFetch(`${server.url}/v1/functions/${name}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ rateLimit: invalid }),
      });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
    }
  });

  it('retries async invocations over the limit without spending their attempts', async () => {
    const name = uniqueName('limited-async');
    await deploySource(server.client, name, jsonSource, { asyncRetries: 0 });
    await setRateLimit(name, { rate: 4, burst: 1 });
    const queued = await Promise.all(
      [1, 2, 3].map((i) => server.client.invokeAsync(name, JSON.stringify({ i }))),
    );
    for (const { invocationId } of queued) {
      await expect
        .poll(async () => (await server.client.getAsyncInvocation(invocationId)).status, {
          timeout: 20_000,
          interval: 50,
        })
        .toBe('succeeded');
    }
  });

  it('answers the Lambda API with a TooManyRequestsException', async () => {
    const name = uniqueName('limited-lambda');
    await deploySource(server.client, name, jsonSource);
    await setRateLimit(name, { rate: 1, burst: 1 });
    const lambda = new LambdaClient({
      endpoint: server.url,
      region: 'eu-central-1',
      credentials,
      maxAttempts: 1,
    });
    try {
      const first = await lambda.send(new InvokeCommand({ FunctionName: name }));
      expect(first.StatusCode).toBe(200);
      const error = await lambda.send(new InvokeCommand({ FunctionName: name })).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(TooManyRequestsException);
      const throttled = error as TooManyRequestsException;
      expect(throttled.$metadata.httpStatusCode).toBe(429);
      expect(throttled.Reason).toBe('FunctionInvocationRateLimitExceeded');
      expect(throttled.retryAfterSeconds).toBe('1');
    } finally {
      lambda.destroy();
    }
  });
});
