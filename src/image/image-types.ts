import type { ImageRunConfig } from '../core/container-image.js';

// The shapes every part of the image module agrees on: what a registry or an archive yields, what the
// layer store keeps, and what a function version pins (the ImageDescriptor, stored as an artifact).

/** `sha256:<64 hex>`: the only digest algorithm Strato accepts. */
export type Digest = `sha256:${string}`;

export const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;

/** A parsed image reference (`127.0.0.1:5000/team/fn:tag`, `host/repo@sha256:...`). */
export interface ImageReference {
  /** `host[:port]`; Docker Hub's default (`docker.io`) is never assumed: a reference must name its registry. */
  registry: string;
  /** `team/fn`: lowercase path components. */
  repository: string;
  tag?: string | undefined;
  digest?: Digest | undefined;
}

/** A blob of an image manifest (a layer or the config). */
export interface BlobDescriptor {
  mediaType: string;
  digest: Digest;
  size: number;
}

export type { ImageRunConfig } from '../core/container-image.js';

/**
 * What a function version pins: the resolved image, by digest. Stored (as canonical JSON) as the version's
 * code artifact, so a version never changes when a tag moves.
 */
export interface ImageDescriptor {
  /** Where it came from: `registry` images can be pulled again on any node by digest; `archive` ones cannot. */
  source:
    | { kind: 'registry'; registry: string; repository: string; tag?: string | undefined }
    | { kind: 'archive' };
  manifestDigest: Digest;
  configDigest: Digest;
  /** Bottom layer first. */
  layers: BlobDescriptor[];
  /** The image config's `rootfs.diff_ids`: sha256 of each layer's uncompressed tar, checked when unpacking. */
  diffIds: Digest[];
  config: ImageRunConfig;
  platform: { os: string; architecture: string };
}

/** Progress of a pull or an import, for the CLI's output. */
export type ImageProgress =
  | { kind: 'resolved'; manifestDigest: Digest; layers: number; bytes: number }
  | { kind: 'layer'; digest: Digest; size: number; state: 'cached' | 'fetched' | 'unpacked' }
  | { kind: 'done'; manifestDigest: Digest };

/** Limits against layer bombs and oversized images, enforced while streaming. */
export interface ImageLimits {
  /** Compressed bytes of one blob. @default 2 GiB */
  maxBlobBytes: number;
  /** Uncompressed bytes of one layer. @default 4 GiB */
  maxLayerBytes: number;
  /** Entries of one layer. @default 200,000 */
  maxLayerEntries: number;
  /** Uncompressed / compressed. @default 200 */
  maxCompressionRatio: number;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = {
  maxBlobBytes: 2 * 1024 ** 3,
  maxLayerBytes: 4 * 1024 ** 3,
  maxLayerEntries: 200_000,
  maxCompressionRatio: 200,
};
