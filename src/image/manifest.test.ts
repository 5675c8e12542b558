import { describe, expect, it } from 'vitest';
import { StratoError } from '../core/strato-error.js';
import { buildImage, buildIndex } from '../../test/helpers/oci-image-builder.js';
import { buildImageDescriptor, parseImageConfig } from './image-config.js';
import {
  DOCKER_MANIFEST,
  OCI_INDEX,
  OCI_MANIFEST,
  parseManifest,
  selectPlatformManifest,
  type ImageIndex,
  type IndexEntry,
} from './manifest.js';

const hex = (char: string) => char.repeat(64);
const config = {
  mediaType: 'application/vnd.oci.image.config.v1+json',
  digest: `sha256:${hex('c')}`,
  size: 10,
};
const layer = (mediaType: string, extra: Record<string, unknown> = {}) => ({
  mediaType,
  digest: `sha256:${hex('1')}`,
  size: 5,
  ...extra,
});
const manifestBytes = (layers: unknown[], extra: Record<string, unknown> = {}) =>
  Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers, ...extra }));

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    return error instanceof StratoError ? error.code : 'not a StratoError';
  }
  return undefined;
}

describe('parseManifest', () => {
  it('reads an OCI manifest built by the test builder', async () => {
    const image = await buildImage({ layers: [[{ path: 'a', content: 'x' }], [{ path: 'b' }]] });
    const parsed = parseManifest(image.manifest);
    expect(parsed.kind).toBe('manifest');
    if (parsed.kind !== 'manifest') return;
    expect(parsed.manifest.mediaType).toBe(OCI_MANIFEST);
    expect(parsed.manifest.config.digest).toBe(image.configDigest);
    expect(parsed.manifest.layers.map((entry) => entry.digest)).toEqual(
      image.layers.map((entry) => entry.digest),
    );
  });

  it('reads a Docker v2 schema2 manifest', async () => {
    const image = await buildImage({ layers: [[{ path: 'a' }]], format: 'docker' });
    const parsed = parseManifest(image.manifest);
    expect(parsed.kind === 'manifest' && parsed.manifest.mediaType).toBe(DOCKER_MANIFEST);
  });

  it('tells the kind from Content-Type or shape when the JSON has no mediaType', () => {
    const bare = Buffer.from(JSON.stringify({ schemaVersion: 2, config, layers: [] }));
    expect(parseManifest(bare).kind).toBe('manifest');
    expect(parseManifest(bare, `${OCI_MANIFEST}; charset=utf-8`).kind).toBe('manifest');
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] }));
    expect(parseManifest(index).kind).toBe('index');
    expect(parseManifest(index, OCI_INDEX).kind).toBe('index');
  });

  it('refuses schema 1 manifests as unsupported', () => {
    const schema1 = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }));
    expect(codeOf(() => parseManifest(schema1))).toBe('UNSUPPORTED_IMAGE');
    expect(
      codeOf(() =>
        parseManifest(manifestBytes([]), 'application/vnd.docker.distribution.manifest.v1+prettyjws'),
      ),
    ).toBe('UNSUPPORTED_IMAGE');
  });

  it.each([
    ['zstd', layer('application/vnd.oci.image.layer.v1.tar+zstd')],
    ['non-distributable', layer('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip')],
    ['foreign', layer('application/vnd.docker.image.rootfs.foreign.diff.tar.gzip')],
    ['urls', layer('application/vnd.oci.image.layer.v1.tar+gzip', { urls: ['https://example.com/layer'] })],
    ['unknown type', layer('application/vnd.example.chart')],
    [
      'sha512 digest',
      layer('application/vnd.oci.image.layer.v1.tar', { digest: `sha512:${'a'.repeat(128)}` }),
    ],
  ])('refuses a %s layer as unsupported', (_name, entry) => {
    expect(codeOf(() => parseManifest(manifestBytes([entry])))).toBe('UNSUPPORTED_IMAGE');
  });

  it('accepts the three layer types it can unpack', () => {
    const parsed = parseManifest(
      manifestBytes([
        layer('application/vnd.oci.image.layer.v1.tar'),
        layer('application/vnd.oci.image.layer.v1.tar+gzip'),
        layer('application/vnd.docker.image.rootfs.diff.tar.gzip'),
      ]),
    );
    expect(parsed.kind === 'manifest' && parsed.manifest.layers).toHaveLength(3);
  });

  it.each([
    ['not JSON', Buffer.from('{nope')],
    ['an array', Buffer.from('[]')],
    ['no layers', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config }))],
    ['a negative size', manifestBytes([layer('application/vnd.oci.image.layer.v1.tar', { size: -1 })])],
    [
      'a malformed digest',
      manifestBytes([layer('application/vnd.oci.image.layer.v1.tar', { digest: 'sha256:xyz' })]),
    ],
  ])('refuses a manifest with %s as invalid', (_name, bytes) => {
    expect(codeOf(() => parseManifest(bytes))).toBe('INVALID_IMAGE');
  });

  it('refuses a config that is not a container image config', () => {
    const bytes = manifestBytes([], {
      config: { ...config, mediaType: 'application/vnd.cncf.helm.config.v1+json' },
    });
    expect(codeOf(() => parseManifest(bytes))).toBe('UNSUPPORTED_IMAGE');
  });

  it('refuses a manifest over 4 MiB', () => {
    const bytes = manifestBytes([], { annotations: { big: 'x'.repeat(4 * 1024 * 1024) } });
    expect(codeOf(() => parseManifest(bytes))).toBe('IMAGE_TOO_LARGE');
  });
});

