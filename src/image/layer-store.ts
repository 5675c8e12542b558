import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { StratoError } from '../core/strato-error.js';
import {
  DEFAULT_IMAGE_LIMITS,
  DIGEST_PATTERN,
  type BlobDescriptor,
  type Digest,
  type ImageDescriptor,
  type ImageLimits,
  type ImageProgress,
} from './image-types.js';
import { unpackLayer } from './layer-unpack.js';
import { flattenLayers } from './rootfs-assembly.js';

/** Puts one layer blob, verified against its digest, at `destinationPath` (a file that does not exist yet). */
export type LayerBlobFetcher = (destinationPath: string) => Promise<void>;
/** {@link LayerBlobFetcher} for any layer of an image. */
export type ImageBlobFetcher = (layer: BlobDescriptor, destinationPath: string) => Promise<void>;

/** A cached layer, as garbage collection sees it. */
export interface CachedLayer {
  diffId: Digest;
  /** Uncompressed tar bytes: about what removing the layer frees once no rootfs links its files. */
  bytes: number;
  /** When it was unpacked or last found in the cache by an ensure call (epoch ms). */
  lastUsedMs: number;
}

/** An assembled root file system, as garbage collection sees it. */
export interface CachedRootfs {
  manifestDigest: Digest;
  dir: string;
  /** When it was assembled or last returned by {@link LayerStore.ensureRootfs} (epoch ms). */
  lastUsedMs: number;
}

export interface LayerStoreStats {
  /** Layers unpacked by this store (cache misses that succeeded). */
  layersUnpacked: number;
  /** Root file systems assembled by this store. */
  rootfsAssembled: number;
  /** Calls of a blob fetcher, failed ones included. */
  fetches: number;
}

export interface LayerStoreOptions {
  /** Layers of one image fetched and unpacked at the same time. @default 3 */
  layerConcurrency?: number;
}

/** What `<root>/layers/<hex>.json` records next to an unpacked layer; its presence marks the layer complete. */
const layerRecordSchema = z.strictObject({
  diffId: z.string().regex(DIGEST_PATTERN),
  /** The blob it was unpacked from (another blob with the same diff_id would give the same tree). */
  blobDigest: z.string().regex(DIGEST_PATTERN),
  mediaType: z.string(),
  entries: z.number().int().min(0),
  bytes: z.number().int().min(0),
  whiteouts: z.array(z.string()),
  opaqueDirs: z.array(z.string()),
});
type LayerRecord = z.infer<typeof layerRecordSchema>;

const HEX_PATTERN = /^[a-f0-9]{64}$/;
const SIDECAR_SUFFIX = '.json';

interface RootfsFlight {
  promise: Promise<string>;
  /** Progress goes to every caller waiting on the flight, not only to the one that started it. */
  listeners: Set<(event: ImageProgress) => void>;
}

/**
 * The node-local layer cache: one content-addressed store of unpacked layers shared by all functions and
 * versions, and root file systems assembled from them.
 *
 * Layout under `root` (one file system, which the hardlinks of a rootfs require):
 * - `layers/<diffId hex>/`: an unpacked layer, keyed by its diff_id (the sha256 of the uncompressed tar,
 *   checked while unpacking), so the same content pulled under two compressions is stored once;
 * - `layers/<diffId hex>.json`: its record (whiteouts, opaque dirs, size); written last, removed first,
 *   so a layer directory without one is a leftover and never used;
 * - `rootfs/<manifest hex>/`: an image's flattened root file system, files hardlinked to the layers';
 * - `tmp/`: work in progress, wiped at open. Everything is built there and renamed into place, so a crash
 *   never leaves a half layer or half rootfs that later looks complete.
 *
 * Each layer and each rootfs is built once however many callers ask at the same time (single flight per
 * digest); a failure is not remembered, the next call tries again. One process owns a root at a time.
 */
