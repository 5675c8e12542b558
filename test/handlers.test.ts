import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploySource, invokeJson, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

describe('handler styles', () => {
  it('runs `export default async (event, context)`', async () => {
    const name = uniqueName('default-fn');
    await deploySource(
      server.client,
      name,
      `export default async (event: { n: number }) => ({ doubled: event.n * 2 });`,
    );
    const result = await invokeJson(server.client, name, { n: 21 });
    expect(result).toMatchObject({ status: 200, body: { doubled: 42 } });
  });

  it('runs `export const handler` with the Lambda context', async () => {
    const name = uniqueName('lambda-ctx');
    await deploySource(
      server.client,
      name,
      `export const handler = async (event: unknown, context: any) => ({
        requestId: context.awsRequestId,
        functionName: context.functionName,
        functionVersion: context.functionVersion,
        memory: context.memoryLimitInMB,
        remaining: context.getRemainingTimeInMillis(),
        env: context.env.COLOR,
        event,
      });`,
      { memoryMb: 64, timeout: '5s', env: { COLOR: 'teal' } },
    );
    const result = await invokeJson(server.client, name, { hello: 'there' });
    expect(result.status).toBe(200);
    const body = result.body as Record<string, unknown>;
    expect(body['requestId']).toBe(result.invocationId);
    expect(body).toMatchObject({
      functionName: name,
      functionVersion: '1',
      memory: '64',
      env: 'teal',
      event: { hello: 'there' },
    });
    expect(body['remaining']).toBeGreaterThan(0);
    expect(body['remaining']).toBeLessThanOrEqual(5000);
  });

  it('runs CommonJS `module.exports.handler` and callback-style handlers', async () => {
    const cjs = uniqueName('cjs');
    await deploySource(server.client, cjs, {
      'index.js': `module.exports.handler = async (e) => ({ cjs: true, e });`,
    });
    expect(await invokeJson(server.client, cjs, 1)).toMatchObject({ status: 200, body: { cjs: true, e: 1 } });

    const callback = uniqueName('callback');
    await deploySource(server.client, callback, {
      'index.js': `exports.handler = (event, context, callback) => { setTimeout(() => callback(null, { viaCallback: event.x }), 5); };`,
    });
    expect(await invokeJson(server.client, callback, { x: 'y' })).toMatchObject({
      status: 200,
      body: { viaCallback: 'y' },
    });
  });

  it('returns null for handlers that return nothing', async () => {
    const name = uniqueName('void');
    await deploySource(server.client, name, `export default async () => {};`);
    expect(await invokeJson(server.client, name)).toMatchObject({ status: 200, body: null });
  });

  it('runs `export default { fetch }` over the HTTP trigger with method, path, query, headers and body', async () => {
    const name = uniqueName('fetch-fn');
    await deploySource(
      server.client,
      name,
      `export default {
        async fetch(request: Request, env: Record<string, string>) {
          const url = new URL(request.url);
          return new Response(JSON.stringify({
            method: request.method,
            path: url.pathname,
            q: url.searchParams.get('q'),
            header: request.headers.get('x-test'),
            body: await request.text(),
            env: env.GREETING,
          }), { status: 201, headers: { 'content-type': 'application/json', 'x-from-function': 'yes' } });
        },
      };`,
      { env: { GREETING: 'hej' } },
    );
    const response = await fetch(`${server.url}/fn/${name}/some/path?q=search`, {
      method: 'PUT',
      headers: { 'x-test': 'header-value', 'content-type': 'text/plain' },
      body: 'raw body',
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-from-function')).toBe('yes');
    expect(await response.json()).toEqual({
      method: 'PUT',
      path: '/some/path',
      q: 'search',
      header: 'header-value',
      body: 'raw body',
      env: 'hej',
    });
    const root = await fetch(`${server.url}/fn/${name}`);
    expect(((await root.json()) as { path: string }).path).toBe('/');
  });

  it('hands a fetch handler a JSON POST on /invoke', async () => {
    const name = uniqueName('fetch-invoke');
    await deploySource(
      server.client,
      name,
      `export default { async fetch(request: Request) { const body = await request.json() as { a: number }; return Response.json({ got: body.a, method: request.method }); } };`,
    );
    expect(await invokeJson(server.client, name, { a: 5 })).toMatchObject({
      status: 200,
      body: { got: 5, method: 'POST' },
    });
  });

  it('gives Lambda handlers the API Gateway v2 event on the HTTP trigger and honours their response shape', async () => {
    const name = uniqueName('apigw');
    await deploySource(
      server.client,
      name,
      `export const handler = async (event: any) => ({
        statusCode: 202,
        headers: { 'x-route': event.routeKey, 'content-type': 'application/json' },
        cookies: ['a=1'],
        body: JSON.stringify({
          version: event.version, rawPath: event.rawPath, rawQueryString: event.rawQueryString,
          query: event.queryStringParameters, method: event.requestContext.http.method,
          body: event.body, isBase64Encoded: event.isBase64Encoded, cookies: event.cookies,
          header: event.headers['x-thing'],
        }),
      });`,
    );
    const response = await fetch(`${server.url}/fn/${name}/items/7?color=red&size=L`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-thing': 'thing', cookie: 'session=abc; theme=dark' },
      body: '{"k":1}',
    });
    expect(response.status).toBe(202);
    expect(response.headers.get('x-route')).toBe('$default');
    expect(response.headers.get('set-cookie')).toBe('a=1');
    expect(await response.json()).toEqual({
      version: '2.0',
      rawPath: '/items/7',
      rawQueryString: 'color=red&size=L',
      query: { color: 'red', size: 'L' },
      method: 'POST',
      body: '{"k":1}',
      isBase64Encoded: false,
      cookies: ['session=abc', 'theme=dark'],
      header: 'thing',
    });
  });

  it('base64-encodes binary bodies for Lambda handlers and decodes isBase64Encoded responses', async () => {
    const name = uniqueName('binary');
    await deploySource(
      server.client,
      name,
      `export const handler = async (event: any) => ({ statusCode: 200, isBase64Encoded: true, body: event.body, headers: { 'content-type': 'application/octet-stream' } });`,
    );
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    const response = await fetch(`${server.url}/fn/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expect(response.status).toBe(200);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes);
  });

  it('treats a plain Lambda result on the HTTP trigger as a 200 JSON body', async () => {
    const name = uniqueName('plain-http');
    await deploySource(server.client, name, `export default async () => ({ ok: true });`);
    const response = await fetch(`${server.url}/fn/${name}/x`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/json');
    expect(await response.json()).toEqual({ ok: true });
  });

  it('runs ctx.waitUntil work after the response, within the same invocation', async () => {
    const name = uniqueName('wait-until');
    await deploySource(
      server.client,
      name,
      `export default { async fetch(_request: Request, _env: unknown, ctx: { waitUntil(p: Promise<unknown>): void }) {
        ctx.waitUntil(new Promise((resolve) => setTimeout(() => { console.log('background done'); resolve(undefined); }, 50)));
        return new Response('responded');
      } };`,
    );
    const response = await fetch(`${server.url}/fn/${name}`);
    expect(await response.text()).toBe('responded');
    const invocationId = response.headers.get('x-strato-invocation-id')!;
    let logs: string[] = [];
    for (let attempt = 0; attempt < 50 && !logs.includes('background done'); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      logs = (await server.client.logs(name, { invocationId })).logs.map((line) => line.message);
    }
    expect(logs).toContain('background done');
  });

  it('provides the Web APIs inside a deployed function', async () => {
    const name = uniqueName('web-apis');
    await deploySource(
      server.client,
      name,
      `export default async () => {
        const bytes = new TextEncoder().encode('héllo');
        const random = crypto.getRandomValues(new Uint8Array(16));
        const clone = structuredClone({ when: new Date(0), set: new Set([1, 2]), nested: { a: [1] } });
        const url = new URL('/p?q=1#h', 'https://example.test');
        url.searchParams.append('r', 'two words');
        const headers = new Headers({ 'X-A': '1' });
        headers.append('x-a', '2');
        const response = new Response('body', { status: 201, headers: { 'content-type': 'text/plain' } });
        const request = new Request('https://example.test/x', { method: 'POST', body: '{"k":1}' });
        return {
          encoded: Array.from(bytes),
          decoded: new TextDecoder().decode(bytes),
          randomLength: random.length,
          randomNonZero: random.some((b) => b !== 0),
          uuid: crypto.randomUUID(),
          cloneIsCopy: clone.when instanceof Date && clone.set.has(2) && clone.nested.a[0] === 1,
          base64: btoa('Strato'),
          unbase64: atob('U3RyYXRv'),
          href: url.href,
          header: headers.get('x-a'),
          responseText: await response.text(),
          responseStatus: response.status,
          requestJson: await request.json(),
        };
      };`,
    );
    const result = await invokeJson(server.client, name);
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({
      encoded: [104, 195, 169, 108, 108, 111],
      decoded: 'héllo',
      randomLength: 16,
      randomNonZero: true,
      cloneIsCopy: true,
      base64: 'U3RyYXRv',
      unbase64: 'Strato',
      href: 'https://example.test/p?q=1&r=two+words#h',
      header: '1, 2',
      responseText: 'body',
      responseStatus: 201,
      requestJson: { k: 1 },
    });
    expect((result.body as { uuid: string }).uuid).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('runs setInterval, clearInterval, clearTimeout and queueMicrotask, and clears pending timers when an invocation settles', async () => {
    const name = uniqueName('timers');
    await deploySource(
      server.client,
      name,
      `let fired = 0;
       export default async (event: { phase: string }) => {
         if (event.phase === 'arm') {
           const order: string[] = [];
           queueMicrotask(() => order.push('microtask'));
           const cancelled = setTimeout(() => order.push('cancelled timer'), 5);
           clearTimeout(cancelled);
           let ticks = 0;
           await new Promise<void>((resolve) => {
             const interval = setInterval(() => { ticks++; if (ticks === 3) { clearInterval(interval); resolve(); } }, 5);
           });
           await new Promise((resolve) => setTimeout(resolve, 20));
           // Armed last, so it can only fire after this invocation settled (on a loaded machine too), if
           // timers survived it.
           setTimeout(() => { fired++; }, 50);
           return { ticks, order };
         }
         return { fired };
       };`,
    );
    expect(await invokeJson(server.client, name, { phase: 'arm' })).toMatchObject({
      status: 200,
      body: { ticks: 3, order: ['microtask'] },
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await invokeJson(server.client, name, { phase: 'check' })).toMatchObject({
      status: 200,
      cold: false,
      body: { fired: 0 },
    });
  });

  it('pins a version on the HTTP trigger with /fn/name@N', async () => {
    const name = uniqueName('trigger-pin');
    await deploySource(server.client, name, `export default async () => 'first';`);
    await deploySource(server.client, name, `export default async () => 'second';`);
    expect(await (await fetch(`${server.url}/fn/${name}@1/x`)).text()).toBe('first');
    expect(await (await fetch(`${server.url}/fn/${name}/x`)).text()).toBe('second');
  });

  it('reports a module that exports no handler as an init error', async () => {
    const name = uniqueName('no-handler');
    await deploySource(server.client, name, `export const notAHandler = 1;`);
    const result = await invokeJson(server.client, name);
    expect(result.status).toBe(500);
    expect(result.body).toMatchObject({
      error: { code: 'FUNCTION_ERROR', type: 'HandlerNotFound', phase: 'init' },
    });
  });
});
