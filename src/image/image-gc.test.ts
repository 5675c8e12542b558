import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collectGarbage } from './image-gc.js';
import type { BlobDescriptor, Digest, ImageDescriptor } from './image-types.js';
import { LayerStore } from './layer-store.js';
import { sha256Of, testLayer, type TestLayer } from '../../test/helpers/layer-fixtures.js';

const sha256 = sha256Of;

/** A plain-tar layer holding one file. */
function layerWithFile(name: string, content: string): Promise<TestLayer> {
  return testLayer([{ name, content }], false);
}

function imageOf(name: string, layers: TestLayer[]): ImageDescriptor {
  return {
    source: { kind: 'archive' },
    manifestDigest: sha256(`manifest ${name}`),
    configDigest: sha256(`config ${name}`),
    layers: layers.map((layer) => layer.descriptor),
    diffIds: layers.map((layer) => layer.diffId),
    config: { entrypoint: [], cmd: [], env: [], workingDir: '/', user: '' },
    platform: { os: 'linux', architecture: 'amd64' },
  };
}

function fetcherOf(layers: TestLayer[]) {
  const byDigest = new Map(layers.map((layer) => [layer.descriptor.digest, layer.blob]));
  return async (layer: BlobDescriptor, destinationPath: string): Promise<void> => {
    await writeFile(destinationPath, byDigest.get(layer.digest)!);
  };
}

function hex(digest: Digest): string {
  return digest.slice('sha256:'.length);
}

let root: string;
let store: LayerStore;
let base: TestLayer;
let appA: TestLayer;
let appB: TestLayer;
let imageA: ImageDescriptor;
let imageB: ImageDescriptor;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'strato-image-gc-'));
  store = await LayerStore.open(root);
  base = await layerWithFile('base', 'shared');
  appA = await layerWithFile('app', 'a');
  appB = await layerWithFile('app', 'b');
  imageA = imageOf('a', [base, appA]);
  imageB = imageOf('b', [base, appB]);
  const fetch = fetcherOf([base, appA, appB]);
  await store.ensureRootfs(imageA, fetch);
  await store.ensureRootfs(imageB, fetch);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('collectGarbage', () => {
  it('removes exactly the layers and root file systems no referenced image needs', async () => {
    const result = await collectGarbage(store, [imageA], { graceMs: 0 });

    expect(result.removedLayers).toEqual([appB.diffId]);
    expect(result.removedRootfs).toEqual([imageB.manifestDigest]);
    expect(result.freedBytes).toBe(appB.blob.length);
    expect((await readdir(path.join(root, 'layers'))).sort()).toEqual(
      [hex(base.diffId), `${hex(base.diffId)}.json`, hex(appA.diffId), `${hex(appA.diffId)}.json`].sort(),
    );
    expect(await readdir(path.join(root, 'rootfs'))).toEqual([hex(imageA.manifestDigest)]);
    // What stays is intact and still usable.
    expect(await readFile(path.join(store.rootfsDir(imageA.manifestDigest), 'app'), 'utf8')).toBe('a');
    expect(await readdir(path.join(root, 'tmp'))).toEqual([]);

    // B comes back on demand: only its own layer is fetched again.
    const before = store.stats().fetches;
    await store.ensureRootfs(imageB, fetcherOf([base, appA, appB]));
    expect(store.stats().fetches).toBe(before + 1);
  });

  it('removes everything when nothing is referenced, and nothing when everything is', async () => {
    expect(await collectGarbage(store, [imageA, imageB], { graceMs: 0 })).toEqual({
      removedLayers: [],
      removedRootfs: [],
      freedBytes: 0,
    });
    const result = await collectGarbage(store, [], { graceMs: 0 });
    expect(result.removedLayers).toHaveLength(3);
    expect(result.removedRootfs).toHaveLength(2);
    expect(await readdir(path.join(root, 'layers'))).toEqual([]);
    expect(await readdir(path.join(root, 'rootfs'))).toEqual([]);
  });

  it('keeps unreferenced entries used within the grace period', async () => {
    expect(await collectGarbage(store, [])).toEqual({ removedLayers: [], removedRootfs: [], freedBytes: 0 });
    // The same entries, seen from an hour later.
    const later = await collectGarbage(store, [], { now: Date.now() + 60 * 60 * 1000 });
    expect(later.removedLayers).toHaveLength(3);
    expect(later.removedRootfs).toHaveLength(2);
  });

  it('counts a cache hit as a use: a rootfs just handed out again is kept', async () => {
    await new Promise((resolve) => setTimeout(resolve, 30));
    const hitAt = Date.now();
    await store.ensureRootfs(imageB, () => Promise.reject(new Error('must not fetch')));
    // A grace period that covers the hit on B but not the assembly of A and B.
    const result = await collectGarbage(store, [], { graceMs: Date.now() - hitAt + 5 });
    expect(result.removedRootfs).toEqual([imageA.manifestDigest]);
    expect(result.removedLayers).toHaveLength(3);
    // B's rootfs holds its own links to the layer files: it outlives the layers.
    expect(await readFile(path.join(store.rootfsDir(imageB.manifestDigest), 'app'), 'utf8')).toBe('b');
  });

  it('never removes a layer an in-flight ensureRootfs is using', async () => {
    const fresh = await layerWithFile('fresh', 'new');
    const imageC = imageOf('c', [base, appA, fresh]);
    let releaseFetch: () => void = () => undefined;
    const fetchStarted = new Promise<void>((started) => {
      releaseFetch = started;
    });
    let unblock: () => void = () => undefined;
    const blocked = new Promise<void>((resolve) => {
      unblock = resolve;
    });
    const building = store.ensureRootfs(imageC, async (layer, destinationPath) => {
      releaseFetch();
      await blocked;
      await writeFile(
        destinationPath,
        layer.digest === fresh.descriptor.digest ? fresh.blob : Buffer.alloc(0),
      );
    });
    await fetchStarted;

    // Nothing is referenced and nothing is young, but C's cached layers are in use right now.
    const result = await collectGarbage(store, [], { graceMs: 0 });
    expect(result.removedLayers).toEqual([appB.diffId]);
    expect(result.removedRootfs.sort()).toEqual([imageA.manifestDigest, imageB.manifestDigest].sort());

    unblock();
    const rootfs = await building;
    expect(await readFile(path.join(rootfs, 'base'), 'utf8')).toBe('shared');
    expect(await readFile(path.join(rootfs, 'fresh'), 'utf8')).toBe('new');
    // Once the build is over, the guard is lifted.
    const afterwards = await collectGarbage(store, [], { graceMs: 0 });
    expect(afterwards.removedLayers.sort()).toEqual([base.diffId, appA.diffId, fresh.diffId].sort());
  });

  it('makes an ensure call that starts during a removal wait for it and unpack again', async () => {
    const removal = store.removeLayer(base.diffId);
    const ensured = store.ensureLayer(base.descriptor, base.diffId, (destination) =>
      writeFile(destination, base.blob),
    );
    expect(await removal).toBe(base.blob.length);
    expect(await ensured).toEqual({ state: 'unpacked' });
    expect(await readFile(path.join(store.layerDir(base.diffId), 'base'), 'utf8')).toBe('shared');
  });
});