export class LayerStore {
  private readonly layerFlights = new Map<string, Promise<{ state: 'cached' | 'unpacked' }>>();
  private readonly rootfsFlights = new Map<string, RootfsFlight>();
  /** Layers an ensure call is working with (count per diff_id hex); garbage collection leaves them alone. */
  private readonly layerPins = new Map<string, number>();
  /** Removals in progress (`layer:<hex>`, `rootfs:<hex>`); an ensure call for the same entry waits for them. */
  private readonly removals = new Map<string, Promise<void>>();
  private readonly counters: LayerStoreStats = { layersUnpacked: 0, rootfsAssembled: 0, fetches: 0 };
  private readonly ownership = process.getuid?.() === 0;

  private constructor(
    readonly root: string,
    private readonly limits: ImageLimits,
    private readonly layerConcurrency: number,
  ) {}

  /**
   * Opens (creating) the store at `root`, removing what a crash may have left: temp dirs, layer dirs
   * without their record, records without their dir.
   *
   * @param limits @default DEFAULT_IMAGE_LIMITS
   */
  static async open(
    root: string,
    limits: Partial<ImageLimits> = {},
    options: LayerStoreOptions = {},
  ): Promise<LayerStore> {
    const absoluteRoot = path.resolve(root);
    const store = new LayerStore(
      absoluteRoot,
      { ...DEFAULT_IMAGE_LIMITS, ...definedOnly(limits) },
      options.layerConcurrency ?? 3,
    );
    // The root and rootfs/ are traversable: the container tier may reach a rootfs from a less privileged
    // context. Raw layers and work in progress are ours alone.
    await mkdir(absoluteRoot, { recursive: true, mode: 0o755 });
    await mkdir(store.layersDir, { recursive: true, mode: 0o700 });
    await mkdir(store.rootfsParentDir, { recursive: true, mode: 0o755 });
    await mkdir(store.tmpDir, { recursive: true, mode: 0o700 });
    await store.removeLeftovers();
    return store;
  }

  /** Counters since open, for tests and metrics. */
  stats(): LayerStoreStats {
    return { ...this.counters };
  }

  /** Where the layer with this diff_id is (or would be) unpacked. */
  layerDir(diffId: Digest): string {
    return path.join(this.layersDir, hexOf(diffId, 'diff_id'));
  }

  /** Where the rootfs of the image with this manifest digest is (or would be) assembled. */
  rootfsDir(manifestDigest: Digest): string {
    return path.join(this.rootfsParentDir, hexOf(manifestDigest, 'manifest digest'));
  }

  /**
   * Makes sure the layer with `diffId` is unpacked, fetching its blob with `fetchBlob` into a temp file
   * (deleted after unpacking) when it is not. Concurrent calls for one diff_id share one fetch and unpack.
   */
  // async only so that a bad digest rejects rather than throws; everything up to the flight's
  // registration runs synchronously, which is what makes the single flight race-free.
  async ensureLayer(
    layer: BlobDescriptor,
    diffId: Digest,
    fetchBlob: LayerBlobFetcher,
  ): Promise<{ state: 'cached' | 'unpacked' }> {
    hexOf(layer.digest, 'layer digest');
    const hex = hexOf(diffId, 'diff_id');
    const running = this.layerFlights.get(hex);
    if (running !== undefined) return running;
    const flight = this.unpackOnce(layer, diffId, hex, fetchBlob).finally(() =>
      this.layerFlights.delete(hex),
    );
    this.layerFlights.set(hex, flight);
    return flight;
  }

  /**
   * The directory of `image`'s root file system, assembling it first (and unpacking its missing layers,
   * up to `layerConcurrency` at a time) when it is not there yet. Concurrent calls for one manifest digest
   * share one assembly. `onProgress` gets a `layer` event per layer (`fetched`, then `unpacked`, or
   * `cached`); `resolved` and `done` are the caller's to send. The directory must be mounted read-only.
   */
  async ensureRootfs(
    image: ImageDescriptor,
    fetchBlob: ImageBlobFetcher,
    onProgress?: (event: ImageProgress) => void,
  ): Promise<string> {
    const hex = this.validateImage(image);
    const running = this.rootfsFlights.get(hex);
    if (running !== undefined) {
      if (onProgress !== undefined) running.listeners.add(onProgress);
      return running.promise;
    }
    const listeners = new Set<(event: ImageProgress) => void>();
    if (onProgress !== undefined) listeners.add(onProgress);
    const report = (event: ImageProgress): void => {
      for (const listener of listeners) {
        try {
          listener(event);
        } catch {
          // A caller's progress output failing (a closed terminal) must not fail a build others share.
        }
      }
    };
    const promise = this.assembleOnce(image, hex, fetchBlob, report).finally(() =>
      this.rootfsFlights.delete(hex),
    );
    this.rootfsFlights.set(hex, { promise, listeners });
    return promise;
  }

