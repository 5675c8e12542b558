// A real distribution registry for tests (Debian's docker-registry 2.8, filesystem storage in a temp dir on
// a free loopback port), pushes through the distribution API, and a counting proxy in front of it that can
// demand bearer tokens (serving its own token endpoint) or answer chosen requests itself (wrong bytes,
// schema 1 manifests, ...).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import type { BuiltImage } from './oci-image-types.js';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface Credentials {
  username: string;
  password: string;
}

export interface RunningRegistry {
  /** `127.0.0.1:<port>`, the registry part of an image reference. */
  host: string;
  /** Kills the registry and removes its storage. */
  stop(): Promise<void>;
}

export interface StartRegistryOptions {
  /** Require HTTP Basic auth (htpasswd with a bcrypt hash) for every request. */
  basicAuth?: Credentials;
}

/** A free loopback port: listened on with port 0, then closed (racy, hence the caller's retry). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts docker-registry with a generated config (JSON, which its YAML parser reads): storage in a fresh
 * temp dir, `127.0.0.1:<free port>`, delete enabled, log level warn, optional htpasswd auth. Resolves once
 * `GET /v2/` answers; retries on another port when the registry exits before that (the port was taken).
 */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<RunningRegistry> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'strato-registry-'));
  let lastError: unknown;
  try {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const port = await freePort();
      const nonce = randomBytes(8).toString('hex');
      const child = spawnRegistry(dir, port, nonce, options);
      try {
        await untilAnswering(child.process, port, nonce, child.output);
      } catch (error) {
        lastError = error;
        await killAndWait(child.process);
        continue;
      }
      return {
        host: `127.0.0.1:${port}`,
        stop: async () => {
          await killAndWait(child.process);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`docker-registry did not start: ${String(lastError)}`);
}

function spawnRegistry(
  dir: string,
  port: number,
  nonce: string,
  options: StartRegistryOptions,
): { process: ChildProcess; output: () => string } {
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: path.join(dir, 'data') },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    // The nonce header tells our registry from another process that took the port first.
    http: {
      addr: `127.0.0.1:${port}`,
      secret: randomBytes(16).toString('hex'),
      headers: { 'X-Test-Registry': [nonce] },
    },
  };
  if (options.basicAuth !== undefined) {
    const htpasswd = path.join(dir, 'htpasswd');
    // Cost 4 (the minimum): the registry checks the hash on every request.
    writeFileSync(
      htpasswd,
      `${options.basicAuth.username}:${bcrypt.hashSync(options.basicAuth.password, 4)}\n`,
    );
    config.auth = { htpasswd: { realm: 'strato-test', path: htpasswd } };
  }
  const configPath = path.join(dir, `config-${port}.yml`);
  writeFileSync(configPath, JSON.stringify(config));
  const child = spawn(REGISTRY_BINARY, ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return { process: child, output: () => output };
}

async function untilAnswering(
  child: ChildProcess,
  port: number,
  nonce: string,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}): ${output()}`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/v2/`, { signal: AbortSignal.timeout(1000) });
      await response.body?.cancel();
      if (response.headers.get('x-test-registry') !== nonce)
        throw new Error(`port ${port} is another server's`);
      if (response.status === 200 || response.status === 401) return;
    } catch (error) {
      if (error instanceof Error && error.message.includes("another server's")) throw error;
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`docker-registry did not answer on port ${port}: ${output()}`);
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------------------
// Pushing

function authHeaders(auth: Credentials | undefined): Record<string, string> {
  if (auth === undefined) return {};
  return { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };
}

async function expectStatus(response: Response, expected: number[], what: string): Promise<void> {
  if (expected.includes(response.status)) {
    await response.body?.cancel();
    return;
  }
  throw new Error(`${what}: registry answered ${response.status} ${await response.text()}`);
}

