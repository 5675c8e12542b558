// Uploaded image tarballs: an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/<hex>`; also what
// Docker 25+ `docker save` writes alongside its manifest.json) or a classic `docker save` (manifest.json
// with Config, RepoTags and Layers). Either becomes an ImageDescriptor with `source: { kind: 'archive' }`
// whose blobs sit verified in the work dir, named by digest.
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { StratoError } from '../core/strato-error.js';
import {
  readArchiveEntries,
  resolveEntry,
  type ArchiveEntries,
  type ArchiveFile,
} from './archive-entries.js';
import { buildImageDescriptor, MAX_CONFIG_BYTES } from './image-config.js';
import { sha256Digest } from './hashed-file.js';
import {
  DEFAULT_IMAGE_LIMITS,
  type BlobDescriptor,
  type Digest,
  type ImageDescriptor,
  type ImageLimits,
} from './image-types.js';
import {
  MAX_MANIFEST_BYTES,
  OCI_CONFIG,
  OCI_LAYER_GZIP,
  OCI_LAYER_TAR,
  OCI_MANIFEST,
  parseManifest,
  selectPlatformManifest,
  type ImageManifest,
} from './manifest.js';

export interface ImageArchive {
  descriptor: ImageDescriptor;
  /** The verified file of a blob of the descriptor (its config or a layer), in the work dir. */
  blobPath(digest: string): string;
}

// Not strict: Docker adds fields over time (LayerSources, ...).
const dockerSaveManifestSchema = z
  .array(
    z.object({
      Config: z.string().min(1),
      RepoTags: z.array(z.string()).nullish(),
      Layers: z.array(z.string().min(1)).max(1000),
    }),
  )
  .min(1);

const MAX_INDEX_DEPTH = 2;

/**
 * Reads a `docker save` or OCI-layout tarball (plain or gzipped) at `tarPath` into `workDir`: the blobs the
 * image uses end up as `workDir/blobs/<hex>`, checked against their digests (layers keep the digest of the
 * bytes as stored; the layer cache checks diff_ids when it unpacks). Nothing else of the archive is kept.
 * @throws StratoError INVALID_IMAGE (not an image archive, unsafe names, missing or tampered blobs),
 *   UNSUPPORTED_IMAGE, IMAGE_TOO_LARGE
 */
export async function openImageArchive(
  tarPath: string,
  workDir: string,
  limits: ImageLimits = DEFAULT_IMAGE_LIMITS,
): Promise<ImageArchive> {
  const incomingDir = path.join(workDir, 'incoming');
  const blobsDir = path.join(workDir, 'blobs');
  await mkdir(incomingDir, { recursive: true });
  try {
    const entries = await readArchiveEntries(tarPath, incomingDir, limits);
    const { descriptor, blobs } = entries.metadata.has('index.json')
      ? await fromOciLayout(entries, limits)
      : entries.metadata.has('manifest.json')
        ? await fromDockerSave(entries, limits)
        : noManifest();
    await mkdir(blobsDir, { recursive: true });
    const kept = new Set<string>();
    for (const [digest, file] of blobs) {
      await rename(file.filePath, path.join(blobsDir, hexOf(digest)));
      kept.add(digest);
    }
    return {
      descriptor,
      blobPath: (digest) => {
        if (!kept.has(digest))
          throw new StratoError('INVALID_IMAGE', `${digest} is not a blob of this image`);
        return path.join(blobsDir, hexOf(digest as Digest));
      },
    };
  } catch (error) {
    await rm(blobsDir, { recursive: true, force: true });
    throw error;
  } finally {
    await rm(incomingDir, { recursive: true, force: true });
  }
}

function noManifest(): never {
  throw new StratoError(
    'INVALID_IMAGE',
    'the archive has neither manifest.json (docker save) nor index.json (OCI image layout)',
  );
}

function hexOf(digest: Digest): string {
  return digest.slice('sha256:'.length);
}

type Blobs = Map<Digest, ArchiveFile>;

async function fromOciLayout(
  entries: ArchiveEntries,
  limits: ImageLimits,
): Promise<{ descriptor: ImageDescriptor; blobs: Blobs }> {
  const blobs: Blobs = new Map();
  /** A blob by digest: present under blobs/sha256/<hex>, of the size its descriptor says, hashing to it. */
  const blob = (descriptor: BlobDescriptor, what: string): ArchiveFile => {
    const file = resolveEntry(entries, `blobs/sha256/${hexOf(descriptor.digest)}`);
    if (file === undefined)
      throw new StratoError('INVALID_IMAGE', `the archive is missing ${what} ${descriptor.digest}`);
    if (file.digest !== descriptor.digest || file.size !== descriptor.size) {
      throw new StratoError(
        'INVALID_IMAGE',
        `${what} ${descriptor.digest} in the archive does not match its digest or size`,
      );
    }
    return file;
  };
  let parsed = parseManifest(entries.metadata.get('index.json') ?? Buffer.alloc(0));
  if (parsed.kind !== 'index')
    throw new StratoError('INVALID_IMAGE', "the archive's index.json is not an image index");
  let manifestDigest: Digest | undefined;
  for (let depth = 0; parsed.kind === 'index'; depth += 1) {
    if (depth > MAX_INDEX_DEPTH)
      throw new StratoError('INVALID_IMAGE', 'the archive nests image indexes too deep');
    const entry = selectPlatformManifest(parsed.index);
    const file = blob(entry, 'manifest');
    manifestDigest = entry.digest;
    parsed = parseManifest(await readBounded(file, MAX_MANIFEST_BYTES, 'manifest'));
  }
  const manifest = parsed.manifest;
  const configFile = blob(manifest.config, 'image config');
  blobs.set(manifest.config.digest, configFile);
  manifest.layers.forEach((layer, position) => blobs.set(layer.digest, blob(layer, `layer ${position + 1}`)));
  const descriptor = buildImageDescriptor({
    source: { kind: 'archive' },
    manifestDigest: manifestDigest ?? noManifest(),
    manifest,
    configBytes: await readBounded(configFile, MAX_CONFIG_BYTES, 'image config'),
    limits,
  });
  return { descriptor, blobs };
}

