import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Where `npm run build:console` writes (the same from src/http/routes/ and dist/http/routes/). */
export const defaultConsoleDir = fileURLToPath(new URL('../../../dist/console/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.map': 'application/json',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** Vite names files under assets/ by content hash: a changed file is a new URL, so they never go stale. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Strato console not built</title></head>
<body style="font-family: system-ui, sans-serif; margin: 3rem">
<h1>The Strato console is not built</h1>
<p>Run <code>npm run build:console</code> (or <code>npm run build</code>) in the Strato checkout, then reload.
The API under <code>/v1</code> works without it.</p>
</body></html>
`;

interface ConsoleFile {
  body: Buffer;
  gzipped: Buffer | undefined;
  contentType: string;
}

/**
 * The web console: a single-page app built by Vite into `consoleDir`. Files under `assets/` are cached for
 * good; any other path without a file extension gets index.html (the app routes in the browser). Text is
 * gzipped once per file version and kept in memory (the build is a few small files).
 */
export function registerConsoleRoutes(app: FastifyInstance, consoleDir: string = defaultConsoleDir): void {
  const root = path.resolve(consoleDir);
  const cache = new Map<string, { version: string; file: ConsoleFile }>();

  async function load(relative: string): Promise<ConsoleFile | undefined> {
    const absolute = path.resolve(root, relative);
    // A path that climbs out of the build (`..`, encoded or not) is not a console file.
    if (absolute !== root && !absolute.startsWith(root + path.sep)) return undefined;
    const info = await stat(absolute).catch(() => undefined);
    if (info === undefined || !info.isFile()) return undefined;
    const version = `${info.mtimeMs}:${info.size}`;
    const cached = cache.get(absolute);
    if (cached?.version === version) return cached.file;
    const body = await readFile(absolute);
    const contentType = CONTENT_TYPES[path.extname(absolute)] ?? 'application/octet-stream';
    const compressible = /^(text\/|application\/json|image\/svg)/.test(contentType) && body.length > 1024;
    const file = { body, gzipped: compressible ? gzipSync(body) : undefined, contentType };
    cache.set(absolute, { version, file });
    return file;
  }

  function send(request: FastifyRequest, reply: FastifyReply, file: ConsoleFile, cacheControl: string) {
    reply.header('content-type', file.contentType).header('cache-control', cacheControl);
    if (file.gzipped === undefined) return reply.send(file.body);
    reply.header('vary', 'accept-encoding');
    const accepts = /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
    return accepts ? reply.header('content-encoding', 'gzip').send(file.gzipped) : reply.send(file.body);
  }

  async function serve(request: FastifyRequest, reply: FastifyReply, relative: string) {
    const index = await load('index.html');
    if (index === undefined) {
      return reply.code(404).header('content-type', 'text/html; charset=utf-8').send(NOT_BUILT_PAGE);
    }
    if (relative !== '' && relative !== 'index.html') {
      const file = await load(relative);
      if (file !== undefined) {
        return send(request, reply, file, relative.startsWith('assets/') ? IMMUTABLE : 'no-cache');
      }
      // A missing file (a stale asset URL) is a 404; a page path is the app's to route.
      if (path.extname(relative) !== '') {
        return reply.code(404).header('content-type', 'text/plain; charset=utf-8').send('not found\n');
      }
    }
    return send(request, reply, index, 'no-cache');
  }

  app.get('/console', (request, reply) => serve(request, reply, ''));
  app.get('/console/*', (request, reply) => serve(request, reply, (request.params as { '*': string })['*']));
}
