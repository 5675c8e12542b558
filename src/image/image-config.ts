// The image config JSON (what `docker inspect` shows): how the image runs, its platform and the diff_ids
// the layer cache checks after decompressing. With a parsed manifest it becomes the ImageDescriptor a
// function version pins.
import { z } from 'zod';
import { StratoError } from '../core/strato-error.js';
import type { ImageRunConfig } from '../core/container-image.js';
import { checkDigest, type ImageManifest } from './manifest.js';
import { DEFAULT_IMAGE_LIMITS, type Digest, type ImageDescriptor, type ImageLimits } from './image-types.js';

/** An image config is at most this large (a config carries history; 8 MiB is far above real ones). */
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

const stringList = z.array(z.string().max(128 * 1024)).max(10_000);

// Not strict: configs carry many fields Strato does not use (history, ExposedPorts, Labels, ...). Docker
// writes `null` for unset lists, hence nullish.
const imageConfigSchema = z.object({
  os: z.string().max(64),
  architecture: z.string().max(64),
  config: z
    .object({
      Entrypoint: stringList.nullish(),
      Cmd: stringList.nullish(),
      Env: stringList.nullish(),
      WorkingDir: z.string().max(4096).nullish(),
      User: z.string().max(256).nullish(),
    })
    .nullish(),
  rootfs: z.object({ type: z.literal('layers'), diff_ids: z.array(z.string()).max(1000) }),
});

export interface ImageConfig {
  run: ImageRunConfig;
  diffIds: Digest[];
  platform: { os: string; architecture: string };
}

/**
 * Parses an image config JSON. Missing run fields become `[]`, `/` and `''`.
 * @throws StratoError INVALID_IMAGE, UNSUPPORTED_IMAGE (non-sha256 diff_ids), IMAGE_TOO_LARGE
 */
export function parseImageConfig(bytes: Buffer): ImageConfig {
  if (bytes.length > MAX_CONFIG_BYTES) {
    throw new StratoError('IMAGE_TOO_LARGE', `the image config is larger than ${MAX_CONFIG_BYTES} bytes`);
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new StratoError('INVALID_IMAGE', 'the image config is not valid JSON', { cause: error });
  }
  const parsed = imageConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StratoError(
      'INVALID_IMAGE',
      `invalid image config: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`,
    );
  }
  const { config, rootfs, os, architecture } = parsed.data;
  const workingDir = config?.WorkingDir ?? '';
  if (workingDir !== '' && !workingDir.startsWith('/')) {
    throw new StratoError(
      'INVALID_IMAGE',
      `the image's WorkingDir "${workingDir.slice(0, 200)}" is not absolute`,
    );
  }
  return {
    run: {
      entrypoint: config?.Entrypoint ?? [],
      cmd: config?.Cmd ?? [],
      env: config?.Env ?? [],
      workingDir: workingDir === '' ? '/' : workingDir,
      user: config?.User ?? '',
    },
    diffIds: rootfs.diff_ids.map((diffId, position) => checkDigest(diffId, `diff_id ${position + 1}`)),
    platform: { os, architecture },
  };
}

export interface DescriptorParts {
  source: ImageDescriptor['source'];
  manifestDigest: Digest;
  manifest: ImageManifest;
  /** The config blob's bytes, already checked against `manifest.config.digest` by the caller. */
  configBytes: Buffer;
  /** @default DEFAULT_IMAGE_LIMITS */
  limits?: ImageLimits;
}

/**
 * The ImageDescriptor of a manifest and its config: one diff_id per layer, linux/amd64, every blob within
 * `limits.maxBlobBytes`.
 * @throws StratoError INVALID_IMAGE, UNSUPPORTED_IMAGE, IMAGE_TOO_LARGE
 */
export function buildImageDescriptor(parts: DescriptorParts): ImageDescriptor {
  const limits = parts.limits ?? DEFAULT_IMAGE_LIMITS;
  const config = parseImageConfig(parts.configBytes);
  const { layers } = parts.manifest;
  if (config.diffIds.length !== layers.length) {
    throw new StratoError(
      'INVALID_IMAGE',
      `the image config lists ${config.diffIds.length} diff_ids for ${layers.length} layers`,
    );
  }
  if (config.platform.os !== 'linux' || config.platform.architecture !== 'amd64') {
    throw new StratoError(
      'UNSUPPORTED_IMAGE',
      `the image is for ${config.platform.os}/${config.platform.architecture}; Strato runs linux/amd64`,
    );
  }
  for (const blob of [parts.manifest.config, ...layers]) {
    if (blob.size > limits.maxBlobBytes) {
      throw new StratoError(
        'IMAGE_TOO_LARGE',
        `blob ${blob.digest} is ${blob.size} bytes, over the limit of ${limits.maxBlobBytes}`,
      );
    }
  }
  return {
    source: parts.source,
    manifestDigest: parts.manifestDigest,
    configDigest: parts.manifest.config.digest,
    layers: layers.map((layer) => ({ mediaType: layer.mediaType, digest: layer.digest, size: layer.size })),
    diffIds: config.diffIds,
    config: config.run,
    platform: config.platform,
  };
}
