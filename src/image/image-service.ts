import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { FunctionImage, PreparedImage } from '../core/container-image.js';
import type { Store } from '../core/store.js';
import { StratoError } from '../core/strato-error.js';
import { openImageArchive } from './image-archive.js';
import { decodeImageDescriptor, descriptorSha256, encodeImageDescriptor } from './image-descriptor.js';
import { collectGarbage, type GarbageCollectionResult } from './image-gc.js';
import { formatImageReference, parseImageReference } from './image-reference.js';
import {
  DEFAULT_IMAGE_LIMITS,
  type BlobDescriptor,
  type ImageDescriptor,
  type ImageLimits,
  type ImageProgress,
} from './image-types.js';
import { LayerStore } from './layer-store.js';
import { RegistryClient } from './registry-client.js';

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface ImageServiceOptions {
  /** Where versions' descriptors and archive images' layer blobs are kept (artifacts). */
  store: Store;
  /** The node-local cache: unpacked layers and root file systems (can be wiped; everything comes back). */
  cacheDir: string;
  /** Credentials per registry host, for pulls that bring none. */
  registries: Readonly<Record<string, RegistryCredentials>>;
  insecureRegistries: readonly string[];
  limits?: ImageLimits;
  logger: Logger;
}

/** An image made ready on this node and recorded in the store, as the API reports it. */
export interface ImageSummary {
  /** `sha256:<hex>` of the stored descriptor: deploy `{ image: imageId }` runs exactly this image. */
  imageId: string;
  /** The reference as given (`archive` for an uploaded tarball). */
  reference: string;
  manifestDigest: string;
  layers: number;
  /** Compressed bytes of all layers. */
  bytes: number;
}

const IMAGE_ID_PATTERN = /^sha256:([a-f0-9]{64})$/;

/** How long GC keeps an image pulled or imported ahead of a deploy that has not come yet. */
const UNDEPLOYED_GRACE_MS = 10 * 60 * 1000;

/**
 * Container images for functions: pulls from registries (tag resolved to a digest once, at deploy) and
 * imports of `docker save` / OCI-layout tarballs, each recorded as a descriptor artifact in the store; and, on
 * the invoke path, the pinned image's root file system made ready on this node from the layer cache,
 * fetching a missing layer again by digest (from its registry, or from the store for archive images). Layers
 * are unpacked once per node however many versions, functions and concurrent first invocations need them.
 */
export class ImageService {
  private readonly descriptors = new Map<string, ImageDescriptor>();
  /** Images recorded (descriptor sha256 → when) that no deploy has named yet: GC spares them for a while. */
  private readonly undeployed = new Map<string, number>();
  private readonly sharedClient: RegistryClient;

  private constructor(
    private readonly options: ImageServiceOptions,
    private readonly layers: LayerStore,
    private readonly limits: ImageLimits,
  ) {
    this.sharedClient = this.clientWith(undefined);
  }

  static async open(options: ImageServiceOptions): Promise<ImageService> {
    const limits = options.limits ?? DEFAULT_IMAGE_LIMITS;
    await mkdir(options.cacheDir, { recursive: true, mode: 0o700 });
    const layers = await LayerStore.open(options.cacheDir, limits);
    return new ImageService(options, layers, limits);
  }

  /**
   * What a deploy names: a registry reference (pulled now), or the id of an image pulled or imported before.
   * The image is on this node when this resolves, so the version's first instance starts without a pull.
   */
  async resolve(
    image: string,
    auth?: RegistryCredentials,
  ): Promise<{ codeSha256: string; image: FunctionImage }> {
    const byId = IMAGE_ID_PATTERN.exec(image);
    if (byId !== null) {
      const descriptor = await this.descriptorOf(byId[1]!, 'IMAGE_NOT_FOUND');
      await this.ensureRootfs(descriptor);
      this.undeployed.delete(byId[1]!);
      return {
        codeSha256: byId[1]!,
        image: { reference: referenceOf(descriptor), manifestDigest: descriptor.manifestDigest },
      };
    }
    const summary = await this.pull(image, auth);
    this.undeployed.delete(summary.imageId.slice('sha256:'.length));
    return {
      codeSha256: summary.imageId.slice('sha256:'.length),
      image: { reference: summary.reference, manifestDigest: summary.manifestDigest },
    };
  }

