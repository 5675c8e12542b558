// The core of the test image builder: layers as tars of entries written verbatim (so a test can build a
// malicious layer), the image config and manifest with their exact bytes and digests, and image indexes.
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import type { BuiltImage } from './oci-image-types.js';

export type { BuiltImage } from './oci-image-types.js';

export type Digest = `sha256:${string}`;

/** One tar entry of a layer, written exactly as given (no path normalisation, no safety checks). */
export interface LayerEntry {
  /** The tar entry name as written (`usr/bin/busybox`, `../escape`, `/abs`, `a/.wh.b`, ...). */
  path: string;
  /** @default 'file' */
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'fifo';
  /** File contents (files only). @default empty */
  content?: string | Buffer;
  /** Permission bits (and setuid/setgid/sticky). @default 0o644 for files and hardlinks, 0o755 for dirs, 0o777 for symlinks */
  mode?: number;
  /** Target of a symlink (as written) or hardlink (an entry name of the archive). */
  linkname?: string;
  /** @default 0 */
  uid?: number;
  /** @default 0 */
  gid?: number;
  /** Device numbers of a `char` entry. @default 0 */
  devmajor?: number;
  devminor?: number;
}

/** The entries of one layer, in archive order. */
export type LayerSpec = LayerEntry[];

/** The runnable part of the image config (`config` of the config JSON). Omitted fields are left out of the JSON. */
export interface ImageConfigSpec {
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
}

export interface BuildImageOptions {
  layers: LayerSpec[];
  config?: ImageConfigSpec;
  /** Gzip the layers (`…tar+gzip`) or store plain tars (`…tar`). @default true */
  gzip?: boolean;
  /**
   * `oci`: OCI manifest and media types. `docker`: Docker v2 schema2 manifest
   * (`application/vnd.docker.distribution.manifest.v2+json`, gzip layers as `…rootfs.diff.tar.gzip`).
   * @default 'oci'
   */
  format?: 'oci' | 'docker';
  /** Overrides every layer's media type in the manifest (bytes unchanged), e.g. to claim zstd. */
  layerMediaType?: string;
  /** The config's `os`/`architecture`. @default { os: 'linux', architecture: 'amd64' } */
  platform?: { os: string; architecture: string };
  /** Overrides the config's `rootfs.diff_ids` (to build an inconsistent image). */
  diffIds?: string[];
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

/** A fixed mtime, so the same spec always yields the same bytes and digests. */
const EPOCH = new Date('2024-01-01T00:00:00Z');

export function sha256Digest(bytes: Buffer): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function hexOf(digest: Digest): string {
  return digest.slice('sha256:'.length);
}

const tarTypes = {
  file: 'file',
  dir: 'directory',
  symlink: 'symlink',
  hardlink: 'link',
  char: 'character-device',
  fifo: 'fifo',
} as const;

/** A tar of `entries` exactly as given (gzipped when `gzip`, deterministic bytes). */
export async function layerTar(entries: LayerSpec, gzip = true): Promise<Buffer> {
  const plain = await tarOf(entries);
  return gzip ? gzipSync(plain) : plain;
}

/** A plain tar of `entries` exactly as given (deterministic bytes). */
export async function tarOf(entries: LayerSpec): Promise<Buffer> {
  const pack = tar.pack();
  const collected = collect(pack);
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const content = type === 'file' ? toBuffer(entry.content ?? '') : undefined;
    const header: Partial<tar.Header> & { name: string } = {
      name: entry.path,
      type: tarTypes[type],
      mode: entry.mode ?? (type === 'dir' ? 0o755 : type === 'symlink' ? 0o777 : 0o644),
      uid: entry.uid ?? 0,
      gid: entry.gid ?? 0,
      mtime: EPOCH,
      size: content?.length ?? 0,
      linkname: entry.linkname ?? '',
      devmajor: entry.devmajor ?? 0,
      devminor: entry.devminor ?? 0,
    };
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error | null) => (error ? reject(error) : resolve());
      if (content === undefined) pack.entry(header, done);
      else pack.entry(header, content, done);
    });
  }
  pack.finalize();
  return collected;
}

function toBuffer(content: string | Buffer): Buffer {
  return typeof content === 'string' ? Buffer.from(content) : content;
}

function collect(stream: tar.Pack): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/**
 * Builds an image: each layer as a tar (gzip by default), the config JSON with `rootfs.diff_ids`, and the
 * manifest, all with their exact bytes and sha256 digests. The manifest is canonical JSON (no whitespace,
 * keys in the order schemaVersion, mediaType, config, layers), the same form Strato synthesizes for a
 * docker-save archive, so both yield the same manifest digest.
 */
