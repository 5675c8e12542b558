import { readdirSync, readFileSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectConfinement } from '../src/sandbox/process/index.js';
import { expectCode } from './helpers/expect-code.js';
import { deploySource, invokeJson, startTestServer, uniqueName, type TestServer } from './helpers/server.js';
import { zipOf } from './helpers/zip.js';

const support = await detectConfinement();
const TOKEN = `tok-${randomBytes(12).toString('hex')}`;
const ROTATED = `rot-${randomBytes(12).toString('hex')}`;

// Prints the secret three ways and reports only whether it matched, so the value never needs to leave.
const REPORTER = `
export default async (event: { expect?: string; fail?: boolean }, context: { env: Record<string, string> }) => {
  const token = context.env.API_TOKEN;
  console.log('token is ' + token);
  console.log(JSON.stringify({ token }));
  if (event.fail) throw new Error('could not use ' + token);
  return { has: token !== undefined, matches: token === event.expect, plain: context.env.PLAIN };
};`;

let server: TestServer;
let dataDir: string;
beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'strato-secrets-'));
  server = await startTestServer({ dataDir });
});
afterAll(async () => {
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Every byte the API can show of a function: its config, versions, secrets, records and logs. */
async function everythingShownOf(name: string): Promise<string> {
  const paths = [
    `/v1/functions/${name}`,
    `/v1/functions/${name}/versions`,
    `/v1/functions/${name}/secrets`,
    `/v1/functions/${name}/invocations`,
    `/v1/functions/${name}/logs`,
  ];
  const bodies = await Promise.all(paths.map(async (p) => (await server.authedFetch(server.url + p)).text()));
  return bodies.join('\n');
}

/** The invocation's stored log lines, once the batched recorder has written them. */
async function logsOf(name: string, invocationId: string): Promise<string[]> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const { logs } = await server.client.logs(name, { invocationId });
    if (logs.length > 0) return logs.map((line) => line.message);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return [];
}

describe('function secrets', () => {
  it('reach only their function, are redacted from its logs and errors, and are never returned', async () => {
    const name = uniqueName('secret-fn');
    const neighbour = uniqueName('secret-neighbour');
    await deploySource(server.client, name, REPORTER, { env: { PLAIN: 'visible' } });
    await deploySource(server.client, neighbour, REPORTER);
    // Warm before the secret exists: the idle instance holds no secret and must not be reused.
    expect((await invokeJson(server.client, name, { expect: TOKEN })).body).toMatchObject({ has: false });

    const created = await server.client.setSecret(name, 'API_TOKEN', TOKEN);
    expect(created).toMatchObject({ functionName: name, name: 'API_TOKEN' });
    expect(JSON.stringify(created)).not.toContain(TOKEN);

    const ok = await invokeJson(server.client, name, { expect: TOKEN });
    expect(ok.body).toStrictEqual({ has: true, matches: true, plain: 'visible' });
    expect(ok.cold).toBe(true);
    const logs = await logsOf(name, ok.invocationId!);
    expect(logs).toEqual(['token is [REDACTED]', '{"token":"[REDACTED]"}']);

    const failed = await server.client.invoke(name, JSON.stringify({ fail: true }));
    expect(failed.status).toBe(500);
    expect(failed.body).toContain('could not use [REDACTED]');
    expect(failed.body).not.toContain(TOKEN);

    expect((await invokeJson(server.client, neighbour, { expect: TOKEN })).body).toMatchObject({
      has: false,
    });
    expect(await everythingShownOf(name)).not.toContain(TOKEN);
    const listed = await server.client.listSecrets(name);
    expect(listed.secrets.map((secret) => Object.keys(secret).sort())).toEqual([
      ['createdAt', 'functionName', 'name', 'updatedAt'],
    ]);
  });

  it('takes effect at once when set again or deleted', async () => {
    const name = uniqueName('secret-rotate');
    await deploySource(server.client, name, REPORTER);
    await server.client.setSecret(name, 'API_TOKEN', TOKEN);
    expect((await invokeJson(server.client, name, { expect: TOKEN })).body).toMatchObject({ matches: true });
    await server.client.setSecret(name, 'API_TOKEN', ROTATED);
    expect((await invokeJson(server.client, name, { expect: ROTATED })).body).toMatchObject({
      matches: true,
    });
    await server.client.deleteSecret(name, 'API_TOKEN');
    expect((await invokeJson(server.client, name)).body).toMatchObject({ has: false });
    await expectCode(server.client.deleteSecret(name, 'API_TOKEN'), 'SECRET_NOT_FOUND');
  });

  it('are encrypted at rest: neither the SQLite files nor the data dir hold the value; the key file is 0600', async () => {
    const name = uniqueName('secret-rest');
    await deploySource(server.client, name, REPORTER);
    await server.client.setSecret(name, 'API_TOKEN', TOKEN);
    expect((await invokeJson(server.client, name, { expect: TOKEN })).body).toMatchObject({ matches: true });
    // Let the batched recorder write the invocation and its (redacted) logs.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const needle = Buffer.from(TOKEN);
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const full = path.join(dir, entry.name);
        return entry.isDirectory() ? walk(full) : entry.isFile() ? [full] : [];
      });
    const files = walk(dataDir).filter((file) => statSync(file).size < 64 * 1024 * 1024);
    expect(files.some((file) => file.endsWith('.db'))).toBe(true);
    expect(files.filter((file) => readFileSync(file).includes(needle))).toEqual([]);
    expect(statSync(path.join(dataDir, 'master.key')).mode & 0o777).toBe(0o600);
  });

  it('refuse bad names, reserved names, bad bodies and unknown functions with stable codes', async () => {
    const name = uniqueName('secret-bad');
    await deploySource(server.client, name, REPORTER);
    const put = (fn: string, secret: string, body: unknown) =>
      server
        .authedFetch(`${server.url}/v1/functions/${fn}/secrets/${secret}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: typeof body === 'string' ? body : JSON.stringify(body),
        })
        .then(async (response) => ({ status: response.status, body: await response.json() }));
    const cases: Array<[string, string, unknown, number, string]> = [
      [name, '1STARTS_WITH_DIGIT', { value: 'x' }, 400, 'INVALID_NAME'],
      [name, 'has-dash', { value: 'x' }, 400, 'INVALID_NAME'],
      [name, 'AWS_LAMBDA_RUNTIME_API', { value: 'x' }, 400, 'INVALID_NAME'],
      [name, '_HANDLER', { value: 'x' }, 400, 'INVALID_NAME'],
      [name, 'PATH', { value: 'x' }, 400, 'INVALID_NAME'],
      [name, 'OK_NAME', { value: 1 }, 400, 'VALIDATION_FAILED'],
      [name, 'OK_NAME', { value: 'x', extra: true }, 400, 'VALIDATION_FAILED'],
      [name, 'OK_NAME', { value: '' }, 400, 'VALIDATION_FAILED'],
      [name, 'OK_NAME', { value: 'a\u0000b' }, 400, 'VALIDATION_FAILED'],
      [name, 'OK_NAME', { value: 'x'.repeat(32 * 1024 + 1) }, 413, 'PAYLOAD_TOO_LARGE'],
      [name, 'OK_NAME', '{"value": ', 400, 'INVALID_JSON'],
      [uniqueName('secret-ghost'), 'OK_NAME', { value: 'x' }, 404, 'FUNCTION_NOT_FOUND'],
      ['bad name!', 'OK_NAME', { value: 'x' }, 400, 'INVALID_NAME'],
    ];
    for (const [fn, secret, body, status, code] of cases) {
      const response = await put(encodeURIComponent(fn), secret, body);
      expect({ fn, secret, status: response.status, body: response.body }).toMatchObject({
        status,
        body: { error: { code } },
      });
    }
    await expectCode(server.client.listSecrets(uniqueName('secret-ghost')), 'FUNCTION_NOT_FOUND');
    expect((await server.client.listSecrets(name)).secrets).toEqual([]);
  });

  it.runIf(support.ok)(
    'reach a process-tier function as environment variables, redacted from its logs',
    async () => {
      const name = uniqueName('secret-node');
      const response = await server.authedFetch(`${server.url}/v1/functions/${name}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          zipFile: (
            await zipOf({
              'index.js': `exports.handler = async (event) => {
              console.log('env token ' + process.env.API_TOKEN);
              return { matches: process.env.API_TOKEN === event.expect };
            };`,
            })
          ).toString('base64'),
          runtime: 'nodejs20.x',
          handler: 'index.handler',
          memoryMb: 256,
        }),
      });
      expect(response.status).toBe(201);
      await server.client.setSecret(name, 'API_TOKEN', TOKEN);
      const result = await invokeJson(server.client, name, { expect: TOKEN });
      expect(result.body).toStrictEqual({ matches: true });
      const logs = (await logsOf(name, result.invocationId!)).join('\n');
      expect(logs).toContain('env token [REDACTED]');
      expect(logs).not.toContain(TOKEN);
    },
  );
});

describe('secrets across restarts', () => {
  it('decrypt after a restart with the same key, and fail the function clearly with another key', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'strato-secrets-restart-'));
    const name = uniqueName('secret-restart');
    try {
      const first = await startTestServer({ dataDir: dir });
      await deploySource(first.client, name, REPORTER);
      await first.client.setSecret(name, 'API_TOKEN', TOKEN);
      await first.stop();

      const second = await startTestServer({ dataDir: dir });
      expect((await invokeJson(second.client, name, { expect: TOKEN })).body).toMatchObject({
        matches: true,
      });
      await second.stop();

      const wrongKey = await startTestServer({ dataDir: dir, masterKey: randomBytes(32).toString('base64') });
      try {
        const response = await wrongKey.client.invoke(name, '{}');
        expect(response.status).toBe(500);
        expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'SECRET_DECRYPT_FAILED' } });
      } finally {
        await wrongKey.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