  /** Every complete layer in the cache. */
  async listLayers(): Promise<CachedLayer[]> {
    const layers: CachedLayer[] = [];
    for (const name of await readdir(this.layersDir)) {
      const hex = name.endsWith(SIDECAR_SUFFIX) ? name.slice(0, -SIDECAR_SUFFIX.length) : undefined;
      if (hex === undefined || !HEX_PATTERN.test(hex)) continue;
      let lastUsedMs: number;
      try {
        lastUsedMs = (await stat(this.recordPath(hex))).mtimeMs;
      } catch (error) {
        // Removed since readdir (a concurrent removal): not a cached layer any more.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      const record = await this.readRecordIfValid(hex);
      layers.push({ diffId: `sha256:${hex}`, bytes: record?.bytes ?? 0, lastUsedMs });
    }
    return layers;
  }

  /** Every assembled root file system in the cache. */
  async listRootfs(): Promise<CachedRootfs[]> {
    const found: CachedRootfs[] = [];
    for (const name of await readdir(this.rootfsParentDir)) {
      if (!HEX_PATTERN.test(name)) continue;
      const dir = path.join(this.rootfsParentDir, name);
      try {
        found.push({ manifestDigest: `sha256:${name}`, dir, lastUsedMs: (await stat(dir)).mtimeMs });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    return found;
  }

  /**
   * Removes a cached layer unless an ensure call is using it right now, in which case it is kept and
   * `undefined` returned. Resolves to the layer's uncompressed bytes when it removed it, 0 when it was
   * not there.
   */
  async removeLayer(diffId: Digest): Promise<number | undefined> {
    const hex = hexOf(diffId, 'diff_id');
    // Decided synchronously: an ensure call pins its layers before its first await, so either it pinned
    // first and the layer stays, or the removal is registered first and the ensure call waits for it.
    if ((this.layerPins.get(hex) ?? 0) > 0 || this.layerFlights.has(hex)) return undefined;
    return this.trackRemoval(`layer:${hex}`, async () => {
      const bytes = (await this.readRecordIfValid(hex))?.bytes ?? 0;
      // The record goes first: from then on the layer is incomplete, whatever happens to the rest.
      await rm(this.recordPath(hex), { force: true });
      await this.discard(path.join(this.layersDir, hex));
      return bytes;
    });
  }

  /**
   * Removes an assembled rootfs unless an ensureRootfs call is building it right now (then `false`).
   * Instances already running on it keep their mount; the caller must not remove a rootfs a live instance
   * may still start on (garbage collection's grace period is for that).
   */
  async removeRootfs(manifestDigest: Digest): Promise<boolean> {
    const hex = hexOf(manifestDigest, 'manifest digest');
    if (this.rootfsFlights.has(hex)) return false;
    return this.trackRemoval(`rootfs:${hex}`, async () => {
      await this.discard(path.join(this.rootfsParentDir, hex));
      return true;
    });
  }

  private get layersDir(): string {
    return path.join(this.root, 'layers');
  }

  private get rootfsParentDir(): string {
    return path.join(this.root, 'rootfs');
  }

  private get tmpDir(): string {
    return path.join(this.root, 'tmp');
  }

  private recordPath(hex: string): string {
    return path.join(this.layersDir, `${hex}${SIDECAR_SUFFIX}`);
  }

  private async unpackOnce(
    layer: BlobDescriptor,
    diffId: Digest,
    hex: string,
    fetchBlob: LayerBlobFetcher,
  ): Promise<{ state: 'cached' | 'unpacked' }> {
    const unpin = this.pin([hex]);
    try {
      await this.removals.get(`layer:${hex}`);
      const layerDir = path.join(this.layersDir, hex);
      if (await this.hasLayer(hex)) {
        await touch(this.recordPath(hex));
        return { state: 'cached' };
      }
      const work = await mkdtemp(path.join(this.tmpDir, `layer-${hex.slice(0, 12)}-`));
      try {
        const blobPath = path.join(work, 'blob');
        const treeDir = path.join(work, 'tree');
        const recordFile = path.join(work, 'record.json');
        this.counters.fetches += 1;
        await fetchBlob(blobPath);
        const unpacked = await unpackLayer(blobPath, layer.mediaType, treeDir, diffId, this.limits);
        // The blob is not kept: the unpacked tree is the cache, and the blob can be fetched again.
        await rm(blobPath, { force: true });
        const record: LayerRecord = {
          diffId,
          blobDigest: layer.digest,
          mediaType: layer.mediaType,
          entries: unpacked.entries,
          bytes: unpacked.bytes,
          whiteouts: unpacked.whiteouts,
          opaqueDirs: unpacked.opaqueDirs,
        };
        await writeFile(recordFile, JSON.stringify(record), { mode: 0o600 });
        // A directory without its record is a leftover of a crash between the two renames below.
        await rm(layerDir, { recursive: true, force: true });
        await rename(treeDir, layerDir);
        await rename(recordFile, this.recordPath(hex));
      } finally {
        await rm(work, { recursive: true, force: true });
      }
      this.counters.layersUnpacked += 1;
      return { state: 'unpacked' };
    } finally {
      unpin();
    }
  }

  private async assembleOnce(
    image: ImageDescriptor,
    hex: string,
    fetchBlob: ImageBlobFetcher,
    report: (event: ImageProgress) => void,
  ): Promise<string> {
    const layerHexes = image.diffIds.map((diffId) => hexOf(diffId, 'diff_id'));
    const unpin = this.pin(layerHexes);
    try {
      await this.removals.get(`rootfs:${hex}`);
      const rootfsDir = path.join(this.rootfsParentDir, hex);
      if (await isDirectory(rootfsDir)) {
        // Marks it recently used, which garbage collection's grace period respects.
        await touch(rootfsDir);
        for (const layer of image.layers) report(layerEvent(layer, 'cached'));
        return rootfsDir;
      }
      await forEachBounded(image.layers, this.layerConcurrency, async (layer, index) => {
        const { state } = await this.ensureLayer(layer, image.diffIds[index]!, async (destinationPath) => {
          await fetchBlob(layer, destinationPath);
          report(layerEvent(layer, 'fetched'));
        });
        report(layerEvent(layer, state));
      });
      const records = await Promise.all(layerHexes.map((layerHex) => this.readRecord(layerHex)));
      const work = await mkdtemp(path.join(this.tmpDir, `rootfs-${hex.slice(0, 12)}-`));
      try {
        const treeDir = path.join(work, 'tree');
        await mkdir(treeDir);
        await flattenLayers(
          treeDir,
          records.map((record, index) => ({
            dir: path.join(this.layersDir, layerHexes[index]!),
            whiteouts: record.whiteouts,
            opaqueDirs: record.opaqueDirs,
          })),
          this.ownership,
        );
        // Its mtime is when it was last used, for garbage collection's grace period.
        await touch(treeDir);
        await rename(treeDir, rootfsDir);
      } finally {
        await rm(work, { recursive: true, force: true });
      }
      this.counters.rootfsAssembled += 1;
      return rootfsDir;
    } finally {
      unpin();
    }
  }

  /** Checks what becomes a path before it becomes one; returns the manifest digest's hex. */
  private validateImage(image: ImageDescriptor): string {
    if (image.layers.length !== image.diffIds.length) {
      throw new StratoError(
        'INVALID_IMAGE',
        `image ${image.manifestDigest} has ${image.layers.length} layers but ${image.diffIds.length} diff_ids`,
      );
    }
    for (const layer of image.layers) hexOf(layer.digest, 'layer digest');
    for (const diffId of image.diffIds) hexOf(diffId, 'diff_id');
    return hexOf(image.manifestDigest, 'manifest digest');
  }

  private pin(hexes: readonly string[]): () => void {
    for (const hex of hexes) this.layerPins.set(hex, (this.layerPins.get(hex) ?? 0) + 1);
    return () => {
      for (const hex of hexes) {
        const remaining = (this.layerPins.get(hex) ?? 1) - 1;
        if (remaining === 0) this.layerPins.delete(hex);
        else this.layerPins.set(hex, remaining);
      }
    };
  }

  private trackRemoval<T>(key: string, remove: () => Promise<T>): Promise<T> {
    const removal = remove();
    const settled = removal.then(
      () => undefined,
      () => undefined,
    );
    this.removals.set(key, settled);
    void settled.then(() => {
      if (this.removals.get(key) === settled) this.removals.delete(key);
    });
    return removal;
  }

  private async hasLayer(hex: string): Promise<boolean> {
    return (
      (await this.readRecordIfValid(hex)) !== undefined && (await isDirectory(path.join(this.layersDir, hex)))
    );
  }

  /** The record of a layer the assembler is about to use (pinned, so it cannot vanish meanwhile). */
  private async readRecord(hex: string): Promise<LayerRecord> {
    const record = await this.readRecordIfValid(hex);
    if (record === undefined) {
      throw new StratoError('INTERNAL', `layer record ${this.recordPath(hex)} is missing or corrupt`);
    }
    return record;
  }

  /**
   * A layer's record, or undefined when there is none or it does not parse: a corrupt record (a disk
   * error, a hand edit) makes the layer count as absent, so it is unpacked again rather than failing forever.
   */
  private async readRecordIfValid(hex: string): Promise<LayerRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.recordPath(hex), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return undefined;
    }
    const parsed = layerRecordSchema.safeParse(json);
    return parsed.success && parsed.data.diffId === `sha256:${hex}` ? parsed.data : undefined;
  }

  /** Renames a tree into tmp/ before deleting it, so a crash mid-delete never leaves a partial entry in place. */
  private async discard(dir: string): Promise<void> {
    const doomed = path.join(
      this.tmpDir,
      `discard-${path.basename(dir).slice(0, 12)}-${process.hrtime.bigint()}`,
    );
    try {
      await rename(dir, doomed);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    await rm(doomed, { recursive: true, force: true });
  }

  private async removeLeftovers(): Promise<void> {
    for (const name of await readdir(this.tmpDir)) {
      await rm(path.join(this.tmpDir, name), { recursive: true, force: true });
    }
    const names = new Set(await readdir(this.layersDir));
    for (const name of names) {
      if (HEX_PATTERN.test(name) && !names.has(`${name}${SIDECAR_SUFFIX}`)) {
        await rm(path.join(this.layersDir, name), { recursive: true, force: true });
      }
      const hex = name.endsWith(SIDECAR_SUFFIX) ? name.slice(0, -SIDECAR_SUFFIX.length) : '';
      if (HEX_PATTERN.test(hex) && !names.has(hex))
        await rm(path.join(this.layersDir, name), { force: true });
    }
  }
}

function hexOf(digest: string, what: string): string {
  if (!DIGEST_PATTERN.test(digest)) throw new StratoError('INVALID_IMAGE', `invalid ${what}: ${digest}`);
  return digest.slice('sha256:'.length);
}

function layerEvent(layer: BlobDescriptor, state: 'cached' | 'fetched' | 'unpacked'): ImageProgress {
  return { kind: 'layer', digest: layer.digest, size: layer.size, state };
}

/** Runs `work` over `items`, at most `limit` at a time; the first failure is thrown once all started work settled. */
async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && failure === undefined) {
      const index = next++;
      try {
        await work(items[index]!, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
}

function definedOnly(limits: Partial<ImageLimits>): Partial<ImageLimits> {
  return Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined));
}

async function touch(target: string): Promise<void> {
  const now = new Date();
  await utimes(target, now, now);
}

async function isDirectory(target: string): Promise<boolean> {
  try {
    return (await stat(target)).isDirectory();
  } catch {
    return false;
  }
}
