import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCode } from './helpers/expect-code.js';
import { deploySource, invokeJson, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

describe('control plane and versions', () => {
  it('creates immutable numbered versions, moves $LATEST, and pins versions on invoke', async () => {
    const name = uniqueName('versioned');
    const v1 = await deploySource(server.client, name, `export default async () => 'one';`);
    const v2 = await deploySource(server.client, name, `export default async () => 'two';`, {
      description: 'second',
    });
    expect(v1.version.version).toBe(1);
    expect(v2.version.version).toBe(2);
    expect(v2.function.latestVersion).toBe(2);

    expect(await invokeJson(server.client, name)).toMatchObject({ status: 200, body: 'two', version: 2 });
    expect(await invokeJson(server.client, name, {}, { version: '1' })).toMatchObject({
      status: 200,
      body: 'one',
      version: 1,
    });
    expect(await invokeJson(server.client, name, {}, { version: '$LATEST' })).toMatchObject({ body: 'two' });

    const { versions } = await server.client.listVersions(name);
    expect(versions.map((v) => v.version)).toEqual([2, 1]);
    expect(versions[0]!.description).toBe('second');
    expect((await server.client.getFunction(name)).version.version).toBe(2);
  });

  it('answers 404 VERSION_NOT_FOUND and 400 INVALID_QUALIFIER', async () => {
    const name = uniqueName('pinning');
    await deploySource(server.client, name, `export default async () => 1;`);
    expect(await invokeJson(server.client, name, {}, { version: '9' })).toMatchObject({
      status: 404,
      body: { error: { code: 'VERSION_NOT_FOUND' } },
    });
    expect(await invokeJson(server.client, name, {}, { version: 'nope!' })).toMatchObject({
      status: 400,
      body: { error: { code: 'INVALID_QUALIFIER' } },
    });
  });

  it('updates settings as a new version with the same code', async () => {
    const name = uniqueName('settings');
    const first = await deploySource(
      server.client,
      name,
      `export default async (_e: unknown, c: any) => c.memoryLimitInMB;`,
    );
    const updated = await server.client.updateSettings(name, {
      memoryMb: 256,
      timeout: '3s',
      env: { A: 'b' },
    });
    expect(updated.version.version).toBe(2);
    expect(updated.version.codeSha256).toBe(first.version.codeSha256);
    expect(updated.version.config).toEqual({
      memoryMb: 256,
      timeoutMs: 3000,
      env: { A: 'b' },
      concurrency: 10,
    });
    expect(await invokeJson(server.client, name)).toMatchObject({ body: '256' });
    expect(await invokeJson(server.client, name, {}, { version: '1' })).toMatchObject({ body: '128' });
  });

  it('stores identical code once (content-addressed)', async () => {
    const a = await deploySource(server.client, uniqueName('same-a'), `export default async () => 'same';`);
    const b = await deploySource(server.client, uniqueName('same-b'), `export default async () => 'same';`);
    expect(a.version.codeSha256).toBe(b.version.codeSha256);
  });

  it('creates with POST, refusing an existing name with 409 FUNCTION_EXISTS', async () => {
    const name = uniqueName('created');
    const response = await server.authedFetch(`${server.url}/v1/functions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, code: 'module.exports = async () => "posted";' }),
    });
    expect(response.status).toBe(201);
    expect(await invokeJson(server.client, name)).toMatchObject({ body: 'posted' });
    const again = await server.authedFetch(`${server.url}/v1/functions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, code: 'module.exports = async () => 1;' }),
    });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: { code: 'FUNCTION_EXISTS' } });
  });

  it('validates every body with stable codes', async () => {
    const name = uniqueName('invalid');
    await expectCode(server.client.deploy(name, { code: '' }), 'VALIDATION_FAILED');
    await expectCode(server.client.deploy(name, { code: 'x', memoryMb: 1 }), 'VALIDATION_FAILED');
    await expectCode(server.client.deploy(name, { code: 'x', timeout: 'forever' }), 'VALIDATION_FAILED');
    await expectCode(server.client.deploy(name, { code: 'x', env: { '1BAD': 'v' } }), 'VALIDATION_FAILED');
    const unknownField = await server.authedFetch(`${server.url}/v1/functions/${name}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'x', surprise: true }),
    });
    expect(unknownField.status).toBe(400);
    const body = (await unknownField.json()) as { error: { code: string; requestId: string } };
    expect(body.error.code).toBe('VALIDATION_FAILED');
    expect(body.error.requestId).toBeTruthy();
    const malformed = await server.authedFetch(`${server.url}/v1/functions/${name}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"code":',
    });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: { code: 'INVALID_JSON' } });
    const badName = await server.authedFetch(`${server.url}/v1/functions/bad%20name`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'x' }),
    });
    expect(badName.status).toBe(400);
    expect(await badName.json()).toMatchObject({ error: { code: 'INVALID_NAME' } });
    expect((await server.authedFetch(`${server.url}/v1/functions/${name}/logs`)).status).toBe(404);
    expect((await server.authedFetch(`${server.url}/v1/functions/${name}/invocations`)).status).toBe(404);
    await expectCode(server.client.getFunction(name), 'FUNCTION_NOT_FOUND');
  });

  it('lists functions with paging and deletes them', async () => {
    const names = [uniqueName('list'), uniqueName('list'), uniqueName('list')];
    for (const name of names) await deploySource(server.client, name, `export default async () => 0;`);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await server.client.listFunctions({
        limit: 2,
        ...(cursor === undefined ? {} : { cursor }),
      });
      seen.push(...page.functions.map((f) => f.name));
      cursor = page.next ?? undefined;
    } while (cursor !== undefined);
    expect(seen).toEqual(expect.arrayContaining(names));
    expect(new Set(seen).size).toBe(seen.length);

    await server.client.deleteFunction(names[0]!);
    await expectCode(server.client.getFunction(names[0]!), 'FUNCTION_NOT_FOUND');
    expect(await invokeJson(server.client, names[0]!)).toMatchObject({ status: 404 });
    await expectCode(server.client.deleteFunction(names[0]!), 'FUNCTION_NOT_FOUND');
  });
});
