import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogLine } from '../src/core/invocation.js';
import { deploySource, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

const chatty = `export default async (event) => { console.log('line for', event.n); console.warn('careful', event.n); return {}; };`;

describe('live log tail (Server-Sent Events)', () => {
  it("streams each invocation's lines of this function only, as they settle", async () => {
    const name = uniqueName('follow');
    const other = uniqueName('follow-other');
    await deploySource(server.client, name, chatty);
    await deploySource(server.client, other, chatty);
    const stop = new AbortController();
    const seen: LogLine[] = [];
    const following = (async () => {
      for await (const item of server.client.followLogs(name, stop.signal))
        if ('line' in item) seen.push(item.line);
    })();
    // The stream is open once the server has answered the request; give it a moment to subscribe.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await server.client.invoke(name, '{"n":1}');
    await server.client.invoke(other, '{"n":99}');
    await server.client.invoke(name, '{"n":2}');
    await expect.poll(() => seen.length, { timeout: 5000 }).toBe(4);
    stop.abort();
    await following;
    expect(seen.map((line) => [line.level, line.message])).toEqual([
      ['info', 'line for 1'],
      ['warn', 'careful 1'],
      ['info', 'line for 2'],
      ['warn', 'careful 2'],
    ]);
    expect(new Set(seen.map((line) => line.functionName))).toEqual(new Set([name]));
  });

  it('refuses an unknown function', async () => {
    const response = await server.authedFetch(`${server.url}/v1/functions/${uniqueName('nope')}/logs/follow`);
    expect(response.status).toBe(404);
  });

  it('`strato logs --follow` prints new lines until interrupted', async () => {
    const name = uniqueName('follow-cli');
    await deploySource(server.client, name, chatty);
    const cli = spawn(
      process.execPath,
      [path.resolve('bin/strato.js'), 'logs', name, '--follow', '--url', server.url],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, STRATO_API_KEY: server.apiKey },
      },
    );
    let output = '';
    cli.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await server.client.invoke(name, '{"n":7}');
    await expect.poll(() => output, { timeout: 10_000 }).toMatch(/INFO {2}line for 7/);
    cli.kill('SIGINT');
    expect(await exited).toBe(0);
  });
});