async function fromDockerSave(
  entries: ArchiveEntries,
  limits: ImageLimits,
): Promise<{ descriptor: ImageDescriptor; blobs: Blobs }> {
  let json: unknown;
  try {
    json = JSON.parse((entries.metadata.get('manifest.json') ?? Buffer.alloc(0)).toString('utf8'));
  } catch (error) {
    throw new StratoError('INVALID_IMAGE', "the archive's manifest.json is not valid JSON", { cause: error });
  }
  const parsed = dockerSaveManifestSchema.safeParse(json);
  if (!parsed.success)
    throw new StratoError('INVALID_IMAGE', "the archive's manifest.json is not a docker save manifest");
  const [image, ...others] = parsed.data;
  if (image === undefined || others.length > 0) {
    throw new StratoError(
      'INVALID_IMAGE',
      `the archive holds ${parsed.data.length} images; save exactly one`,
    );
  }
  const named = (name: string, what: string): ArchiveFile => {
    const file = resolveEntry(entries, normalizedName(name));
    if (file === undefined)
      throw new StratoError('INVALID_IMAGE', `the archive is missing ${what} ${name.slice(0, 200)}`);
    // Where the name carries a digest (blobs/sha256/<hex>, <hex>.json), the bytes must hash to it.
    const claimed = /(?:^|\/)(?:sha256\/)?([a-f0-9]{64})(?:\.json)?$/.exec(normalizedName(name))?.[1];
    if (claimed !== undefined && file.digest !== `sha256:${claimed}`) {
      throw new StratoError(
        'INVALID_IMAGE',
        `${what} ${name.slice(0, 200)} in the archive does not match its digest`,
      );
    }
    return file;
  };
  const configFile = named(image.Config, 'image config');
  const layerFiles = image.Layers.map((name, position) => named(name, `layer ${position + 1}`));
  const layers: BlobDescriptor[] = [];
  for (const [position, file] of layerFiles.entries()) {
    layers.push({ mediaType: await sniffLayerType(file, position), digest: file.digest, size: file.size });
  }
  const manifest: ImageManifest = {
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: configFile.digest, size: configFile.size },
    layers,
  };
  const blobs: Blobs = new Map([[configFile.digest, configFile]]);
  layerFiles.forEach((file) => blobs.set(file.digest, file));
  const descriptor = buildImageDescriptor({
    source: { kind: 'archive' },
    manifestDigest: sha256Digest(canonicalManifest(manifest)),
    manifest,
    configBytes: await readBounded(configFile, MAX_CONFIG_BYTES, 'image config'),
    limits,
  });
  return { descriptor, blobs };
}

function normalizedName(name: string): string {
  return name.replace(/^(\.\/)+/, '');
}

/**
 * docker save has no registry manifest; this is the OCI manifest a registry would hold for it, in one fixed
 * form (keys in spec order, no whitespace), so the same archive always yields the same manifest digest.
 */
export function canonicalManifest(manifest: ImageManifest): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: {
        mediaType: manifest.config.mediaType,
        digest: manifest.config.digest,
        size: manifest.config.size,
      },
      layers: manifest.layers.map((layer) => ({
        mediaType: layer.mediaType,
        digest: layer.digest,
        size: layer.size,
      })),
    }),
  );
}

/** docker save names no media types: gzip and plain tar are told apart by their first bytes. */
async function sniffLayerType(file: ArchiveFile, position: number): Promise<string> {
  const handle = await open(file.filePath, 'r');
  const magic = Buffer.alloc(4);
  try {
    await handle.read(magic, 0, 4, 0);
  } finally {
    await handle.close();
  }
  if (magic.equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) {
    throw new StratoError(
      'UNSUPPORTED_IMAGE',
      `layer ${position + 1} is zstd-compressed; save the image with gzip or plain layers`,
    );
  }
  return magic[0] === 0x1f && magic[1] === 0x8b ? OCI_LAYER_GZIP : OCI_LAYER_TAR;
}

async function readBounded(file: ArchiveFile, maxBytes: number, what: string): Promise<Buffer> {
  if (file.size > maxBytes)
    throw new StratoError('IMAGE_TOO_LARGE', `the archive's ${what} is larger than ${maxBytes} bytes`);
  return readFile(file.filePath);
}