export async function buildImage(options: BuildImageOptions): Promise<BuiltImage> {
  const gzip = options.gzip ?? true;
  const format = options.format ?? 'oci';
  const layers: BuiltImage['layers'] = [];
  for (const spec of options.layers) {
    const plain = await tarOf(spec);
    const bytes = gzip ? gzipSync(plain) : plain;
    const mediaType =
      options.layerMediaType ??
      (format === 'docker' ? DOCKER_LAYER_GZIP : gzip ? OCI_LAYER_GZIP : OCI_LAYER_TAR);
    layers.push({ digest: sha256Digest(bytes), mediaType, bytes, diffId: sha256Digest(plain) });
  }
  const run = options.config ?? {};
  const runConfig: Record<string, unknown> = {};
  if (run.user !== undefined) runConfig.User = run.user;
  if (run.env !== undefined) runConfig.Env = run.env;
  if (run.entrypoint !== undefined) runConfig.Entrypoint = run.entrypoint;
  if (run.cmd !== undefined) runConfig.Cmd = run.cmd;
  if (run.workingDir !== undefined) runConfig.WorkingDir = run.workingDir;
  const platform = options.platform ?? { os: 'linux', architecture: 'amd64' };
  const config = Buffer.from(
    JSON.stringify({
      created: EPOCH.toISOString(),
      architecture: platform.architecture,
      os: platform.os,
      config: runConfig,
      rootfs: { type: 'layers', diff_ids: options.diffIds ?? layers.map((layer) => layer.diffId) },
      history: layers.map(() => ({ created: EPOCH.toISOString(), created_by: 'oci-image-builder' })),
    }),
  );
  const configDigest = sha256Digest(config);
  const manifestMediaType = format === 'docker' ? DOCKER_MANIFEST : OCI_MANIFEST;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: manifestMediaType,
      config: {
        mediaType: format === 'docker' ? DOCKER_CONFIG : OCI_CONFIG,
        digest: configDigest,
        size: config.length,
      },
      layers: layers.map((layer) => ({
        mediaType: layer.mediaType,
        digest: layer.digest,
        size: layer.bytes.length,
      })),
    }),
  );
  return {
    manifest,
    manifestDigest: sha256Digest(manifest),
    manifestMediaType,
    config,
    configDigest,
    layers,
  };
}

/** An image index (or Docker manifest list): exact bytes, digest and media type. */
export interface BuiltIndex {
  bytes: Buffer;
  digest: Digest;
  mediaType: string;
}

export interface IndexEntry {
  image: BuiltImage;
  platform: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

/**
 * An OCI image index (or, with `format: 'docker'`, a manifest list) over `entries`. An attestation entry as
 * BuildKit writes it is `{ platform: { os: 'unknown', architecture: 'unknown' }, annotations:
 * { 'vnd.docker.reference.type': 'attestation-manifest', ... } }`.
 */
export function buildIndex(entries: IndexEntry[], format: 'oci' | 'docker' = 'oci'): BuiltIndex {
  const mediaType = format === 'docker' ? DOCKER_MANIFEST_LIST : OCI_INDEX;
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: entries.map((entry) => ({
        mediaType: entry.image.manifestMediaType,
        digest: entry.image.manifestDigest,
        size: entry.image.manifest.length,
        platform: entry.platform,
        ...(entry.annotations === undefined ? {} : { annotations: entry.annotations }),
      })),
    }),
  );
  return { bytes, digest: sha256Digest(bytes), mediaType };
}

/** `image` with these layers (config diff_ids and manifest rebuilt, everything else kept). */
export function withLayers(image: BuiltImage, layers: BuiltImage['layers']): BuiltImage {
  const configJson = JSON.parse(image.config.toString('utf8')) as { rootfs: { diff_ids: string[] } };
  configJson.rootfs.diff_ids = layers.map((layer) => layer.diffId);
  const config = Buffer.from(JSON.stringify(configJson));
  const parsed = JSON.parse(image.manifest.toString('utf8')) as { config: { mediaType: string } };
  // Same key order as buildImage writes, so the manifest stays canonical.
  const manifest = Buffer.from(
    JSON.stringify({
      ...parsed,
      config: { mediaType: parsed.config.mediaType, digest: sha256Digest(config), size: config.length },
      layers: layers.map((layer) => ({
        mediaType: layer.mediaType,
        digest: layer.digest,
        size: layer.bytes.length,
      })),
    }),
  );
  return {
    ...image,
    manifest,
    manifestDigest: sha256Digest(manifest),
    config,
    configDigest: sha256Digest(config),
    layers,
  };
}

/** `image` with every gzip layer stored as its plain tar (`…layer.v1.tar`; digest = diff_id). */
export function uncompressedImage(image: BuiltImage): BuiltImage {
  return withLayers(
    image,
    image.layers.map((layer) => {
      if (!(layer.bytes[0] === 0x1f && layer.bytes[1] === 0x8b)) return layer;
      const bytes = gunzipSync(layer.bytes);
      return { digest: sha256Digest(bytes), mediaType: OCI_LAYER_TAR, bytes, diffId: layer.diffId };
    }),
  );
}
