import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StratoClient } from '../src/client/strato-client.js';
import { expectCode } from './helpers/expect-code.js';
import { startTestServer, uniqueName, waitForInvocations, type TestServer } from './helpers/server.js';

// Namespaces: two tenants deploy a function of the same name and each sees, runs and changes only its
// own, with its records, logs, secrets, triggers, queue and keys; names in replies are the tenant's own.

const saying = (word: string) =>
  `module.exports = { default: { fetch: () => new Response(${JSON.stringify(word)}) } };`;
const logging = (word: string) =>
  `module.exports = async (event, context) => { console.log(${JSON.stringify(word)} + ' ' + context.functionName); return { word: ${JSON.stringify(word)} }; };`;

let server: TestServer;
let teamA: StratoClient;
let teamB: StratoClient;
let teamAInvoker: string;
let teamA_ns: string;
let teamB_ns: string;

const clientWith = (token: string) => new StratoClient(server.url, { apiKey: () => token });

beforeAll(async () => {
  server = await startTestServer();
  teamA_ns = `team-a-${process.pid}`;
  teamB_ns = `team-b-${process.pid}`;
  teamA = clientWith((await server.client.createKey({ scopes: ['admin'], namespace: teamA_ns })).token);
  teamB = clientWith((await server.client.createKey({ scopes: ['admin'], namespace: teamB_ns })).token);
  teamAInvoker = (await teamA.createKey({ scopes: ['invoke'] })).token;
});
afterAll(async () => {
  await server?.stop();
});

