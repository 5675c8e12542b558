import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StratoClient } from '../src/client/strato-client.js';
import { tokenSha256 } from '../src/auth/api-key-token.js';
import { expectCode } from './helpers/expect-code.js';
import { startTestServer, uniqueName, type TestServer } from './helpers/server.js';

// API keys enforced end to end: every control-plane route and the invoke API need a key of the right
// scope; HTTP triggers are public unless the function says `key`; revoking works at once; the store
// keeps hashes only.

const FETCH_FN =
  'module.exports = { default: { fetch: (request) => new Response("hi " + request.method) } };';

let server: TestServer;
let fn: string;
/** The invoke API answers refusals as replies (the client returns them rather than throwing). */
async function refusal(
  reply: Promise<{ status: number; body: string }>,
): Promise<{ status: number; code: string }> {
  const { status, body } = await reply;
  return { status, code: (JSON.parse(body) as { error: { code: string } }).error.code };
}
const clientWith = (token: string | undefined) => new StratoClient(server.url, { apiKey: () => token });

beforeAll(async () => {
  server = await startTestServer();
  fn = uniqueName('auth-fn');
  await server.client.deploy(fn, { code: FETCH_FN });
});
afterAll(async () => {
  await server?.stop();
});

describe('API keys', () => {
  it('refuses every control-plane route and the invoke API without a key, and leaves health checks open', async () => {
    const anonymous = clientWith(undefined);
    await expectCode(anonymous.listFunctions(), 'UNAUTHORIZED');
    await expectCode(anonymous.getFunction(fn), 'UNAUTHORIZED');
    await expectCode(anonymous.deploy(uniqueName('anon'), { code: FETCH_FN }), 'UNAUTHORIZED');
    await expectCode(anonymous.listKeys(), 'UNAUTHORIZED');
    const invoke = await fetch(`${server.url}/v1/functions/${fn}/invoke`, { method: 'POST', body: '{}' });
    expect(invoke.status).toBe(401);
    expect(((await invoke.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });

  it('gives each scope what it names: read reads, invoke invokes, deploy deploys, admin manages keys', async () => {
    const tokens = Object.fromEntries(
      await Promise.all(
        (['read', 'invoke', 'deploy'] as const).map(
          async (scope) => [scope, (await server.client.createKey({ scopes: [scope] })).token] as const,
        ),
      ),
    ) as Record<'read' | 'invoke' | 'deploy', string>;

    const reader = clientWith(tokens.read);
    expect((await reader.getFunction(fn)).function.name).toBe(fn);
    await reader.listInvocations(fn);
    expect(await refusal(reader.invoke(fn, '{}'))).toEqual({ status: 403, code: 'FORBIDDEN' });
    await expectCode(reader.updateSettings(fn, { memoryMb: 256 }), 'FORBIDDEN');

    const invoker = clientWith(tokens.invoke);
    expect((await invoker.invoke(fn, '{}')).status).toBe(200);
    await expectCode(invoker.getFunction(fn), 'FORBIDDEN');
    await expectCode(invoker.deploy(fn, { code: FETCH_FN }), 'FORBIDDEN');

    const deployer = clientWith(tokens.deploy);
    const own = uniqueName('auth-deployed');
    await deployer.deploy(own, { code: FETCH_FN });
    expect((await deployer.invoke(own, '{}')).status).toBe(200);
    expect((await deployer.getFunction(own)).function.name).toBe(own);
    await expectCode(deployer.createKey({ scopes: ['admin'] }), 'FORBIDDEN');
    await expectCode(deployer.listKeys(), 'FORBIDDEN');
    await deployer.deleteFunction(own);
  });

  it('serves an HTTP trigger publicly by default and only to invoke keys once the function says `key`', async () => {
    const name = uniqueName('auth-trigger');
    await server.client.deploy(name, { code: FETCH_FN });
    expect(await (await fetch(`${server.url}/fn/${name}/`)).text()).toBe('hi GET');

    await server.client.updateSettings(name, { httpAuth: 'key' });
    const refused = await fetch(`${server.url}/fn/${name}/`);
    expect(refused.status).toBe(401);
    const reader = (await server.client.createKey({ scopes: ['read'] })).token;
    const wrongScope = await fetch(`${server.url}/fn/${name}/`, {
      headers: { authorization: `Bearer ${reader}` },
    });
    expect(wrongScope.status).toBe(403);
    const invoker = (await server.client.createKey({ scopes: ['invoke'] })).token;
    const allowed = await fetch(`${server.url}/fn/${name}/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${invoker}` },
      body: 'x',
    });
    expect(await allowed.text()).toBe('hi POST');
    // An older version stays reachable as it was published: public.
    expect((await fetch(`${server.url}/fn/${name}@1/`)).status).toBe(200);

    await server.client.updateSettings(name, { httpAuth: 'public' });
    expect((await fetch(`${server.url}/fn/${name}/`)).status).toBe(200);
    expect((await server.client.getFunction(name)).version.config.httpAuth).toBeUndefined();
  });

  it('lists keys without tokens, revokes one at once, and keeps only hashes in the store', async () => {
    const { key, token } = await server.client.createKey({ scopes: ['invoke'], description: 'short-lived' });
    expect(token).toMatch(/^strato_sk_[A-Za-z0-9_-]{43}$/);
    const listed = (await server.client.listKeys()).keys.find((candidate) => candidate.id === key.id);
    expect(listed).toMatchObject({ scopes: ['invoke'], description: 'short-lived', revokedAt: null });
    expect(JSON.stringify(await server.client.listKeys())).not.toContain(token);

    const holder = clientWith(token);
    expect((await holder.invoke(fn, '{}')).status).toBe(200);
    await server.client.revokeKey(key.id);
    expect(await refusal(holder.invoke(fn, '{}'))).toEqual({ status: 401, code: 'UNAUTHORIZED' });
    await expectCode(server.client.revokeKey(key.id), 'KEY_NOT_FOUND');
    expect(
      (await server.client.listKeys()).keys.find((candidate) => candidate.id === key.id)?.revokedAt,
    ).not.toBeNull();

    // The database and its write-ahead log: a new row may still be only in the log.
    const database = ['strato.db', 'strato.db-wal']
      .map((file) => path.join(server.dataDir, file))
      .filter((file) => existsSync(file))
      .map((file) => readFileSync(file).toString('latin1'))
      .join('');
    expect(database).not.toContain(token);
    expect(database).not.toContain(server.apiKey);
    expect(database).toContain(tokenSha256(token));
  });

  it('holds a key to its own rate limit: exactly its burst, then 429 RATE_LIMITED with Retry-After', async () => {
    const { key, token } = await server.client.createKey({
      scopes: ['deploy'],
      rateLimit: { rate: 0.01, burst: 3 },
    });
    expect(key.rateLimit).toEqual({ ratePerSecond: 0.01, burst: 3, initialBurst: 0 });
    const limited = clientWith(token);
    // Control-plane and invoke requests draw on the same budget.
    await limited.getFunction(fn);
    expect((await limited.invoke(fn, '{}')).status).toBe(200);
    expect((await limited.invoke(fn, '{}')).status).toBe(200);
    const refused = await fetch(`${server.url}/v1/functions/${fn}/invoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: '{}',
    });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(90);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
    await expectCode(limited.getFunction(fn), 'RATE_LIMITED');
    // Another key is not affected.
    expect((await server.client.invoke(fn, '{}')).status).toBe(200);
  });

  it('keeps an admin key from STRATO_ADMIN_KEY across restarts, and adds a new one given later', async () => {
    const first = await startTestServer({ adminKey: `strato_sk_fixed_${'k'.repeat(32)}` });
    const dataDir = first.dataDir;
    try {
      expect(first.adminKey.kind).toBe('from-env');
      const name = uniqueName('auth-restart');
      await first.client.deploy(name, { code: FETCH_FN });
      await first.close();
      const again = await startTestServer({ dataDir, adminKey: first.apiKey });
      expect(again.adminKey.kind).toBe('existing');
      expect((await again.client.getFunction(name)).function.name).toBe(name);
      await again.stop();
      const rotated = await startTestServer({ dataDir, adminKey: `strato_sk_other_${'o'.repeat(32)}` });
      expect(rotated.adminKey.kind).toBe('from-env');
      expect((await rotated.client.getFunction(name)).function.name).toBe(name);
      await rotated.stop();
    } finally {
      await first.stop().catch(() => undefined);
    }
  });
});
