import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StratoError } from '../core/strato-error.js';
import type { BlobDescriptor, Digest, ImageDescriptor, ImageProgress } from './image-types.js';
import { LayerStore } from './layer-store.js';
import { sha256Of, testLayer, type TarEntry, type TestLayer } from '../../test/helpers/layer-fixtures.js';

const sha256 = sha256Of;
const layerOf = (entries: TarEntry[]): Promise<TestLayer> => testLayer(entries);

function imageOf(layers: TestLayer[], name = 'image'): ImageDescriptor {
  return {
    source: { kind: 'archive' },
    manifestDigest: sha256(`manifest of ${name}: ${layers.map((layer) => layer.diffId).join()}`),
    configDigest: sha256(`config of ${name}`),
    layers: layers.map((layer) => layer.descriptor),
    diffIds: layers.map((layer) => layer.diffId),
    config: { entrypoint: [], cmd: ['/bin/sh'], env: [], workingDir: '/', user: '' },
    platform: { os: 'linux', architecture: 'amd64' },
  };
}

/** A fetcher serving the given layers, counting fetches per blob digest. */
function fetcherOf(layers: TestLayer[]) {
  const fetches = new Map<string, number>();
  const byDigest = new Map(layers.map((layer) => [layer.descriptor.digest, layer.blob]));
  const fetch = async (layer: BlobDescriptor, destinationPath: string): Promise<void> => {
    fetches.set(layer.digest, (fetches.get(layer.digest) ?? 0) + 1);
    // A tick, so concurrent callers really overlap.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const blob = byDigest.get(layer.digest);
    if (blob === undefined) throw new Error(`no blob ${layer.digest}`);
    await writeFile(destinationPath, blob, { flag: 'wx' });
  };
  return { fetch, fetches };
}

