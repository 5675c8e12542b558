import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploySource, invokeJson, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ maxPayload: '64kb' });
});
afterAll(async () => {
  await server.stop();
});

describe('invocation outcomes', () => {
  it('maps a thrown error to 500 FUNCTION_ERROR with a stack in the user TypeScript', async () => {
    const name = uniqueName('thrower');
    const source = [
      'interface Order { id: number }',
      '',
      'function validate(order: Order): void {',
      '  if (order.id < 0) {',
      "    throw new RangeError('order id must be positive');",
      '  }',
      '}',
      '',
      'export default async (event: Order) => {',
      '  validate(event);',
      '  return { ok: true };',
      '};',
    ].join('\n');
    await deploySource(server.client, name, {
      'src/orders.ts': source,
      'index.ts': "export { default } from './src/orders';",
    });
    const result = await invokeJson(server.client, name, { id: -1 });
    expect(result.status).toBe(500);
    const error = (result.body as { error: { code: string; type: string; message: string; stack: string } })
      .error;
    expect(error.code).toBe('FUNCTION_ERROR');
    expect(error.type).toBe('RangeError');
    expect(error.message).toBe('order id must be positive');
    expect(error.stack).toMatch(/src\/orders\.ts:5:\d+/);
    expect(error.stack).toMatch(/src\/orders\.ts:10:\d+/);
    expect(error.stack).not.toContain('function.js');
    expect(error.stack).not.toContain('strato:runtime');
  });

  it('reports non-Error throws', async () => {
    const name = uniqueName('throw-string');
    await deploySource(server.client, name, `export default async () => { throw 'just a string'; };`);
    const result = await invokeJson(server.client, name);
    expect(result.status).toBe(500);
    expect(result.body).toMatchObject({
      error: { code: 'FUNCTION_ERROR', type: 'Error', message: 'just a string' },
    });
  });

  it('times out a busy loop with 504 INVOCATION_TIMEOUT and recovers', async () => {
    const name = uniqueName('spin');
    await deploySource(
      server.client,
      name,
      `export default async (e: { spin: boolean }) => { if (e.spin) for (;;) {} return 'done'; };`,
      {
        timeout: '300ms',
      },
    );
    const result = await invokeJson(server.client, name, { spin: true });
    expect(result.status).toBe(504);
    expect(result.body).toMatchObject({ error: { code: 'INVOCATION_TIMEOUT' } });
    expect(await invokeJson(server.client, name, { spin: false })).toMatchObject({
      status: 200,
      body: 'done',
      cold: true,
    });
  });

  it('times out a handler that awaits forever', async () => {
    const name = uniqueName('hang');
    await deploySource(server.client, name, `export default () => new Promise(() => {});`, {
      timeout: '200ms',
    });
    const result = await invokeJson(server.client, name);
    expect(result.status).toBe(504);
    expect(result.body).toMatchObject({ error: { code: 'INVOCATION_TIMEOUT' } });
  });

  it('stops a function at its memory limit with 502 OUT_OF_MEMORY', async () => {
    const name = uniqueName('hog');
    await deploySource(
      server.client,
      name,
      `export default async () => { const keep: number[][] = []; for (;;) keep.push(new Array(100000).fill(1)); };`,
      { memoryMb: 32, timeout: '20s' },
    );
    const result = await invokeJson(server.client, name);
    expect(result.status).toBe(502);
    expect(result.body).toMatchObject({ error: { code: 'OUT_OF_MEMORY' } });
  });

  it('answers 404 FUNCTION_NOT_FOUND for an unknown function', async () => {
    const result = await invokeJson(server.client, uniqueName('missing'));
    expect(result.status).toBe(404);
    expect(result.body).toMatchObject({ error: { code: 'FUNCTION_NOT_FOUND' } });
  });

  it('refuses a payload over the limit with 413 before running anything', async () => {
    const name = uniqueName('big-payload');
    await deploySource(server.client, name, `export default async () => 'ran';`);
    const response = await server.client.invoke(name, JSON.stringify({ blob: 'x'.repeat(70 * 1024) }));
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    const trigger = await fetch(`${server.url}/fn/${name}`, { method: 'POST', body: 'y'.repeat(70 * 1024) });
    expect(trigger.status).toBe(413);
    // Records are flushed every 100 ms: wait past that, then check nothing ran.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { invocations } = await server.client.listInvocations(name);
    expect(invocations).toHaveLength(0);
  });

  it('refuses malformed JSON and non-UTF-8 bodies with 400 INVALID_JSON', async () => {
    const name = uniqueName('json-check');
    await deploySource(server.client, name, `export default async (e: unknown) => e;`);
    const malformed = await server.client.invoke(name, '{"a":');
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body)).toMatchObject({ error: { code: 'INVALID_JSON' } });
    const binary = await server.authedFetch(`${server.url}/v1/functions/${name}/invoke`, {
      method: 'POST',
      body: new Uint8Array([0x22, 0xff, 0x22]),
    });
    expect(binary.status).toBe(400);
    expect(await binary.json()).toMatchObject({ error: { code: 'INVALID_JSON' } });
  });

  it('accepts curl-style form content types as JSON events', async () => {
    const name = uniqueName('curl');
    await deploySource(server.client, name, `export default async (e: { name: string }) => 'hi ' + e.name;`);
    const response = await server.authedFetch(`${server.url}/v1/functions/${name}/invoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '{"name":"Ada"}',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toBe('hi Ada');
  });

  it('refuses invalid function names with 400 INVALID_NAME', async () => {
    const response = await server.authedFetch(`${server.url}/v1/functions/${'x'.repeat(65)}/invoke`, {
      method: 'POST',
      body: '{}',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'INVALID_NAME' } });
  });

  it('reports an exception thrown at module load as an init error', async () => {
    const name = uniqueName('init-throws');
    await deploySource(
      server.client,
      name,
      `throw new TypeError('bad config at load'); export default async () => 1;`,
    );
    const result = await invokeJson(server.client, name);
    expect(result.status).toBe(500);
    expect(result.body).toMatchObject({
      error: { code: 'FUNCTION_ERROR', type: 'TypeError', message: 'bad config at load', phase: 'init' },
    });
  });

  it('reports an exception thrown in a timer callback as the invocation error', async () => {
    const name = uniqueName('timer-throws');
    await deploySource(
      server.client,
      name,
      `export default () => new Promise(() => { setTimeout(() => { throw new Error('boom in timer'); }, 5); });`,
    );
    const result = await invokeJson(server.client, name);
    expect(result.status).toBe(500);
    expect(result.body).toMatchObject({ error: { code: 'FUNCTION_ERROR', message: 'boom in timer' } });
  });

  it('answers 502 INVALID_FUNCTION_RESPONSE when a function returns an unsendable header', async () => {
    const name = uniqueName('bad-header');
    await deploySource(
      server.client,
      name,
      `export const handler = async () => ({ statusCode: 200, headers: { 'bad header name': 'x' }, body: 'hi' });`,
    );
    const response = await fetch(`${server.url}/fn/${name}`);
    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({ error: { code: 'INVALID_FUNCTION_RESPONSE' } });
  });

  it('answers 404 ROUTE_NOT_FOUND for unknown routes', async () => {
    const response = await server.authedFetch(`${server.url}/v1/nothing-here`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: 'ROUTE_NOT_FOUND' } });
  });
});
