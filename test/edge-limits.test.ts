import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServerConfig } from '../src/config/server-config.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ headersTimeout: 400, requestTimeout: 1500, maxHeaderSize: 4096 });
});
afterAll(async () => {
  await server.stop();
});

/** Writes `chunks` over a raw connection (with pauses) and returns what the server sent until it closed. */
function rawExchange(chunks: Array<string | number>): Promise<{ reply: string; closedAfterMs: number }> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const startedAt = Date.now();
    const socket = connect(Number(port), '127.0.0.1');
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => (reply += data));
    socket.on('error', reject);
    socket.on('close', () => resolve({ reply, closedAfterMs: Date.now() - startedAt }));
    void (async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        if (typeof chunk === 'number') await new Promise((r) => setTimeout(r, chunk));
        else socket.write(chunk);
      }
    })();
  });
}

describe('limits at the edge', () => {
  it('cuts off a client that trickles its headers (slowloris) with 408', async () => {
    const { reply } = await rawExchange([
      'GET /healthz HTTP/1.1\r\n',
      'Host: x\r\n',
      3000,
      'X-Late: 1\r\n\r\n',
    ]);
    expect(reply).toMatch(/^HTTP\/1\.1 408/);
  });

  it('cuts off a client that trickles its body with 408', async () => {
    const { reply } = await rawExchange([
      `POST /v1/functions/none/invoke HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.apiKey}\r\nContent-Length: 100\r\n\r\n{"a":`,
      4000,
      '1}',
    ]);
    expect(reply).toMatch(/^HTTP\/1\.1 408/);
  });

  it('refuses an oversized request head with 431 before any route runs', async () => {
    const { reply } = await rawExchange([
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`,
    ]);
    expect(reply).toMatch(/^HTTP\/1\.1 431/);
  });

  it('still serves a well-behaved client', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('refuses a headers timeout longer than the request timeout', () => {
    expect(() => parseServerConfig({ headersTimeout: 10_000, requestTimeout: 5_000 })).toThrow(
      /headersTimeout/,
    );
  });
});