let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'strato-layer-store-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('LayerStore', () => {
  it('applies whiteouts and opaque directories of upper layers to the layers below', async () => {
    const base = await layerOf([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/motd', content: 'hello' },
      { name: 'etc/keep', content: 'kept' },
      { name: 'var/cache/old', content: 'old' },
      { name: 'var/cache/sub/deeper', content: 'old' },
      { name: 'var/log/app.log', content: 'log' },
    ]);
    const upper = await layerOf([
      { name: 'etc/.wh.motd', content: '' },
      { name: 'var/cache/.wh..wh..opq', content: '' },
      { name: 'var/cache/new', content: 'new' },
      { name: 'var/.wh.log', content: '' },
      { name: 'etc/.wh.never-existed', content: '' },
    ]);
    const store = await LayerStore.open(root);
    const rootfs = await store.ensureRootfs(imageOf([base, upper]), fetcherOf([base, upper]).fetch);

    expect((await readdir(path.join(rootfs, 'etc'))).sort()).toEqual(['keep']);
    expect(await readdir(path.join(rootfs, 'var/cache'))).toEqual(['new']);
    expect(await readdir(path.join(rootfs, 'var'))).toEqual(['cache']);
    // The whiteouts are not files of the rootfs, and the lower layer itself is untouched.
    expect(await readFile(path.join(store.layerDir(base.diffId), 'etc/motd'), 'utf8')).toBe('hello');
  });

  it('lets an upper file replace a lower directory or symlink, and an upper directory a lower file', async () => {
    const base = await layerOf([
      { name: 'opt/thing/', type: 'directory' },
      { name: 'opt/thing/inside', content: 'lower' },
      { name: 'bin', content: 'a file below' },
      { name: 'usr/lib/', type: 'directory' },
      { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
      { name: 'link-to-file', type: 'symlink', linkname: '/etc/hostname' },
    ]);
    const upper = await layerOf([
      { name: 'opt/thing', content: 'now a file' },
      { name: 'bin/', type: 'directory' },
      { name: 'bin/tool', content: 'tool' },
      { name: 'lib/', type: 'directory' },
      { name: 'lib/libc.so', content: 'libc' },
      { name: 'link-to-file', content: 'a regular file now' },
    ]);
    const store = await LayerStore.open(root);
    const rootfs = await store.ensureRootfs(imageOf([base, upper]), fetcherOf([base, upper]).fetch);

    expect(await readFile(path.join(rootfs, 'opt/thing'), 'utf8')).toBe('now a file');
    expect(await readFile(path.join(rootfs, 'bin/tool'), 'utf8')).toBe('tool');
    expect((await lstat(path.join(rootfs, 'lib'))).isDirectory()).toBe(true);
    expect(await readdir(path.join(rootfs, 'lib'))).toEqual(['libc.so']);
    // Not written through the lower symlink.
    expect(await readdir(path.join(rootfs, 'usr/lib'))).toEqual([]);
    expect((await lstat(path.join(rootfs, 'link-to-file'))).isFile()).toBe(true);
  });

  it('hardlinks rootfs files to the layer files, keeps symlinks as symlinks and strips setuid bits', async () => {
    const layer = await layerOf([
      { name: 'bin/su', content: 'su', mode: 0o4755 },
      { name: 'bin/sh', content: 'sh', mode: 0o755 },
      { name: 'bin/ash', type: 'symlink', linkname: 'sh' },
    ]);
    const store = await LayerStore.open(root);
    const rootfs = await store.ensureRootfs(imageOf([layer]), fetcherOf([layer]).fetch);

    const inRootfs = await stat(path.join(rootfs, 'bin/sh'));
    const inLayer = await stat(path.join(store.layerDir(layer.diffId), 'bin/sh'));
    expect(inRootfs.ino).toBe(inLayer.ino);
    expect(inRootfs.dev).toBe(inLayer.dev);
    expect(inRootfs.nlink).toBe(2);
    expect(await readlink(path.join(rootfs, 'bin/ash'))).toBe('sh');
    expect((await lstat(path.join(rootfs, 'bin/ash'))).isSymbolicLink()).toBe(true);
    expect((await stat(path.join(rootfs, 'bin/su'))).mode & 0o7777).toBe(0o755);
    expect(rootfs).toBe(store.rootfsDir(imageOf([layer]).manifestDigest));
  });

  it('adds the mount points the container tier needs, replacing a non-directory', async () => {
    const layer = await layerOf([
      { name: 'proc/', type: 'directory', mode: 0o555 },
      { name: 'tmp', type: 'symlink', linkname: '/var/tmp' },
    ]);
    const store = await LayerStore.open(root);
    const rootfs = await store.ensureRootfs(imageOf([layer]), fetcherOf([layer]).fetch);
    for (const name of ['proc', 'dev', 'sys', 'tmp']) {
      expect((await lstat(path.join(rootfs, name))).isDirectory()).toBe(true);
    }
    expect((await stat(path.join(rootfs, 'tmp'))).mode & 0o7777).toBe(0o1777);
    expect((await stat(rootfs)).mode & 0o7777).toBe(0o755);
  });

  it('unpacks only the new layer of a second image sharing a base layer', async () => {
    const base = await layerOf([{ name: 'base', content: 'shared' }]);
    const first = await layerOf([{ name: 'app', content: 'first' }]);
    const second = await layerOf([{ name: 'app', content: 'second' }]);
    const fetcher = fetcherOf([base, first, second]);
    const store = await LayerStore.open(root);

    const firstEvents: ImageProgress[] = [];
    await store.ensureRootfs(imageOf([base, first]), fetcher.fetch, (event) => firstEvents.push(event));
    expect(store.stats()).toEqual({ layersUnpacked: 2, rootfsAssembled: 1, fetches: 2 });
    expect(firstEvents.filter((event) => event.kind === 'layer' && event.state === 'unpacked')).toHaveLength(
      2,
    );

    const secondEvents: ImageProgress[] = [];
    const rootfs = await store.ensureRootfs(imageOf([base, second]), fetcher.fetch, (event) =>
      secondEvents.push(event),
    );
    expect(store.stats()).toEqual({ layersUnpacked: 3, rootfsAssembled: 2, fetches: 3 });
    expect(secondEvents).toEqual([
      { kind: 'layer', digest: base.descriptor.digest, size: base.descriptor.size, state: 'cached' },
      { kind: 'layer', digest: second.descriptor.digest, size: second.descriptor.size, state: 'fetched' },
      { kind: 'layer', digest: second.descriptor.digest, size: second.descriptor.size, state: 'unpacked' },
    ]);
    expect(fetcher.fetches.get(base.descriptor.digest)).toBe(1);
    expect(await readFile(path.join(rootfs, 'app'), 'utf8')).toBe('second');
    expect(await readFile(path.join(rootfs, 'base'), 'utf8')).toBe('shared');

    // The same image again: the assembled rootfs is reused, nothing fetched.
    const againEvents: ImageProgress[] = [];
    expect(
      await store.ensureRootfs(imageOf([base, second]), fetcher.fetch, (event) => againEvents.push(event)),
    ).toBe(rootfs);
    expect(store.stats()).toEqual({ layersUnpacked: 3, rootfsAssembled: 2, fetches: 3 });
    expect(againEvents.map((event) => event.kind === 'layer' && event.state)).toEqual(['cached', 'cached']);
  });

  it('fetches and unpacks each layer exactly once for 50 concurrent calls', async () => {
    const layers = await Promise.all(
      [0, 1, 2, 3].map((index) => layerOf([{ name: `layer-${index}/file`, content: `content ${index}` }])),
    );
    const fetcher = fetcherOf(layers);
    const store = await LayerStore.open(root);
    const image = imageOf(layers);
    const events: ImageProgress[][] = Array.from({ length: 50 }, () => []);

    const dirs = await Promise.all(
      events.map((sink) => store.ensureRootfs(image, fetcher.fetch, (event) => sink.push(event))),
    );

    expect(new Set(dirs).size).toBe(1);
    expect(store.stats()).toEqual({ layersUnpacked: 4, rootfsAssembled: 1, fetches: 4 });
    expect([...fetcher.fetches.values()]).toEqual([1, 1, 1, 1]);
    // Every caller heard about every layer, though only one of them did the work.
    for (const sink of events) expect(sink.filter((event) => event.kind === 'layer')).toHaveLength(8);
    for (const index of [0, 1, 2, 3]) {
      expect(await readFile(path.join(dirs[0]!, `layer-${index}/file`), 'utf8')).toBe(`content ${index}`);
    }
    expect(await readdir(path.join(root, 'tmp'))).toEqual([]);
  });

  it('shares one fetch of a layer between concurrent images and concurrent ensureLayer calls', async () => {
    const base = await layerOf([{ name: 'base', content: 'shared' }]);
    const first = await layerOf([{ name: 'app', content: 'first' }]);
    const second = await layerOf([{ name: 'app', content: 'second' }]);
    const fetcher = fetcherOf([base, first, second]);
    const store = await LayerStore.open(root);

    await Promise.all([
      store.ensureRootfs(imageOf([base, first]), fetcher.fetch),
      store.ensureRootfs(imageOf([base, second]), fetcher.fetch),
      ...Array.from({ length: 20 }, () =>
        store.ensureLayer(base.descriptor, base.diffId, (destination) =>
          fetcher.fetch(base.descriptor, destination),
        ),
      ),
    ]);
    expect(fetcher.fetches.get(base.descriptor.digest)).toBe(1);
    expect(store.stats()).toEqual({ layersUnpacked: 3, rootfsAssembled: 2, fetches: 3 });
  });

  it('does not remember a failed fetch: the next call fetches again', async () => {
    const layer = await layerOf([{ name: 'file', content: 'x' }]);
    const working = fetcherOf([layer]);
    let failures = 0;
    const failing = async (): Promise<void> => {
      failures += 1;
      await Promise.resolve();
      throw new StratoError('IMAGE_PULL_FAILED', 'registry is down');
    };
    const store = await LayerStore.open(root);
    const image = imageOf([layer]);

    const attempts = await Promise.allSettled([
      store.ensureRootfs(image, failing),
      store.ensureRootfs(image, failing),
    ]);
    expect(attempts.map((attempt) => attempt.status)).toEqual(['rejected', 'rejected']);
    expect(failures).toBe(1);
    expect(await readdir(path.join(root, 'tmp'))).toEqual([]);
    expect(await readdir(path.join(root, 'layers'))).toEqual([]);

    const rootfs = await store.ensureRootfs(image, working.fetch);
    expect(await readFile(path.join(rootfs, 'file'), 'utf8')).toBe('x');
    expect(store.stats()).toEqual({ layersUnpacked: 1, rootfsAssembled: 1, fetches: 2 });
  });

  it('does not cache a layer that fails to unpack, and deletes the fetched blob', async () => {
    const evil = await layerOf([{ name: '../escape', content: 'x' }]);
    const store = await LayerStore.open(root);
    await expect(store.ensureRootfs(imageOf([evil]), fetcherOf([evil]).fetch)).rejects.toMatchObject({
      code: 'INVALID_LAYER',
    });
    expect(await readdir(path.join(root, 'tmp'))).toEqual([]);
    expect(await readdir(path.join(root, 'layers'))).toEqual([]);
    expect(await readdir(path.join(root, 'rootfs'))).toEqual([]);
    expect((await readdir(root)).sort()).toEqual(['layers', 'rootfs', 'tmp']);
  });

  it('refuses a descriptor whose digests could not be paths', async () => {
    const layer = await layerOf([{ name: 'file', content: 'x' }]);
    const store = await LayerStore.open(root);
    const image = { ...imageOf([layer]), manifestDigest: 'sha256:../../etc' as Digest };
    await expect(store.ensureRootfs(image, fetcherOf([layer]).fetch)).rejects.toMatchObject({
      code: 'INVALID_IMAGE',
    });
    const mismatched = { ...imageOf([layer]), diffIds: [] };
    await expect(store.ensureRootfs(mismatched, fetcherOf([layer]).fetch)).rejects.toMatchObject({
      code: 'INVALID_IMAGE',
    });
  });

  it('removes what a crash left behind when opened, and keeps complete layers', async () => {
    const layer = await layerOf([{ name: 'file', content: 'x' }]);
    const first = await LayerStore.open(root);
    await first.ensureLayer(layer.descriptor, layer.diffId, (destination) =>
      writeFile(destination, layer.blob),
    );
    const halfLayer = 'a'.repeat(64);
    const orphanRecord = 'b'.repeat(64);
    await mkdir(path.join(root, 'tmp/layer-aaaaaaaaaaaa-xyz/tree'), { recursive: true });
    await mkdir(path.join(root, 'layers', halfLayer));
    await writeFile(path.join(root, 'layers', `${orphanRecord}.json`), '{}');

    const reopened = await LayerStore.open(root);
    expect(await readdir(path.join(root, 'tmp'))).toEqual([]);
    const hex = layer.diffId.slice('sha256:'.length);
    expect((await readdir(path.join(root, 'layers'))).sort()).toEqual([hex, `${hex}.json`]);
    expect(
      await reopened.ensureLayer(layer.descriptor, layer.diffId, () => Promise.reject(new Error('no'))),
    ).toEqual({
      state: 'cached',
    });
    expect(reopened.stats().fetches).toBe(0);
  });

  it('unpacks a layer again when its record is corrupt', async () => {
    const layer = await layerOf([{ name: 'file', content: 'x' }]);
    const store = await LayerStore.open(root);
    const fetch = (destination: string) => writeFile(destination, layer.blob);
    await store.ensureLayer(layer.descriptor, layer.diffId, fetch);
    await writeFile(`${store.layerDir(layer.diffId)}.json`, '{"truncated":');
    expect(await store.ensureLayer(layer.descriptor, layer.diffId, fetch)).toEqual({ state: 'unpacked' });
    expect(store.stats()).toMatchObject({ layersUnpacked: 2, fetches: 2 });
    expect(await readFile(path.join(store.layerDir(layer.diffId), 'file'), 'utf8')).toBe('x');
  });
});
