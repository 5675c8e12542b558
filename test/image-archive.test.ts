// openImageArchive on docker-save and OCI-layout tarballs built by the test builder: descriptors, verified
// blobs by digest, and refusals (unsafe names, tampered or missing blobs, no manifest, limits).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { openImageArchive } from '../src/image/image-archive.js';
import { DEFAULT_IMAGE_LIMITS, type ImageLimits } from '../src/image/image-types.js';
import { expectCode } from './helpers/expect-code.js';
import {
  buildImage,
  busyboxRuntimeImage,
  dockerSaveArchive,
  layerTar,
  ociLayoutArchive,
  OCI_INDEX,
  type BuiltImage,
  type LayerSpec,
} from './helpers/oci-image-builder.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'strato-archive-test-'));
  dirs.push(dir);
  return dir;
}

/** Writes `archive` to a temp file and opens it into a fresh work dir. */
function open(archive: Buffer, limits: ImageLimits = DEFAULT_IMAGE_LIMITS) {
  const dir = tempDir();
  const tarPath = path.join(dir, 'image.tar');
  writeFileSync(tarPath, archive);
  const workDir = path.join(dir, 'work');
  return { workDir, opened: openImageArchive(tarPath, workDir, limits) };
}

async function openOk(archive: Buffer, limits?: ImageLimits) {
  const { workDir, opened } = open(archive, limits);
  return { workDir, archive: await opened };
}

async function expectArchiveCode(archive: Buffer, code: string, limits?: ImageLimits): Promise<void> {
  const { workDir, opened } = open(archive, limits);
  await expectCode(opened, code);
  // A refused archive leaves nothing behind in the work dir.
  expect(readdirSync(workDir)).toEqual([]);
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function hex(digest: string): string {
  return digest.slice('sha256:'.length);
}

function testImage(
  label: string,
  options: Partial<Parameters<typeof buildImage>[0]> = {},
): Promise<BuiltImage> {
  return buildImage({
    layers: [
      [
        { path: 'bin/', type: 'dir' },
        { path: 'bin/tool', content: `tool ${label}`, mode: 0o755 },
      ],
      [{ path: 'etc/motd', content: label }],
      [{ path: 'etc/motd', content: label }], // the same layer twice, as images have (empty RUN layers)
    ],
    config: { entrypoint: ['/bin/tool'], env: ['A=1'], workingDir: '/srv' },
    ...options,
  });
}

/** The entries of an OCI layout of `image` with blob `digest` replaced by `bytes` (or left out). */
function ociLayoutEntries(image: BuiltImage, replace?: { digest: string; bytes?: Buffer }): LayerSpec {
  const blobs = new Map<string, Buffer>([
    [image.manifestDigest, image.manifest],
    [image.configDigest, image.config],
    ...image.layers.map((layer) => [layer.digest, layer.bytes] as [string, Buffer]),
  ]);
  const entries: LayerSpec = [{ path: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' }];
  for (const [digest, bytes] of blobs) {
    if (digest === replace?.digest) {
      if (replace.bytes !== undefined)
        entries.push({ path: `blobs/sha256/${hex(digest)}`, content: replace.bytes });
    } else {
      entries.push({ path: `blobs/sha256/${hex(digest)}`, content: bytes });
    }
  }
  entries.push({
    path: 'index.json',
    content: JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { mediaType: image.manifestMediaType, digest: image.manifestDigest, size: image.manifest.length },
      ],
    }),
  });
  return entries;
}

