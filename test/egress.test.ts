import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploySource, invokeJson, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

// Fetches `event.url` (following one redirect by hand when asked) and reports what happened.
const FETCHER = `
export default async (event: { url: string; follow?: boolean }) => {
  try {
    let response = await fetch(event.url);
    if (event.follow && response.status >= 300 && response.status < 400) {
      response = await fetch(response.headers.get('location')!);
    }
    return { status: response.status, body: await response.text() };
  } catch (error) {
    return { error: String((error as Error).message) };
  }
};`;

let sink: http.Server;
let sinkUrl: string;
let hits = 0;
let locked: TestServer;
let opened: TestServer;

beforeAll(async () => {
  sink = http.createServer((request, response) => {
    hits += 1;
    if (request.url === '/to-metadata') {
      response.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      return;
    }
    response.end('sink reached');
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  // Default: loopback stays blocked whatever a function allows. Opened: the operator lets 127.0.0.1 through.
  [locked, opened] = await Promise.all([
    startTestServer(),
    startTestServer({ egressAllowedNetworks: ['127.0.0.1/32'] }),
  ]);
});
afterAll(async () => {
  await Promise.all([locked?.stop(), opened?.stop()]);
  await new Promise((resolve) => sink.close(resolve));
});

async function fetchFrom(server: TestServer, egress: string[] | undefined, event: object): Promise<unknown> {
  const name = uniqueName('egress');
  await deploySource(server.client, name, FETCHER, egress === undefined ? {} : { egress });
  return (await invokeJson(server.client, name, event)).body;
}

describe('egress policy of isolate functions', () => {
  it('denies outbound fetch by default', async () => {
    const before = hits;
    expect(await fetchFrom(opened, undefined, { url: `${sinkUrl}/` })).toMatchObject({
      error: expect.stringMatching(/EGRESS_DENIED/),
    });
    expect(hits).toBe(before);
  });

  it('keeps loopback, metadata and private addresses blocked even when a pattern names them, by IP or by DNS', async () => {
    const before = hits;
    for (const [egress, url] of [
      [['127.0.0.1'], `${sinkUrl}/`],
      [['localhost'], sinkUrl.replace('127.0.0.1', 'localhost')],
      [['169.254.169.254'], 'http://169.254.169.254/latest/meta-data/'],
      [['10.0.0.1'], 'http://10.0.0.1/'],
    ] as const) {
      expect(await fetchFrom(locked, [...egress], { url })).toMatchObject({
        error: expect.stringMatching(/blocked \(EGRESS_DENIED\)/),
      });
    }
    expect(hits).toBe(before);
  });

  it('lets a function reach an allowed host, and only that host', async () => {
    expect(await fetchFrom(opened, ['127.0.0.1'], { url: `${sinkUrl}/` })).toStrictEqual({
      status: 200,
      body: 'sink reached',
    });
    expect(await fetchFrom(opened, ['api.example.com'], { url: `${sinkUrl}/` })).toMatchObject({
      error: expect.stringMatching(/not allowed for this function/),
    });
  });

  it('does not follow redirects, and a redirect followed by hand is vetted like any request', async () => {
    expect(await fetchFrom(opened, ['127.0.0.1'], { url: `${sinkUrl}/to-metadata` })).toMatchObject({
      status: 302,
    });
    expect(
      await fetchFrom(opened, ['127.0.0.1', '169.254.169.254'], {
        url: `${sinkUrl}/to-metadata`,
        follow: true,
      }),
    ).toMatchObject({ error: expect.stringMatching(/169\.254\.169\.254.*blocked/) });
  });

  it('refuses malformed egress patterns at deploy', async () => {
    const name = uniqueName('egress-bad');
    for (const egress of [
      ['http://x.com'],
      ['*'],
      ['a..b'],
      Array.from({ length: 51 }, (_, i) => `h${i}.com`),
    ]) {
      await expect(deploySource(locked.client, name, FETCHER, { egress })).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
      });
    }
  });
});
