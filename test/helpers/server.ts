import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { expect } from 'vitest';
import type { InvocationRecord } from '../../src/core/invocation.js';
import { bundleFunction } from '../../src/build/bundle-function.js';
import { StratoClient, type DeployRequest, type FunctionResponse } from '../../src/client/strato-client.js';
import { parseServerConfig, type ServerConfigInput } from '../../src/config/server-config.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server.js';

export interface TestServer extends RunningServer {
  /** Talks to the server with its admin key. */
  client: StratoClient;
  /** The server's admin API key (every test server gets its own). */
  apiKey: string;
  /** `Authorization: Bearer <admin key>`, plus `extra`: for raw `fetch` calls to the control plane. */
  auth(extra?: Record<string, string>): Record<string, string>;
  /** `fetch` with the admin key added to the request's headers. */
  authedFetch(url: string, init?: RequestInit): Promise<Response>;
  dataDir: string;
  /** Stops the server and removes its data dir. */
  stop(): Promise<void>;
}

/**
 * A real server on port 0 with its own temp data dir and SQLite file. With `overrides.dataDir`, it runs
 * on that dir and `stop()` leaves it in place (a restart test starts a second server on it). `logger`
 * receives the platform's own log lines (silent by default).
 */
export async function startTestServer(
  overrides: Partial<ServerConfigInput> = {},
  options: ServerOptions & { logger?: Logger } = {},
): Promise<TestServer> {
  const ownDataDir = overrides.dataDir === undefined;
  const dataDir = overrides.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'strato-test-'));
  const apiKey = overrides.adminKey ?? `strato_sk_test_${randomBytes(24).toString('base64url')}`;
  const config = parseServerConfig({
    port: 0,
    dataDir,
    isolateHosts: 1,
    logLevel: 'silent',
    ...overrides,
    adminKey: apiKey,
  });
  const server = await startServer(config, options.logger ?? pino({ level: 'silent' }), options);
  return {
    ...server,
    client: new StratoClient(server.url, { apiKey: () => apiKey }),
    apiKey,
    auth: (extra = {}) => ({ authorization: `Bearer ${apiKey}`, ...extra }),
    authedFetch: (url, init = {}) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${apiKey}`);
      return fetch(url, { ...init, headers });
    },
    dataDir,
    stop: async () => {
      await server.close();
      if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Writes `files` into a fresh temp dir (paths relative to it) and returns the dir. */
export function writeFunctionDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'strato-fn-'));
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  return dir;
}

/** Bundles `source` (as `index.ts`, or the given files) like `strato deploy` does, and deploys it. */
export async function deploySource(
  client: StratoClient,
  name: string,
  source: string | Record<string, string>,
  settings: Omit<DeployRequest, 'code' | 'sourceMap'> = {},
): Promise<FunctionResponse> {
  const dir = writeFunctionDir(typeof source === 'string' ? { 'index.ts': source } : source);
  try {
    const bundle = await bundleFunction(dir);
    return await client.deploy(name, { code: bundle.code, sourceMap: bundle.sourceMap, ...settings });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Invokes and parses the JSON body. */
export async function invokeJson(
  client: StratoClient,
  name: string,
  event: unknown = {},
  options: { version?: string } = {},
): Promise<{
  status: number;
  body: unknown;
  cold: boolean;
  version: number | null;
  invocationId: string | null;
}> {
  const response = await client.invoke(name, JSON.stringify(event), options);
  let body: unknown = response.body;
  try {
    body = JSON.parse(response.body);
  } catch {
    // not JSON: keep the text
  }
  return {
    status: response.status,
    body,
    cold: response.cold,
    version: response.version,
    invocationId: response.invocationId,
  };
}

let counter = 0;
/** A function name unique to this test process. */
/** A function's invocation records, newest first, once `count` are written (they are flushed in batches). */
export async function waitForInvocations(
  client: StratoClient,
  name: string,
  count: number,
): Promise<InvocationRecord[]> {
  let records: InvocationRecord[] = [];
  await expect
    .poll(
      async () => {
        records = (await client.listInvocations(name)).invocations;
        return records.length;
      },
      { timeout: 10_000, interval: 25 },
    )
    .toBe(count);
  return records;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${++counter}`;
}
