import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploySource, invokeJson, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ logLimitPerInvocation: '4kb' });
});
afterAll(async () => {
  await server.stop();
});

async function logsOf(name: string, invocationId: string) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const { logs } = await server.client.logs(name, { invocationId });
    if (logs.length > 0) return logs;
    await sleep(50);
  }
  return [];
}

describe('invocation records and logs', () => {
  it('records every invocation with its fields', async () => {
    const name = uniqueName('recorded');
    await deploySource(
      server.client,
      name,
      `export default async (e: { fail?: boolean }) => { if (e.fail) throw new Error('nope'); return 1; };`,
      {
        memoryMb: 96,
      },
    );
    const ok = await invokeJson(server.client, name);
    const failed = await invokeJson(server.client, name, { fail: true });
    await sleep(250);
    const { invocation } = await server.client.getInvocation(ok.invocationId!);
    expect(invocation).toMatchObject({
      id: ok.invocationId,
      functionName: name,
      version: 1,
      trigger: 'invoke',
      cold: true,
      outcome: 'success',
      error: null,
      memoryMb: 96,
    });
    expect(invocation.durationMs).toBeGreaterThan(0);
    expect(invocation.billedMs).toBe(Math.max(1, Math.ceil(invocation.durationMs)));
    expect(Date.parse(invocation.startedAt)).not.toBeNaN();
    const failedRecord = (await server.client.getInvocation(failed.invocationId!)).invocation;
    expect(failedRecord).toMatchObject({
      outcome: 'error',
      cold: false,
      error: { type: 'Error', message: 'nope' },
    });
    const { invocations } = await server.client.listInvocations(name);
    expect(invocations.map((i) => i.id)).toEqual([failed.invocationId, ok.invocationId]);
  });

  it('captures console output per invocation with levels and formatting, including module-load output', async () => {
    const name = uniqueName('console');
    await deploySource(
      server.client,
      name,
      `console.log('module loaded');
       export default async (e: { n: number }) => {
         console.log('number %d and object', e.n, { a: [1, 2] });
         console.info('info line');
         console.warn('careful');
         console.error(new Error('printed error'));
         console.debug('debugging');
         return 'ok';
       };`,
    );
    const first = await invokeJson(server.client, name, { n: 7 });
    const logs = await logsOf(name, first.invocationId!);
    expect(logs.map((line) => line.message)).toEqual([
      'module loaded',
      'number 7 and object { a: [ 1, 2 ] }',
      'info line',
      'careful',
      expect.stringContaining('printed error'),
      'debugging',
    ]);
    expect(logs.map((line) => line.level)).toEqual(['info', 'info', 'info', 'warn', 'error', 'debug']);
    expect(logs.every((line) => line.invocationId === first.invocationId)).toBe(true);
    const second = await invokeJson(server.client, name, { n: 8 });
    const secondLogs = await logsOf(name, second.invocationId!);
    expect(secondLogs[0]!.message).toBe('number 8 and object { a: [ 1, 2 ] }');
  });

  it('bounds log output per invocation and marks the truncation, without failing the function', async () => {
    const name = uniqueName('flood');
    await deploySource(
      server.client,
      name,
      `export default async () => { for (let i = 0; i < 5000; i++) console.log('line ' + i + ' ' + 'x'.repeat(50)); return 'survived'; };`,
    );
    const result = await invokeJson(server.client, name);
    expect(result).toMatchObject({ status: 200, body: 'survived' });
    const logs = await logsOf(name, result.invocationId!);
    const kept = logs.reduce((sum, line) => sum + line.message.length, 0);
    expect(kept).toBeLessThan(6 * 1024);
    expect(logs.at(-1)!.message).toMatch(/\[strato\] log output truncated: \d+ of \d+ bytes dropped/);
    const { invocation } = await server.client.getInvocation(result.invocationId!);
    expect(invocation.logTruncated).toBe(true);
    expect(invocation.logBytes).toBeGreaterThan(5000 * 50);
  });

  it('searches logs by text and time range', async () => {
    const name = uniqueName('search');
    await deploySource(
      server.client,
      name,
      `export default async (e: { word: string }) => { console.log('the word is ' + e.word); return 1; };`,
    );
    const before = Date.now();
    await invokeJson(server.client, name, { word: 'apple' });
    await invokeJson(server.client, name, { word: 'banana_50%' });
    await sleep(250);
    const found = await server.client.logs(name, { q: 'BANANA_50%' });
    expect(found.logs.map((line) => line.message)).toEqual(['the word is banana_50%']);
    expect((await server.client.logs(name, { since: String(before) })).logs).toHaveLength(2);
    expect((await server.client.logs(name, { until: String(before - 1) })).logs).toHaveLength(0);
    expect((await server.client.logs(name, { since: '1m' })).logs).toHaveLength(2);
  });
});