/** Uploads one blob (monolithic: POST an upload, PUT the bytes with their digest); skips it if present. */
export async function pushBlob(
  host: string,
  repository: string,
  bytes: Buffer,
  digest: string,
  auth?: Credentials,
): Promise<void> {
  const base = `http://${host}/v2/${repository}`;
  const head = await fetch(`${base}/blobs/${digest}`, { method: 'HEAD', headers: authHeaders(auth) });
  if (head.status === 200) return;
  const start = await fetch(`${base}/blobs/uploads/`, { method: 'POST', headers: authHeaders(auth) });
  const location = start.headers.get('location');
  await expectStatus(start, [202], `starting the upload of ${digest}`);
  if (location === null) throw new Error(`the registry sent no upload location for ${digest}`);
  const url = new URL(location, `http://${host}`);
  url.searchParams.set('digest', digest);
  const put = await fetch(url, {
    method: 'PUT',
    headers: { ...authHeaders(auth), 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  await expectStatus(put, [201], `uploading ${digest}`);
}

/** PUTs a manifest or index under `reference` (a tag or its digest) with its media type. */
export async function pushManifest(
  host: string,
  repository: string,
  reference: string,
  bytes: Buffer,
  mediaType: string,
  auth?: Credentials,
): Promise<void> {
  const response = await fetch(`http://${host}/v2/${repository}/manifests/${reference}`, {
    method: 'PUT',
    headers: { ...authHeaders(auth), 'content-type': mediaType },
    body: bytes,
  });
  await expectStatus(response, [201], `pushing manifest ${reference}`);
}

/** Pushes an image's config and layers (skipping those present) and its manifest under `tag`. */
export async function pushImage(
  host: string,
  repository: string,
  tag: string,
  image: BuiltImage,
  auth?: Credentials,
): Promise<void> {
  await pushBlob(host, repository, image.config, image.configDigest, auth);
  for (const layer of image.layers) await pushBlob(host, repository, layer.bytes, layer.digest, auth);
  await pushManifest(host, repository, tag, image.manifest, image.manifestMediaType, auth);
}

// ---------------------------------------------------------------------------------------------------------
// Proxy

export interface ProxiedRequest {
  method: string;
  /** Path and query as received (`/v2/team/fn/blobs/sha256:...`). */
  path: string;
}

/** An answer given by the proxy itself instead of the registry. */
export interface ProxyAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export interface RegistryProxyOptions {
  /**
   * Demand `Authorization: Bearer <token>` on every registry request, answering 401 with
   * `WWW-Authenticate: Bearer realm="http://<proxy>/token",service="test",scope="repository:<repo>:pull"`,
   * and serve `GET /token`, which checks these Basic credentials and returns `{ token, expires_in }`.
   */
  bearer?: Credentials;
  /** Answers a request in place of the registry (after the bearer check); undefined passes it through. */
  respond?: (request: ProxiedRequest) => ProxyAnswer | undefined;
}

export interface RegistryProxy {
  /** `127.0.0.1:<port>`: use it as the registry of a reference. */
  host: string;
  /** Every request received, in order (token requests included). */
  requests: ProxiedRequest[];
  /** How many times the blob `digest` was fetched with GET. */
  blobGets(digest: string): number;
  stop(): Promise<void>;
}

/** An HTTP proxy on a free port in front of the registry at `targetHost`, counting requests. */
export async function startRegistryProxy(
  targetHost: string,
  options: RegistryProxyOptions = {},
): Promise<RegistryProxy> {
  const requests: ProxiedRequest[] = [];
  const tokens = new Set<string>();
  const [targetName, targetPort] = targetHost.split(':');
  let selfHost = '';
  const server = http.createServer((request, response) => {
    const proxied = { method: request.method ?? 'GET', path: request.url ?? '/' };
    requests.push(proxied);
    const pathname = new URL(proxied.path, 'http://proxy').pathname;
    if (options.bearer !== undefined) {
      if (pathname === '/token') {
        const expected = authHeaders(options.bearer).authorization;
        if (request.headers.authorization !== expected) {
          response
            .writeHead(401, { 'content-type': 'application/json' })
            .end('{"details":"bad credentials"}');
          return;
        }
        const token = randomBytes(16).toString('hex');
        tokens.add(token);
        response
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ token, expires_in: 300 }));
        return;
      }
      const presented = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
      if (presented === undefined || !tokens.has(presented)) {
        const repository = /^\/v2\/(.+)\/(?:manifests|blobs|tags)\//.exec(pathname)?.[1];
        const scope = repository === undefined ? '' : `,scope="repository:${repository}:pull"`;
        response
          .writeHead(401, {
            'content-type': 'application/json',
            'www-authenticate': `Bearer realm="http://${selfHost}/token",service="test"${scope}`,
          })
          .end('{"errors":[{"code":"UNAUTHORIZED"}]}');
        return;
      }
    }
    const answer = options.respond?.(proxied);
    if (answer !== undefined) {
      const body = answer.body === undefined ? Buffer.alloc(0) : Buffer.from(answer.body);
      response
        .writeHead(answer.status, { 'content-length': String(body.length), ...answer.headers })
        .end(body);
      return;
    }
    const headers = { ...request.headers, host: targetHost };
    delete headers.authorization;
    const upstream = http.request(
      { host: targetName, port: Number(targetPort), method: proxied.method, path: proxied.path, headers },
      (upstreamResponse) => {
        response.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
        upstreamResponse.pipe(response);
      },
    );
    upstream.on('error', (error) => {
      if (!response.headersSent) response.writeHead(502);
      response.end(String(error));
    });
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  selfHost = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    host: selfHost,
    requests,
    blobGets: (digest) =>
      requests.filter(
        (entry) =>
          entry.method === 'GET' && new URL(entry.path, 'http://proxy').pathname.endsWith(`/blobs/${digest}`),
      ).length,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
