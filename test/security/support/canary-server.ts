import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { expect } from 'vitest';
import type { ServerConfigInput } from '../../../src/config/server-config.js';
import { invokeJson, startTestServer, uniqueName, type TestServer } from '../../helpers/server.js';

/** The server's environment variable that holds {@link CanaryServer.envCanary}. */
export const CANARY_ENV_NAME = 'STRATO_TEST_CANARY';

/**
 * A test server with two secrets planted where an escaped function would find them: `envCanary` in the
 * server's own environment (as a real deployment's database password would be), `storeCanary` in another
 * function's env var (so it is in the SQLite store, and in that function's warm instance). Every platform
 * log line (at debug level) is kept in `logLines`, so a test can show that no secret leaked into them.
 */
export interface CanaryServer extends TestServer {
  envCanary: string;
  storeCanary: string;
  /** The function holding `storeCanary`; it has a warm instance in the isolate tier. */
  holderName: string;
  logLines: string[];
}

export async function startCanaryServer(overrides: Partial<ServerConfigInput> = {}): Promise<CanaryServer> {
  const envCanary = `env-canary-${randomBytes(12).toString('hex')}`;
  const storeCanary = `store-canary-${randomBytes(12).toString('hex')}`;
  // Set before the server starts, so every sandbox host it spawns could inherit it if it were careless.
  process.env[CANARY_ENV_NAME] = envCanary;
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const server = await startTestServer(overrides, { logger: pino({ level: 'debug' }, sink) });
  const holderName = uniqueName('canary-holder');
  await server.client.deploy(holderName, {
    code: 'module.exports = async (event, context) => ({ held: Object.keys(context.env).length });',
    env: { HELD_SECRET: storeCanary },
  });
  // A warm instance: its isolate (holding the secret) lives beside the probes' in the same host process.
  expect(await invokeJson(server.client, holderName, {})).toMatchObject({ status: 200, body: { held: 1 } });
  return {
    ...server,
    envCanary,
    storeCanary,
    holderName,
    logLines,
    stop: async () => {
      delete process.env[CANARY_ENV_NAME];
      await server.stop();
    },
  };
}

/** Asserts neither canary appears in `texts` (function output, responses, log lines). */
export function expectNoCanary(server: CanaryServer, ...texts: string[]): void {
  for (const text of texts) {
    expect(text).not.toContain(server.envCanary);
    expect(text).not.toContain(server.storeCanary);
  }
}

/** Everything the platform and the function logged: platform log lines and the function's own log lines. */
export async function allLogsOf(server: CanaryServer, functionName: string): Promise<string> {
  const response = await server.authedFetch(`${server.url}/v1/functions/${functionName}/logs?limit=1000`);
  return `${await response.text()}\n${server.logLines.join('\n')}`;
}
