import type { Digest, ImageDescriptor } from './image-types.js';
import type { LayerStore } from './layer-store.js';

export interface GarbageCollectionOptions {
  /**
   * Unreferenced layers and root file systems used more recently than this are kept. It covers the window
   * between an image being made ready (a deploy's pull, an instance's prepare) and the version that pins
   * it being recorded, which no in-process guard can see. @default 10 minutes
   */
  graceMs?: number;
  /** The clock, epoch ms. @default Date.now() */
  now?: number;
}

export interface GarbageCollectionResult {
  /** diff_ids of the layers removed. */
  removedLayers: Digest[];
  /** Manifest digests of the root file systems removed. */
  removedRootfs: Digest[];
  /**
   * Uncompressed bytes of the removed layers. A rootfs frees only its directories (its files are hardlinks
   * of layer files), so it counts nothing, and a layer's data is really freed once no rootfs links it.
   */
  freedBytes: number;
}

export const DEFAULT_GC_GRACE_MS = 10 * 60 * 1000;

/**
 * Removes the layers and root file systems of `store` that no descriptor in `referenced` needs. Two guards
 * keep what is about to be needed: the store refuses to remove what an ensure call is working with right
 * now (checked at the moment of removal, so a pull starting mid-collection is safe), and anything used
 * within `graceMs` is kept. `referenced` must include every image a live instance may still start on.
 */
export async function collectGarbage(
  store: LayerStore,
  referenced: readonly ImageDescriptor[],
  options: GarbageCollectionOptions = {},
): Promise<GarbageCollectionResult> {
  const usedSince = (options.now ?? Date.now()) - (options.graceMs ?? DEFAULT_GC_GRACE_MS);
  const neededLayers = new Set<string>(referenced.flatMap((image) => image.diffIds));
  const neededRootfs = new Set<string>(referenced.map((image) => image.manifestDigest));
  const result: GarbageCollectionResult = { removedLayers: [], removedRootfs: [], freedBytes: 0 };

  for (const rootfs of await store.listRootfs()) {
    if (neededRootfs.has(rootfs.manifestDigest) || rootfs.lastUsedMs > usedSince) continue;
    if (await store.removeRootfs(rootfs.manifestDigest)) result.removedRootfs.push(rootfs.manifestDigest);
  }
  for (const layer of await store.listLayers()) {
    if (neededLayers.has(layer.diffId) || layer.lastUsedMs > usedSince) continue;
    const freed = await store.removeLayer(layer.diffId);
    if (freed === undefined) continue;
    result.removedLayers.push(layer.diffId);
    result.freedBytes += freed;
  }
  return result;
}