describe('namespaces', () => {
  it('keeps functions of the same name apart, in every reply by their own name', async () => {
    const name = uniqueName('shared');
    const deployedA = await teamA.deploy(name, { code: logging('alpha') });
    expect(deployedA.function.name).toBe(name);
    expect(deployedA.version.functionName).toBe(name);
    await teamB.deploy(name, { code: logging('beta') });
    await expectCode(server.client.getFunction(name), 'FUNCTION_NOT_FOUND');

    expect(JSON.parse((await teamA.invoke(name, '{}')).body)).toEqual({ word: 'alpha' });
    expect(JSON.parse((await teamB.invoke(name, '{}')).body)).toEqual({ word: 'beta' });
    const [recordA] = await waitForInvocations(teamA, name, 1);
    expect(recordA!.functionName).toBe(name);
    await waitForInvocations(teamB, name, 1);
    const logsA = (await teamA.logs(name)).logs;
    expect(logsA.map((line) => line.message)).toEqual([expect.stringMatching(/^alpha /)]);
    expect(logsA[0]!.functionName).toBe(name);

    const listedA = (await teamA.listFunctions()).functions.map((fn) => fn.name);
    expect(listedA).toContain(name);
    expect((await server.client.listFunctions()).functions.map((fn) => fn.name)).not.toContain(name);
    expect(listedA.every((listed) => !listed.includes('.'))).toBe(true);

    // Another tenant's invocation id does not exist for this one.
    await expectCode(teamB.getInvocation(recordA!.id), 'INVOCATION_NOT_FOUND');
    expect((await teamA.getInvocation(recordA!.id)).invocation.functionName).toBe(name);

    await teamB.deleteFunction(name);
    expect(JSON.parse((await teamA.invoke(name, '{}')).body)).toEqual({ word: 'alpha' });
    await expectCode(teamB.getFunction(name), 'FUNCTION_NOT_FOUND');
  });

  it("cannot reach another namespace's function, secrets, triggers, aliases or queue by any route", async () => {
    const name = uniqueName('private');
    await teamA.deploy(name, { code: saying('mine') });
    await teamA.setSecret(name, 'TOKEN', 'team-a-secret');
    const { trigger } = await teamA.createCronTrigger(name, { schedule: '0 0 1 1 *' });
    expect(trigger.functionName).toBe(name);

    await expectCode(teamB.getFunction(name), 'FUNCTION_NOT_FOUND');
    await expectCode(teamB.updateSettings(name, { memoryMb: 256 }), 'FUNCTION_NOT_FOUND');
    await expectCode(teamB.listSecrets(name), 'FUNCTION_NOT_FOUND');
    await expect(teamB.deleteSecret(name, 'TOKEN')).rejects.toMatchObject({
      code: expect.stringMatching(/_NOT_FOUND$/),
    });
    await expectCode(teamB.listTriggers(name), 'FUNCTION_NOT_FOUND');
    await expectCode(teamB.getTrigger(trigger.id), 'TRIGGER_NOT_FOUND');
    await expectCode(teamB.deleteTrigger(trigger.id), 'TRIGGER_NOT_FOUND');
    await expectCode(teamB.listAliases(name), 'FUNCTION_NOT_FOUND');
    await expectCode(teamB.logs(name), 'FUNCTION_NOT_FOUND');
    await expectCode(teamB.listInvocations(name), 'FUNCTION_NOT_FOUND');
    const invoked = await teamB.invoke(name, '{}');
    expect(invoked.status).toBe(404);
    // Still there, untouched, for its owner.
    expect((await teamA.getTrigger(trigger.id)).trigger.id).toBe(trigger.id);
    expect((await teamA.listSecrets(name)).secrets.map((secret) => secret.name)).toEqual(['TOKEN']);
    expect((await teamA.invoke(name, '{}')).body).toBe('mine');
  });

  it('serves HTTP triggers at /fn/<namespace>.<name>, and a key trigger only to keys of that namespace', async () => {
    const name = uniqueName('web');
    await teamA.deploy(name, { code: saying('public a') });
    expect(await (await fetch(`${server.url}/fn/${teamA_ns}.${name}/`)).text()).toBe('public a');
    // The bare name is the default namespace's, where there is no such function.
    expect((await fetch(`${server.url}/fn/${name}/`)).status).toBe(404);

    await teamA.updateSettings(name, { httpAuth: 'key' });
    const url = `${server.url}/fn/${teamA_ns}.${name}/`;
    expect((await fetch(url)).status).toBe(401);
    const teamBInvoker = (await teamB.createKey({ scopes: ['invoke'] })).token;
    expect((await fetch(url, { headers: { authorization: `Bearer ${teamBInvoker}` } })).status).toBe(403);
    expect((await fetch(url, { headers: { authorization: `Bearer ${server.apiKey}` } })).status).toBe(403);
    const allowed = await fetch(url, { headers: { authorization: `Bearer ${teamAInvoker}` } });
    expect(await allowed.text()).toBe('public a');
  });

  it('keeps keys per namespace: a tenant admin manages only its own, the platform admin any', async () => {
    const own = await teamA.createKey({ scopes: ['read'], description: 'a reader' });
    expect(own.key.namespace).toBe(teamA_ns);
    await expectCode(teamA.createKey({ scopes: ['admin'], namespace: teamB_ns }), 'FORBIDDEN');
    await expectCode(teamA.createKey({ scopes: ['admin'], namespace: 'default' }), 'FORBIDDEN');
    await expectCode(teamA.listKeys(teamB_ns), 'FORBIDDEN');
    expect((await teamA.listKeys()).keys.every((key) => key.namespace === teamA_ns)).toBe(true);
    expect((await teamB.listKeys()).keys.map((key) => key.id)).not.toContain(own.key.id);
    await expectCode(teamB.revokeKey(own.key.id), 'KEY_NOT_FOUND');
    expect((await server.client.listKeys(teamA_ns)).keys.map((key) => key.id)).toContain(own.key.id);
    await server.client.revokeKey(own.key.id);
    await expectCode(clientWith(own.token).listFunctions(), 'UNAUTHORIZED');
  });

  it("keeps a tenant's async invocations, destinations and cost report inside its namespace", async () => {
    const name = uniqueName('async');
    const sink = uniqueName('sink');
    await teamA.deploy(sink, { code: logging('sunk') });
    await teamA.deploy(name, { code: logging('queued'), onSuccess: sink });
    expect((await teamA.getFunction(name)).version.config.async?.onSuccess).toBe(sink);
    // Team B has a function of the sink's name: it must never receive team A's records.
    await teamB.deploy(sink, { code: logging('wrong sink') });
    const accepted = await teamA.invokeAsync(name, '{}');
    await expect
      .poll(async () => (await teamA.getAsyncInvocation(accepted.invocationId)).status, { timeout: 10_000 })
      .toBe('succeeded');
    await expectCode(teamB.getAsyncInvocation(accepted.invocationId), 'INVOCATION_NOT_FOUND');
    await waitForInvocations(teamA, sink, 1);
    expect((await teamB.listInvocations(sink)).invocations).toEqual([]);

    const report = await teamA.getCostReport({ since: '1h' });
    const names = report.functions.map((row) => row.functionName);
    expect(names).toContain(name);
    expect(names.every((listed) => !listed.includes('.'))).toBe(true);
    const reportB = await teamB.getCostReport({ since: '1h' });
    expect(reportB.functions.map((row) => row.functionName)).not.toContain(name);
  });

  it('keeps node-wide metrics and the image cache to the platform namespace', async () => {
    const metrics = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${teamAInvoker}` },
    });
    expect(metrics.status).toBe(403);
    await expectCode(teamA.collectImageGarbage(), 'FORBIDDEN');
  });
});
