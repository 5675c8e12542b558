import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';

/** A stand-in for Vite's output: an index page, a hashed script (big enough to gzip) and a top-level file. */
function writeFakeBuild(): string {
  const outer = mkdtempSync(path.join(os.tmpdir(), 'strato-console-'));
  // Next to the build, where a path with `..` would reach it.
  writeFileSync(path.join(outer, 'secret.json'), '{"name":"not for the browser"}');
  const dir = path.join(outer, 'build');
  mkdirSync(path.join(dir, 'assets'), { recursive: true });
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>console index</title>');
  writeFileSync(
    path.join(dir, 'assets', 'index-AbC123.js'),
    `export const filler = "${'x'.repeat(4000)}";\n`,
  );
  writeFileSync(path.join(dir, 'robots.txt'), 'User-agent: *\n');
  return dir;
}

/** A raw GET (fetch would undo the gzip, and normalise `..` out of the path). */
function rawGet(
  url: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the console with a build', () => {
  let server: TestServer;
  let buildDir: string;

  beforeAll(async () => {
    buildDir = writeFakeBuild();
    server = await startTestServer({ consoleDir: buildDir });
  });

  afterAll(async () => {
    await server.stop();
    rmSync(path.dirname(buildDir), { recursive: true, force: true });
  });

  it('serves index.html at /console and /console/, never cached without revalidation', async () => {
    for (const at of ['/console', '/console/', '/console/index.html']) {
      const response = await fetch(`${server.url}${at}`);
      expect(response.status, at).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(await response.text()).toContain('console index');
    }
  });

  it('answers page paths with index.html (the app routes in the browser)', async () => {
    for (const at of [
      '/console/functions/hello',
      '/console/invocations?fn=a&outcome=error',
      '/console/dlq',
    ]) {
      const response = await fetch(`${server.url}${at}`);
      expect(response.status, at).toBe(200);
      expect(await response.text()).toContain('console index');
    }
  });

  it('serves hashed assets as immutable, gzipped when the client accepts it', async () => {
    const plain = await rawGet(server.url, '/console/assets/index-AbC123.js');
    expect(plain.status).toBe(200);
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toContain('export const filler');

    const gzipped = await rawGet(server.url, '/console/assets/index-AbC123.js', {
      'accept-encoding': 'gzip, br',
    });
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gzipped.headers.vary).toBe('accept-encoding');
    expect(gzipped.body.length).toBeLessThan(plain.body.length / 10);
    expect(gunzipSync(gzipped.body).equals(plain.body)).toBe(true);

    // A file outside assets/ has no content hash in its name: it must be revalidated.
    const robots = await rawGet(server.url, '/console/robots.txt');
    expect(robots.headers['cache-control']).toBe('no-cache');
    expect(robots.body.toString()).toBe('User-agent: *\n');
  });

  it('answers 404 for a missing asset and for paths out of the build', async () => {
    expect((await rawGet(server.url, '/console/assets/index-gone.js')).status).toBe(404);
    for (const at of [
      '/console/%2e%2e/secret.json',
      '/console/..%2fsecret.json',
      '/console/assets/../../secret.json',
    ]) {
      const response = await rawGet(server.url, at);
      expect(response.status, at).toBe(404);
      expect(response.body.toString()).not.toContain('"name"');
    }
  });
});

describe('the console without a build', () => {
  let server: TestServer;
  let emptyDir: string;

  beforeAll(async () => {
    emptyDir = mkdtempSync(path.join(os.tmpdir(), 'strato-console-empty-'));
    server = await startTestServer({ consoleDir: emptyDir });
  });

  afterAll(async () => {
    await server.stop();
    rmSync(emptyDir, { recursive: true, force: true });
  });

  it('answers a 404 page that says how to build it, and the API still works', async () => {
    for (const at of ['/console', '/console/functions/x', '/console/assets/index-AbC123.js']) {
      const response = await fetch(`${server.url}${at}`);
      expect(response.status, at).toBe(404);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(await response.text()).toContain('npm run build:console');
    }
    expect((await server.authedFetch(`${server.url}/v1/functions`)).status).toBe(200);
  });
});
