// Image manifests and indexes as registries and archives serve them: the OCI image manifest and index and
// their Docker v2 schema2 twins, validated with zod. Schema 1 manifests, layer kinds Strato cannot unpack
// (zstd, non-distributable/foreign) and non-sha256 digests are refused here, before anything is pulled.
import { z } from 'zod';
import { StratoError } from '../core/strato-error.js';
import { DIGEST_PATTERN, type BlobDescriptor, type Digest } from './image-types.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const OCI_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

/** The Accept header of a manifest request: every kind Strato reads (never schema 1). */
export const MANIFEST_ACCEPT = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST].join(', ');

/** A manifest or index is at most this large (registries cap them at 4 MiB too). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const SCHEMA1_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

/** The layer media types Strato pulls; anything else is refused. */
const LAYER_TYPES: ReadonlySet<string> = new Set([OCI_LAYER_TAR, OCI_LAYER_GZIP, DOCKER_LAYER_GZIP]);

// Not strict: manifests legitimately carry annotations, artifactType, subject and fields of later versions.
const descriptorSchema = z.object({
  mediaType: z.string().min(1).max(255),
  digest: z.string().max(200),
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  urls: z.array(z.string()).optional(),
});

const imageManifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema).max(1000),
});

const platformSchema = z.object({ os: z.string(), architecture: z.string(), variant: z.string().optional() });

const indexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z
    .array(
      descriptorSchema.extend({
        platform: platformSchema.optional(),
        annotations: z.record(z.string(), z.string()).optional(),
      }),
    )
    .max(1000),
});

export interface ImageManifest {
  mediaType: typeof OCI_MANIFEST | typeof DOCKER_MANIFEST;
  config: BlobDescriptor;
  layers: BlobDescriptor[];
}

export interface IndexEntry extends BlobDescriptor {
  platform?: { os: string; architecture: string; variant?: string | undefined } | undefined;
  annotations?: Record<string, string> | undefined;
}

export interface ImageIndex {
  mediaType: typeof OCI_INDEX | typeof DOCKER_MANIFEST_LIST;
  manifests: IndexEntry[];
}

export type ParsedManifest =
  { kind: 'manifest'; manifest: ImageManifest } | { kind: 'index'; index: ImageIndex };

/**
 * Checks a digest taken from a manifest, config or archive.
 * @throws StratoError UNSUPPORTED_IMAGE for another algorithm, INVALID_IMAGE for anything else not sha256:<hex>
 */
export function checkDigest(text: string, what: string): Digest {
  if (DIGEST_PATTERN.test(text)) return text as Digest;
  if (/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(text) && !text.startsWith('sha256:')) {
    throw new StratoError(
      'UNSUPPORTED_IMAGE',
      `${what} uses digest algorithm "${text.split(':')[0]}"; only sha256 is supported`,
    );
  }
  throw new StratoError('INVALID_IMAGE', `${what} has an invalid digest "${text.slice(0, 80)}"`);
}

function checkLayer(layer: z.infer<typeof descriptorSchema>, position: number): BlobDescriptor {
  const what = `layer ${position + 1}`;
  const type = layer.mediaType;
  if (type.includes('nondistributable') || type.includes('foreign') || (layer.urls?.length ?? 0) > 0) {
    throw new StratoError(
      'UNSUPPORTED_IMAGE',
      `${what} is a non-distributable (foreign) layer (${type}); Strato only pulls layers the registry serves`,
    );
  }
  if (type.endsWith('+zstd') || type.endsWith('.zstd')) {
    throw new StratoError(
      'UNSUPPORTED_IMAGE',
      `${what} is zstd-compressed (${type}); rebuild the image with gzip layers`,
    );
  }
  if (!LAYER_TYPES.has(type))
    throw new StratoError('UNSUPPORTED_IMAGE', `${what} has unsupported media type ${type}`);
  return { mediaType: type, digest: checkDigest(layer.digest, what), size: layer.size };
}

function parseJson(bytes: Buffer, what: string): unknown {
  if (bytes.length > MAX_MANIFEST_BYTES) {
    throw new StratoError('IMAGE_TOO_LARGE', `${what} is larger than ${MAX_MANIFEST_BYTES} bytes`);
  }
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new StratoError('INVALID_IMAGE', `${what} is not valid JSON`, { cause: error });
  }
}

function zodMessage(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}