  /** Resolves a reference to its digest, pulls what the node lacks, and records the descriptor. */
  async pull(
    image: string,
    auth?: RegistryCredentials,
    onProgress: (event: ImageProgress) => void = () => undefined,
  ): Promise<ImageSummary> {
    const reference = parseImageReference(image);
    const client = auth === undefined ? this.sharedClient : this.clientWith(auth);
    const descriptor = await client.resolveImage(reference);
    onProgress(resolvedEvent(descriptor));
    await this.layers.ensureRootfs(
      descriptor,
      (layer, destination) =>
        client.downloadBlob(
          { registry: reference.registry, repository: reference.repository },
          layer,
          destination,
        ),
      onProgress,
    );
    const summary = await this.record(descriptor, formatImageReference(reference));
    onProgress({ kind: 'done', manifestDigest: descriptor.manifestDigest });
    return summary;
  }

  /**
   * Imports a `docker save` or OCI-layout tarball: its layers are kept in the store (an archive image has no
   * registry to pull from again), unpacked into the cache, and the descriptor recorded.
   */
  async importArchive(
    tarPath: string,
    onProgress: (event: ImageProgress) => void = () => undefined,
  ): Promise<ImageSummary> {
    const workDir = await this.scratchDir();
    try {
      const archive = await openImageArchive(tarPath, workDir, this.limits);
      const descriptor = archive.descriptor;
      onProgress(resolvedEvent(descriptor));
      for (const layer of descriptor.layers) {
        await this.options.store.putArtifact(hexOf(layer), await readFile(archive.blobPath(layer.digest)));
      }
      await this.layers.ensureRootfs(
        descriptor,
        (layer, destination) => copyFile(archive.blobPath(layer.digest), destination),
        onProgress,
      );
      const summary = await this.record(descriptor, 'archive');
      onProgress({ kind: 'done', manifestDigest: descriptor.manifestDigest });
      return summary;
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }

  /** The invoke path's preparer (InstanceSpec.prepareImage): the version's root file system on this node. */
  async prepare(codeSha256: string): Promise<PreparedImage> {
    const descriptor = await this.descriptorOf(codeSha256, 'ARTIFACT_NOT_FOUND');
    const rootfsDir = await this.ensureRootfs(descriptor);
    return { rootfsDir, config: descriptor.config, manifestDigest: descriptor.manifestDigest };
  }

  /** A directory for uploads and archive work, on the cache's file system. */
  async scratchDir(): Promise<string> {
    const root = join(this.options.cacheDir, 'uploads');
    await mkdir(root, { recursive: true, mode: 0o700 });
    return mkdtemp(join(root, 'work-'));
  }

  /**
   * Removes layers and root file systems no version of any function pins, once unused for `graceMs`
   * (default 10 min: covers instances still running a just-deleted version and pulls racing the collection).
   */
  async collectGarbage(options: { graceMs?: number } = {}): Promise<GarbageCollectionResult> {
    const referenced: ImageDescriptor[] = [];
    const pinned = await this.referencedDescriptors();
    const now = Date.now();
    for (const [sha256, at] of this.undeployed) {
      if (now - at < UNDEPLOYED_GRACE_MS) pinned.add(sha256);
      else this.undeployed.delete(sha256);
    }
    for (const sha256 of pinned) {
      referenced.push(await this.descriptorOf(sha256, 'ARTIFACT_NOT_FOUND'));
    }
    const removed = await collectGarbage(
      this.layers,
      referenced,
      options.graceMs === undefined ? {} : { graceMs: options.graceMs },
    );
    this.options.logger.info(
      { removedLayers: removed.removedLayers.length, freedBytes: removed.freedBytes },
      'image cache garbage collected',
    );
    return removed;
  }

  private async ensureRootfs(descriptor: ImageDescriptor): Promise<string> {
    if (descriptor.source.kind === 'archive') {
      return this.layers.ensureRootfs(descriptor, async (layer, destination) => {
        const bytes = await this.options.store.getArtifact(hexOf(layer));
        if (bytes === undefined) {
          throw new StratoError(
            'ARTIFACT_NOT_FOUND',
            `layer ${layer.digest} of an imported image is missing from the store`,
          );
        }
        await writeFile(destination, bytes);
      });
    }
    const source = { registry: descriptor.source.registry, repository: descriptor.source.repository };
    return this.layers.ensureRootfs(descriptor, (layer, destination) =>
      this.sharedClient.downloadBlob(source, layer, destination),
    );
  }

  private async record(descriptor: ImageDescriptor, reference: string): Promise<ImageSummary> {
    const bytes = encodeImageDescriptor(descriptor);
    const sha256 = descriptorSha256(bytes);
    await this.options.store.putArtifact(sha256, bytes);
    this.descriptors.set(sha256, descriptor);
    this.undeployed.set(sha256, Date.now());
    return {
      imageId: `sha256:${sha256}`,
      reference,
      manifestDigest: descriptor.manifestDigest,
      layers: descriptor.layers.length,
      bytes: descriptor.layers.reduce((sum, layer) => sum + layer.size, 0),
    };
  }

  private async descriptorOf(
    sha256: string,
    missing: 'IMAGE_NOT_FOUND' | 'ARTIFACT_NOT_FOUND',
  ): Promise<ImageDescriptor> {
    const cached = this.descriptors.get(sha256);
    if (cached !== undefined) return cached;
    const bytes = await this.options.store.getArtifact(sha256);
    if (bytes === undefined) {
      throw new StratoError(missing, `no image sha256:${sha256} was pulled or imported on this platform`);
    }
    let descriptor: ImageDescriptor;
    try {
      descriptor = decodeImageDescriptor(bytes);
    } catch (error) {
      // A deploy may name any artifact's id (a bundle's, a layer's): that is no image, not a broken store.
      if (missing === 'IMAGE_NOT_FOUND') {
        throw new StratoError('IMAGE_NOT_FOUND', `sha256:${sha256} is not an image pulled or imported here`);
      }
      throw error;
    }
    this.descriptors.set(sha256, descriptor);
    return descriptor;
  }

  /** codeSha256 of every version (of every function) that runs an image. */
  private async referencedDescriptors(): Promise<Set<string>> {
    const store = this.options.store;
    const referenced = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await store.listFunctions({ limit: 500, cursor });
      for (const fn of page.items) {
        let versionCursor: string | undefined;
        do {
          const versions = await store.listVersions(fn.name, { limit: 500, cursor: versionCursor });
          for (const version of versions.items) {
            if (version.config.image !== undefined) referenced.add(version.codeSha256);
          }
          versionCursor = versions.next ?? undefined;
        } while (versionCursor !== undefined);
      }
      cursor = page.next ?? undefined;
    } while (cursor !== undefined);
    return referenced;
  }

  private clientWith(auth: RegistryCredentials | undefined): RegistryClient {
    const configured = this.options.registries;
    return new RegistryClient({
      credentials: (registry) => auth ?? configured[registry],
      insecureRegistries: this.options.insecureRegistries,
      limits: this.limits,
    });
  }
}

function referenceOf(descriptor: ImageDescriptor): string {
  const source = descriptor.source;
  if (source.kind === 'archive') return 'archive';
  return `${source.registry}/${source.repository}${source.tag === undefined ? '' : `:${source.tag}`}`;
}

function resolvedEvent(descriptor: ImageDescriptor): ImageProgress {
  return {
    kind: 'resolved',
    manifestDigest: descriptor.manifestDigest,
    layers: descriptor.layers.length,
    bytes: descriptor.layers.reduce((sum, layer) => sum + layer.size, 0),
  };
}

function hexOf(layer: BlobDescriptor): string {
  return layer.digest.slice('sha256:'.length);
}