describe('openImageArchive', () => {
  it('reads docker-save and OCI-layout archives of one image into the same descriptor', async () => {
    const image = await testImage('same');
    const docker = await openOk(await dockerSaveArchive(image, 'team/fn:v1'));
    const oci = await openOk(await ociLayoutArchive(image));
    for (const { archive } of [docker, oci]) {
      expect(archive.descriptor).toEqual({
        source: { kind: 'archive' },
        // docker save has no manifest: the synthesized one is canonical, as the builder's is.
        manifestDigest: image.manifestDigest,
        configDigest: image.configDigest,
        layers: image.layers.map((layer) => ({
          mediaType: layer.mediaType,
          digest: layer.digest,
          size: layer.bytes.length,
        })),
        diffIds: image.layers.map((layer) => layer.diffId),
        config: { entrypoint: ['/bin/tool'], cmd: [], env: ['A=1'], workingDir: '/srv', user: '' },
        platform: { os: 'linux', architecture: 'amd64' },
      });
      for (const blob of [{ digest: image.configDigest }, ...archive.descriptor.layers]) {
        expect(sha256(readFileSync(archive.blobPath(blob.digest)))).toBe(blob.digest);
      }
    }
    // Only the blobs the image uses are kept (two distinct layers and the config), under their digests.
    expect(readdirSync(path.join(oci.workDir, 'blobs')).sort()).toEqual(
      [image.configDigest, image.layers[0]!.digest, image.layers[1]!.digest].map(hex).sort(),
    );
    expect(readdirSync(docker.workDir)).toEqual(['blobs']);
    expect(() => docker.archive.blobPath(image.manifestDigest)).toThrow(/not a blob/);
  });

  it('reads Docker 25+ archives (blobs/sha256 names) and uncompressed docker-save layers', async () => {
    const image = await testImage('modern');
    const modern = await openOk(await dockerSaveArchive(image, 'team/fn:v1', { layout: 'blobs' }));
    expect(modern.archive.descriptor.manifestDigest).toBe(image.manifestDigest);
    const plain = await openOk(await dockerSaveArchive(image, undefined, { uncompressedLayers: true }));
    // Stored uncompressed, a layer's digest is its diff_id.
    expect(plain.archive.descriptor.layers.map((layer) => layer.digest)).toEqual(
      image.layers.map((layer) => layer.diffId),
    );
    expect(plain.archive.descriptor.layers.map((layer) => layer.mediaType)).toEqual([
      'application/vnd.oci.image.layer.v1.tar',
      'application/vnd.oci.image.layer.v1.tar',
      'application/vnd.oci.image.layer.v1.tar',
    ]);
    for (const layer of plain.archive.descriptor.layers) {
      expect(sha256(readFileSync(plain.archive.blobPath(layer.digest)))).toBe(layer.digest);
    }
  });

  it('follows a nested index to linux/amd64, and reads a gzipped archive', async () => {
    const image = await testImage('nested');
    const nested = await openOk(await ociLayoutArchive(image, { nestedIndex: true }));
    expect(nested.archive.descriptor.manifestDigest).toBe(image.manifestDigest);
    const gzipped = await openOk(gzipSync(await dockerSaveArchive(image, 'team/fn:v1')));
    expect(gzipped.archive.descriptor.manifestDigest).toBe(image.manifestDigest);
  });

  it('reads the busybox runtime image (symlinks and hardlinks inside layers are the layer cache’s business)', async () => {
    const image = await busyboxRuntimeImage();
    const { archive } = await openOk(await ociLayoutArchive(image));
    expect(archive.descriptor.config.entrypoint).toEqual(['/var/task/bootstrap']);
    expect(archive.descriptor.layers).toHaveLength(2);
  });

  it('follows a docker-save layer that is a symlink to another entry', async () => {
    const image = await testImage('linked', { layers: [[{ path: 'a', content: 'x' }]] });
    const layer = image.layers[0]!;
    const archive = await layerTar(
      [
        { path: `${hex(image.configDigest)}.json`, content: image.config },
        { path: 'real/', type: 'dir' },
        { path: 'real/layer.tar', content: layer.bytes },
        { path: 'alias/', type: 'dir' },
        { path: 'alias/layer.tar', type: 'symlink', linkname: '../real/layer.tar' },
        {
          path: 'manifest.json',
          content: JSON.stringify([
            { Config: `${hex(image.configDigest)}.json`, RepoTags: null, Layers: ['alias/layer.tar'] },
          ]),
        },
      ],
      false,
    );
    const opened = await openOk(archive);
    expect(opened.archive.descriptor.layers[0]?.digest).toBe(layer.digest);
  });

  it.each([
    ['a ../ name', [{ path: '../escape', content: 'x' }]],
    ['a nested ../ name', [{ path: 'blobs/../../escape', content: 'x' }]],
    ['an absolute name', [{ path: '/etc/cron.d/x', content: 'x' }]],
    ['a symlink leaving the archive', [{ path: 'evil', type: 'symlink', linkname: '../../etc/passwd' }]],
    ['a device entry', [{ path: 'dev-null', type: 'char', devmajor: 1, devminor: 3 }]],
    ['a duplicate entry', [{ path: 'oci-layout', content: '{}' }]],
  ] as Array<[string, LayerSpec]>)(
    'refuses an archive with %s as INVALID_IMAGE',
    async (_name, extraEntries) => {
      const image = await testImage('evil');
      await expectArchiveCode(await ociLayoutArchive(image, { extraEntries }), 'INVALID_IMAGE');
    },
  );

  it('refuses a tampered or missing blob as INVALID_IMAGE', async () => {
    const image = await testImage('tampered');
    const layer = image.layers[0]!;
    const flipped = Buffer.from(layer.bytes);
    flipped[10] = (flipped[10] ?? 0) ^ 0xff;
    await expectArchiveCode(
      await layerTar(ociLayoutEntries(image, { digest: layer.digest, bytes: flipped }), false),
      'INVALID_IMAGE',
    );
    await expectArchiveCode(
      await layerTar(ociLayoutEntries(image, { digest: layer.digest }), false),
      'INVALID_IMAGE',
    );
    await expectArchiveCode(
      await layerTar(
        ociLayoutEntries(image, { digest: image.configDigest, bytes: Buffer.from('{}') }),
        false,
      ),
      'INVALID_IMAGE',
    );
    // A docker save config named by its digest must hash to it too.
    const docker = await dockerSaveArchive(image, 'team/fn:v1', { layout: 'blobs' });
    const tamperedConfig = docker.indexOf(image.config);
    docker[tamperedConfig + 2] = 'X'.charCodeAt(0);
    await expectArchiveCode(docker, 'INVALID_IMAGE');
  });

  it('refuses archives without a manifest, that are not tars, or hold two images', async () => {
    await expectArchiveCode(await layerTar([{ path: 'hello.txt', content: 'hi' }], false), 'INVALID_IMAGE');
    await expectArchiveCode(Buffer.from('this is not a tar archive at all'.repeat(40)), 'INVALID_IMAGE');
    const image = await testImage('two');
    const archive = await layerTar(
      [
        { path: `${hex(image.configDigest)}.json`, content: image.config },
        {
          path: 'manifest.json',
          content: JSON.stringify([
            { Config: `${hex(image.configDigest)}.json`, RepoTags: ['a:1'], Layers: [] },
            { Config: `${hex(image.configDigest)}.json`, RepoTags: ['b:1'], Layers: [] },
          ]),
        },
      ],
      false,
    );
    await expectArchiveCode(archive, 'INVALID_IMAGE');
  });

  it('refuses a diff_id count that does not match the layers', async () => {
    const image = await testImage('diffids', { diffIds: [`sha256:${'d'.repeat(64)}`] });
    await expectArchiveCode(await ociLayoutArchive(image), 'INVALID_IMAGE');
    await expectArchiveCode(await dockerSaveArchive(image), 'INVALID_IMAGE');
  });

  it('refuses zstd layers as UNSUPPORTED_IMAGE', async () => {
    const image = await testImage('zstd', { layerMediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' });
    await expectArchiveCode(await ociLayoutArchive(image), 'UNSUPPORTED_IMAGE');
    // In a docker save, the bytes say zstd (magic 28 b5 2f fd).
    const zstdLike = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(64)]);
    const config = Buffer.from(
      JSON.stringify({
        os: 'linux',
        architecture: 'amd64',
        rootfs: { type: 'layers', diff_ids: [`sha256:${'e'.repeat(64)}`] },
      }),
    );
    const archive = await layerTar(
      [
        { path: 'config.json', content: config },
        { path: 'l/layer.tar', content: zstdLike },
        {
          path: 'manifest.json',
          content: JSON.stringify([{ Config: 'config.json', Layers: ['l/layer.tar'] }]),
        },
      ],
      false,
    );
    await expectArchiveCode(archive, 'UNSUPPORTED_IMAGE');
  });

  it('refuses a blob over limits.maxBlobBytes as IMAGE_TOO_LARGE', async () => {
    const image = await testImage('large');
    const largest = Math.max(...image.layers.map((layer) => layer.bytes.length));
    await expectArchiveCode(await ociLayoutArchive(image), 'IMAGE_TOO_LARGE', {
      ...DEFAULT_IMAGE_LIMITS,
      maxBlobBytes: largest - 1,
    });
  });
});
