import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { registryAuthSchema } from '../../config/function-manifest.js';
import { durationMs } from '../../config/duration.js';
import { parseWith } from '../../config/parse-with.js';
import { StratoError } from '../../core/strato-error.js';
import type { ImageService } from '../../image/image-service.js';
import { parseImageReference } from '../../image/image-reference.js';
import { toStratoError } from '../errors.js';

const pullBodySchema = z.strictObject({
  image: z.string().min(1).max(512),
  registryAuth: registryAuthSchema.optional(),
});

const gcBodySchema = z
  .strictObject({
    /** Only what has been unused this long goes. @default 10m */
    grace: durationMs.optional(),
  })
  .default({});

const TAR_TYPE = 'application/x-tar';

/**
 * Container images ahead of a deploy: `POST /v1/images/pull` streams a pull's progress as NDJSON (the CLI's
 * `strato deploy --image` prints it), `POST /v1/images/archive` imports an uploaded `docker save` or OCI-layout
 * tarball, `POST /v1/images/gc` removes cached layers no version pins. Each answers with the image's `imageId`,
 * which a deploy (`{ "image": "sha256:..." }`) runs without pulling again.
 */
export function registerImageRoutes(
  app: FastifyInstance,
  images: ImageService,
  maxArchiveBytes: number,
): void {
  // The tarball is streamed to disk, never buffered: it may be far larger than any JSON body.
  app.addContentTypeParser(TAR_TYPE, (_request, payload, done) => done(null, payload));

  app.post('/v1/images/pull', async (request, reply) => {
    const body = parseWith(pullBodySchema, request.body, 'body');
    // A bad reference is a plain 400; once the stream has begun, failures arrive as its last line.
    parseImageReference(body.image);
    void reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    const line = (value: unknown) => reply.raw.write(`${JSON.stringify(value)}\n`);
    try {
      const image = await images.pull(body.image, body.registryAuth, line);
      line({ kind: 'pulled', image });
    } catch (error) {
      const stratoError = toStratoError(error);
      if (stratoError.code === 'INTERNAL') request.log.error({ err: error }, 'image pull failed');
      line({ kind: 'error', error: stratoError.toBody(request.id) });
    }
    reply.raw.end();
  });

  app.post('/v1/images/archive', async (request, reply) => {
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== TAR_TYPE) {
      throw new StratoError('UNSUPPORTED_MEDIA_TYPE', `send the image tarball as ${TAR_TYPE}`);
    }
    const declared = Number(request.headers['content-length'] ?? Number.NaN);
    if (declared > maxArchiveBytes) throw tooLarge(maxArchiveBytes);
    const workDir = await images.scratchDir();
    try {
      const file = join(workDir, 'upload.tar');
      await pipeline(request.body as Readable, byteLimit(maxArchiveBytes), createWriteStream(file));
      const image = await images.importArchive(file);
      return await reply.code(201).send({ image });
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  });

  app.post('/v1/images/gc', async (request) => {
    const { grace } = parseWith(gcBodySchema, request.body ?? {}, 'body');
    return { collected: await images.collectGarbage(grace === undefined ? {} : { graceMs: grace }) };
  });
}

function tooLarge(maxBytes: number): StratoError {
  return new StratoError('IMAGE_TOO_LARGE', `image tarballs may be at most ${maxBytes} bytes`);
}

/** Fails the upload as soon as it passes the limit (a missing or lying Content-Length changes nothing). */
function byteLimit(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      callback(seen > maxBytes ? tooLarge(maxBytes) : null, chunk);
    },
  });
}
