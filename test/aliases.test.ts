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

/** A function whose version N answers `v<N>`, with `versions` versions deployed. */
async function deployVersions(label: string, versions: number): Promise<string> {
  const name = uniqueName(label);
  for (let n = 1; n <= versions; n++) {
    await deploySource(server.client, name, `export default async () => 'v${n}';`);
  }
  return name;
}

/** A raw control-plane request, for bodies the typed client would not let us send. */
async function send(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const response = await server.authedFetch(`${server.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

describe('aliases', () => {
  it('routes an alias to its version, then splits traffic by weight', async () => {
    const name = await deployVersions('alias-split', 2);
    const { alias } = await server.client.createAlias(name, {
      name: 'live',
      functionVersion: 1,
      description: 'production',
    });
    expect(alias).toMatchObject({
      functionName: name,
      name: 'live',
      functionVersion: 1,
      additionalVersionWeights: {},
      description: 'production',
    });

    const pinned = await invokeJson(server.client, name, {}, { version: 'live' });
    expect(pinned).toMatchObject({ status: 200, body: 'v1', version: 1 });
    // $LATEST moved on; the alias did not.
    expect(await invokeJson(server.client, name)).toMatchObject({ body: 'v2', version: 2 });

    await server.client.updateAlias(name, 'live', {
      functionVersion: 2,
      additionalVersionWeights: { '1': 0.3 },
    });
    // No wait: the update dropped the cached alias, so the very next invoke sees the split.
    const counts = { 1: 0, 2: 0 };
    for (let i = 0; i < 200; i++) {
      const result = await invokeJson(server.client, name, {}, { version: 'live' });
      expect(result.status).toBe(200);
      // The header names the version that ran, and that version's code answered.
      expect(result.body).toBe(`v${result.version}`);
      if (result.version !== 1 && result.version !== 2) throw new Error(`ran version ${result.version}`);
      counts[result.version]++;
    }
    // 70/30 expected; the bounds sit more than 3 standard deviations out (n = 200).
    expect(counts[1] / 200).toBeGreaterThanOrEqual(0.2);
    expect(counts[1] / 200).toBeLessThanOrEqual(0.45);
    expect(counts[2] / 200).toBeGreaterThanOrEqual(0.55);
    expect(counts[2] / 200).toBeLessThanOrEqual(0.8);

    const invocations = await server.client.listInvocations(name, { limit: 1 });
    expect([1, 2]).toContain(invocations.invocations[0]?.version);
  });

  it('serves the HTTP trigger through an alias: /fn/name@alias', async () => {
    const name = await deployVersions('alias-trigger', 2);
    await server.client.createAlias(name, { name: 'stable', functionVersion: 1 });

    const first = await fetch(`${server.url}/fn/${name}@stable/some/path?x=1`);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-strato-version')).toBe('1');
    expect(await first.text()).toBe('v1');

    await server.client.updateAlias(name, 'stable', { functionVersion: 2 });
    const moved = await fetch(`${server.url}/fn/${name}@stable`);
    expect(moved.headers.get('x-strato-version')).toBe('2');
    expect(await moved.text()).toBe('v2');

    const unknown = await fetch(`${server.url}/fn/${name}@ghost`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 'ALIAS_NOT_FOUND' } });
  });

  it('lists, reads, updates in part and deletes aliases', async () => {
    const name = await deployVersions('alias-crud', 3);
    const path = `/v1/functions/${name}/aliases`;
    const created = await send('POST', path, { name: 'live', functionVersion: 2 });
    expect(created.status).toBe(201);
    await server.client.createAlias(name, {
      name: 'canary',
      functionVersion: 3,
      additionalVersionWeights: { '2': 0.9 },
    });
    const { aliases } = await server.client.listAliases(name);
    expect(aliases.map((alias) => [alias.name, alias.functionVersion])).toEqual([
      ['canary', 3],
      ['live', 2],
    ]);

    const described = await server.client.updateAlias(name, 'canary', { description: 'ten percent' });
    expect(described.alias).toMatchObject({
      functionVersion: 3,
      additionalVersionWeights: { '2': 0.9 },
      description: 'ten percent',
    });
    const cleared = await server.client.updateAlias(name, 'canary', { additionalVersionWeights: {} });
    expect(cleared.alias).toMatchObject({ functionVersion: 3, additionalVersionWeights: {} });
    expect((await server.client.getAlias(name, 'canary')).alias).toStrictEqual(cleared.alias);
    expect(await invokeJson(server.client, name, {}, { version: 'canary' })).toMatchObject({ version: 3 });

    expect((await send('DELETE', `${path}/canary`)).status).toBe(204);
    await expectCode(server.client.getAlias(name, 'canary'), 'ALIAS_NOT_FOUND');
    // The delete dropped the cached alias too.
    expect(await invokeJson(server.client, name, {}, { version: 'canary' })).toMatchObject({
      status: 404,
      body: { error: { code: 'ALIAS_NOT_FOUND' } },
    });
    await expectCode(server.client.deleteAlias(name, 'canary'), 'ALIAS_NOT_FOUND');
    expect((await server.client.listAliases(name)).aliases.map((alias) => alias.name)).toEqual(['live']);
  });

  it('answers with stable error codes', async () => {
    const name = await deployVersions('alias-errors', 2);
    const path = `/v1/functions/${name}/aliases`;
    await server.client.createAlias(name, { name: 'live', functionVersion: 1 });

    const duplicate = await send('POST', path, { name: 'live', functionVersion: 2 });
    expect(duplicate).toMatchObject({ status: 409, body: { error: { code: 'ALIAS_EXISTS' } } });
    await expectCode(server.client.getAlias(name, 'ghost'), 'ALIAS_NOT_FOUND');
    await expectCode(server.client.updateAlias(name, 'ghost', { functionVersion: 1 }), 'ALIAS_NOT_FOUND');
    expect(await invokeJson(server.client, name, {}, { version: 'ghost' })).toMatchObject({
      status: 404,
      body: { error: { code: 'ALIAS_NOT_FOUND' } },
    });

    await expectCode(server.client.createAlias(name, { name: 'x', functionVersion: 9 }), 'VERSION_NOT_FOUND');
    await expectCode(
      server.client.createAlias(name, {
        name: 'x',
        functionVersion: 1,
        additionalVersionWeights: { '9': 0.5 },
      }),
      'VERSION_NOT_FOUND',
    );
    await expectCode(server.client.updateAlias(name, 'live', { functionVersion: 7 }), 'VERSION_NOT_FOUND');

    const invalidBodies: unknown[] = [
      { name: 'x', functionVersion: 1, additionalVersionWeights: { '2': 1.5 } },
      { name: 'x', functionVersion: 1, additionalVersionWeights: { '2': -0.5 } },
      { name: 'x', functionVersion: 2, additionalVersionWeights: { '2': 0.5 } },
      { name: 'x', functionVersion: 1, additionalVersionWeights: { '2': 0.1, '3': 0.1 } },
      { name: 'x', functionVersion: 1, additionalVersionWeights: { $LATEST: 0.1 } },
      { name: '123', functionVersion: 1 },
      { name: '$LATEST', functionVersion: 1 },
      { name: 'x', functionVersion: 0 },
      { name: 'x', functionVersion: 1, surprise: true },
    ];
    for (const body of invalidBodies) {
      expect(await send('POST', path, body)).toMatchObject({
        status: 400,
        body: { error: { code: 'VALIDATION_FAILED' } },
      });
    }
    expect(
      await send('PUT', `${path}/live`, { functionVersion: 2, additionalVersionWeights: { '2': 0.5 } }),
    ).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
    // The body alone looks fine; merged with the stored alias it would route to version 1 twice.
    await server.client.updateAlias(name, 'live', {
      functionVersion: 2,
      additionalVersionWeights: { '1': 0.5 },
    });
    await expectCode(server.client.updateAlias(name, 'live', { functionVersion: 1 }), 'VALIDATION_FAILED');
    expect(await send('PUT', `${path}/live`, { name: 'renamed' })).toMatchObject({ status: 400 });
    expect((await server.client.listAliases(name)).aliases.map((alias) => alias.name)).toEqual(['live']);

    const ghost = uniqueName('alias-no-function');
    await expectCode(
      server.client.createAlias(ghost, { name: 'live', functionVersion: 1 }),
      'FUNCTION_NOT_FOUND',
    );
    await expectCode(server.client.listAliases(ghost), 'FUNCTION_NOT_FOUND');
    await expectCode(server.client.getAlias(ghost, 'live'), 'FUNCTION_NOT_FOUND');
    expect(await invokeJson(server.client, ghost, {}, { version: 'live' })).toMatchObject({
      status: 404,
      body: { error: { code: 'FUNCTION_NOT_FOUND' } },
    });

    // Qualifiers that are neither a version, an alias name nor $LATEST are still refused as such.
    for (const version of ['nope!', '0', '007']) {
      expect(await invokeJson(server.client, name, {}, { version })).toMatchObject({
        status: 400,
        body: { error: { code: 'INVALID_QUALIFIER' } },
      });
    }
  });

  it('deletes a function’s aliases with the function', async () => {
    const name = await deployVersions('alias-doomed', 2);
    await server.client.createAlias(name, { name: 'live', functionVersion: 1 });
    await server.client.createAlias(name, {
      name: 'canary',
      functionVersion: 2,
      additionalVersionWeights: { '1': 0.5 },
    });
    expect(await invokeJson(server.client, name, {}, { version: 'live' })).toMatchObject({ version: 1 });

    await server.client.deleteFunction(name);
    await deploySource(server.client, name, `export default async () => 'reborn';`);
    expect((await server.client.listAliases(name)).aliases).toEqual([]);
    expect(await invokeJson(server.client, name, {}, { version: 'live' })).toMatchObject({
      status: 404,
      body: { error: { code: 'ALIAS_NOT_FOUND' } },
    });
    // The old names are free again.
    await server.client.createAlias(name, { name: 'live', functionVersion: 1 });
    expect(await invokeJson(server.client, name, {}, { version: 'live' })).toMatchObject({ body: 'reborn' });
  });
});
