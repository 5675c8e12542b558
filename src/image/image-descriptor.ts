import { createHash } from 'node:crypto';
import { z } from 'zod';
import { StratoError } from '../core/strato-error.js';
import { DIGEST_PATTERN, type Digest, type ImageDescriptor } from './image-types.js';

// A version pins its image by storing the descriptor as its code artifact: the artifact's sha256 is the
// version's codeSha256 and the image's id (`sha256:<hex>`). Encoded canonically (fixed key order, no
// whitespace), so the same image always gets the same id, whichever node resolved it.

const digest = z.string().regex(DIGEST_PATTERN) as unknown as z.ZodType<Digest>;

const descriptorSchema = z.strictObject({
  source: z.discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('registry'),
      registry: z.string().min(1),
      repository: z.string().min(1),
      tag: z.string().min(1).optional(),
    }),
    z.strictObject({ kind: z.literal('archive') }),
  ]),
  manifestDigest: digest,
  configDigest: digest,
  layers: z.array(z.strictObject({ mediaType: z.string().min(1), digest, size: z.number().int().min(0) })),
  diffIds: z.array(digest),
  config: z.strictObject({
    entrypoint: z.array(z.string()),
    cmd: z.array(z.string()),
    env: z.array(z.string()),
    workingDir: z.string(),
    user: z.string(),
  }),
  platform: z.strictObject({ os: z.string(), architecture: z.string() }),
});

/** The descriptor's canonical bytes. */
export function encodeImageDescriptor(image: ImageDescriptor): Buffer {
  const source =
    image.source.kind === 'archive'
      ? { kind: 'archive' as const }
      : {
          kind: 'registry' as const,
          registry: image.source.registry,
          repository: image.source.repository,
          ...(image.source.tag === undefined ? {} : { tag: image.source.tag }),
        };
  return Buffer.from(
    JSON.stringify({
      source,
      manifestDigest: image.manifestDigest,
      configDigest: image.configDigest,
      layers: image.layers.map((layer) => ({
        mediaType: layer.mediaType,
        digest: layer.digest,
        size: layer.size,
      })),
      diffIds: image.diffIds,
      config: {
        entrypoint: image.config.entrypoint,
        cmd: image.config.cmd,
        env: image.config.env,
        workingDir: image.config.workingDir,
        user: image.config.user,
      },
      platform: { os: image.platform.os, architecture: image.platform.architecture },
    }),
  );
}

/** A stored descriptor, checked: the store is ours, but a descriptor from an older release must not half-load. */
export function decodeImageDescriptor(bytes: Uint8Array): ImageDescriptor {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new StratoError('INTERNAL', 'a stored image descriptor is not JSON', { cause: error });
  }
  const parsed = descriptorSchema.safeParse(json);
  if (!parsed.success) {
    throw new StratoError(
      'INTERNAL',
      `a stored image descriptor is invalid: ${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}

/** sha256 (hex) of the canonical bytes: the artifact key and `codeSha256` of versions running the image. */
export function descriptorSha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