/**
 * Parses a manifest or an index. The kind comes from the JSON's own `mediaType` (covered by the digest),
 * else from the Content-Type the registry sent, else from its shape (OCI makes `mediaType` optional).
 * @throws StratoError INVALID_IMAGE, UNSUPPORTED_IMAGE (schema 1, unknown kinds, zstd/foreign layers), IMAGE_TOO_LARGE
 */
export function parseManifest(bytes: Buffer, contentType?: string): ParsedManifest {
  const headerType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (headerType !== undefined && SCHEMA1_TYPES.has(headerType)) throw schema1();
  const json = parseJson(bytes, 'image manifest');
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new StratoError('INVALID_IMAGE', 'image manifest is not a JSON object');
  }
  const fields = json as Record<string, unknown>;
  if (fields.schemaVersion === 1) throw schema1();
  const declared = typeof fields.mediaType === 'string' ? fields.mediaType : undefined;
  const kind =
    declared ??
    (headerType !== undefined &&
    headerType !== 'application/json' &&
    headerType !== 'application/octet-stream'
      ? headerType
      : 'manifests' in fields
        ? OCI_INDEX
        : OCI_MANIFEST);
  if (SCHEMA1_TYPES.has(kind)) throw schema1();
  if (kind === OCI_INDEX || kind === DOCKER_MANIFEST_LIST) {
    const parsed = indexSchema.safeParse(json);
    if (!parsed.success)
      throw new StratoError('INVALID_IMAGE', `invalid image index: ${zodMessage(parsed.error)}`);
    const manifests = parsed.data.manifests.map((entry, position) => ({
      mediaType: entry.mediaType,
      digest: checkDigest(entry.digest, `index entry ${position + 1}`),
      size: entry.size,
      platform: entry.platform,
      annotations: entry.annotations,
    }));
    return { kind: 'index', index: { mediaType: kind, manifests } };
  }
  if (kind === OCI_MANIFEST || kind === DOCKER_MANIFEST) {
    const parsed = imageManifestSchema.safeParse(json);
    if (!parsed.success)
      throw new StratoError('INVALID_IMAGE', `invalid image manifest: ${zodMessage(parsed.error)}`);
    const { config } = parsed.data;
    if (config.mediaType !== OCI_CONFIG && config.mediaType !== DOCKER_CONFIG) {
      throw new StratoError('UNSUPPORTED_IMAGE', `not a container image: its config is ${config.mediaType}`);
    }
    return {
      kind: 'manifest',
      manifest: {
        mediaType: kind,
        config: {
          mediaType: config.mediaType,
          digest: checkDigest(config.digest, 'image config'),
          size: config.size,
        },
        layers: parsed.data.layers.map(checkLayer),
      },
    };
  }
  throw new StratoError('UNSUPPORTED_IMAGE', `unsupported manifest media type ${kind}`);
}

function schema1(): StratoError {
  return new StratoError(
    'UNSUPPORTED_IMAGE',
    'schema 1 image manifests are not supported; push the image with a current docker or buildah',
  );
}

function isAttestation(entry: IndexEntry): boolean {
  return (
    entry.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
    (entry.platform?.os === 'unknown' && entry.platform.architecture === 'unknown')
  );
}

/**
 * The linux/amd64 entry of an index (the first one; a variant-less one before others). An index whose only
 * real entry has no platform (an OCI layout's index.json usually) yields that entry. Attestations are skipped.
 * @throws StratoError UNSUPPORTED_IMAGE when there is no linux/amd64 image, INVALID_IMAGE when it is ambiguous
 */
export function selectPlatformManifest(index: ImageIndex): IndexEntry {
  const images = index.manifests.filter((entry) => !isAttestation(entry));
  const amd64 = images.filter(
    (entry) => entry.platform?.os === 'linux' && entry.platform.architecture === 'amd64',
  );
  const chosen = amd64.find((entry) => entry.platform?.variant === undefined) ?? amd64[0];
  if (chosen !== undefined) return chosen;
  const unplatformed = images.filter((entry) => entry.platform === undefined);
  if (unplatformed.length === 1 && unplatformed[0] !== undefined) return unplatformed[0];
  if (unplatformed.length > 1) {
    throw new StratoError(
      'INVALID_IMAGE',
      `the image index lists ${unplatformed.length} images without a platform; keep one`,
    );
  }
  const platforms = images.map((entry) => `${entry.platform?.os}/${entry.platform?.architecture}`);
  throw new StratoError(
    'UNSUPPORTED_IMAGE',
    `the image has no linux/amd64 variant (it has ${platforms.length === 0 ? 'none' : platforms.join(', ')})`,
  );
}