describe('selectPlatformManifest', () => {
  const entry = (
    char: string,
    platform?: IndexEntry['platform'],
    annotations?: Record<string, string>,
  ): IndexEntry => ({
    mediaType: OCI_MANIFEST,
    digest: `sha256:${hex(char)}`,
    size: 1,
    platform,
    annotations,
  });

  it('picks linux/amd64 and skips attestations', () => {
    const chosen = selectPlatformManifest({
      mediaType: OCI_INDEX,
      manifests: [
        entry('1', { os: 'linux', architecture: 'arm64' }),
        entry(
          '2',
          { os: 'unknown', architecture: 'unknown' },
          { 'vnd.docker.reference.type': 'attestation-manifest' },
        ),
        entry('3', { os: 'linux', architecture: 'amd64', variant: 'v3' }),
        entry('4', { os: 'linux', architecture: 'amd64' }),
      ],
    });
    expect(chosen.digest).toBe(`sha256:${hex('4')}`);
  });

  it('takes the one entry without a platform (an OCI layout index.json)', () => {
    const chosen = selectPlatformManifest({ mediaType: OCI_INDEX, manifests: [entry('5')] });
    expect(chosen.digest).toBe(`sha256:${hex('5')}`);
  });

  it('refuses an index without linux/amd64 as unsupported', () => {
    const index: ImageIndex = {
      mediaType: OCI_INDEX,
      manifests: [
        entry('1', { os: 'linux', architecture: 'arm64' }),
        entry('2', { os: 'unknown', architecture: 'unknown' }),
      ],
    };
    expect(codeOf(() => selectPlatformManifest(index))).toBe('UNSUPPORTED_IMAGE');
    expect(() => selectPlatformManifest(index)).toThrow(/linux\/arm64/);
  });

  it('parses an index built by the test builder', async () => {
    const image = await buildImage({ layers: [[{ path: 'a' }]] });
    const index = buildIndex([{ image, platform: { os: 'linux', architecture: 'amd64' } }]);
    const parsed = parseManifest(index.bytes);
    expect(parsed.kind === 'index' && selectPlatformManifest(parsed.index).digest).toBe(image.manifestDigest);
  });
});

describe('image config and descriptor', () => {
  it('defaults missing run fields', () => {
    const parsed = parseImageConfig(
      Buffer.from(
        JSON.stringify({
          os: 'linux',
          architecture: 'amd64',
          config: { Cmd: null },
          rootfs: { type: 'layers', diff_ids: [] },
        }),
      ),
    );
    expect(parsed.run).toEqual({ entrypoint: [], cmd: [], env: [], workingDir: '/', user: '' });
  });

  it('builds a descriptor with run config, diff_ids and platform', async () => {
    const image = await buildImage({
      layers: [[{ path: 'a', content: 'x' }]],
      config: {
        entrypoint: ['/bin/sh'],
        cmd: ['-c', 'true'],
        env: ['A=1'],
        workingDir: '/app',
        user: '65534',
      },
    });
    const parsed = parseManifest(image.manifest);
    if (parsed.kind !== 'manifest') throw new Error('expected a manifest');
    const descriptor = buildImageDescriptor({
      source: { kind: 'archive' },
      manifestDigest: image.manifestDigest,
      manifest: parsed.manifest,
      configBytes: image.config,
    });
    expect(descriptor).toEqual({
      source: { kind: 'archive' },
      manifestDigest: image.manifestDigest,
      configDigest: image.configDigest,
      layers: image.layers.map((entry) => ({
        mediaType: entry.mediaType,
        digest: entry.digest,
        size: entry.bytes.length,
      })),
      diffIds: image.layers.map((entry) => entry.diffId),
      config: {
        entrypoint: ['/bin/sh'],
        cmd: ['-c', 'true'],
        env: ['A=1'],
        workingDir: '/app',
        user: '65534',
      },
      platform: { os: 'linux', architecture: 'amd64' },
    });
  });

  async function descriptorOf(options: Parameters<typeof buildImage>[0], limits?: { maxBlobBytes: number }) {
    const image = await buildImage(options);
    const parsed = parseManifest(image.manifest);
    if (parsed.kind !== 'manifest') throw new Error('expected a manifest');
    return () =>
      buildImageDescriptor({
        source: { kind: 'archive' },
        manifestDigest: image.manifestDigest,
        manifest: parsed.manifest,
        configBytes: image.config,
        limits:
          limits === undefined
            ? undefined
            : {
                maxBlobBytes: limits.maxBlobBytes,
                maxLayerBytes: 1,
                maxLayerEntries: 1,
                maxCompressionRatio: 1,
              },
      });
  }

  it('refuses a diff_id count that differs from the layer count', async () => {
    const build = await descriptorOf({
      layers: [[{ path: 'a' }], [{ path: 'b' }]],
      diffIds: [`sha256:${hex('d')}`],
    });
    expect(codeOf(build)).toBe('INVALID_IMAGE');
  });

  it('refuses another platform', async () => {
    expect(codeOf(await descriptorOf({ layers: [], platform: { os: 'linux', architecture: 'arm64' } }))).toBe(
      'UNSUPPORTED_IMAGE',
    );
  });

  it('refuses a blob over maxBlobBytes', async () => {
    expect(
      codeOf(
        await descriptorOf({ layers: [[{ path: 'a', content: 'x'.repeat(1000) }]] }, { maxBlobBytes: 100 }),
      ),
    ).toBe('IMAGE_TOO_LARGE');
  });

  it('refuses a relative WorkingDir and non-JSON', async () => {
    expect(codeOf(await descriptorOf({ layers: [], config: { workingDir: 'app' } }))).toBe('INVALID_IMAGE');
    expect(codeOf(() => parseImageConfig(Buffer.from('nope')))).toBe('INVALID_IMAGE');
  });
});
