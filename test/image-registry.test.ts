// RegistryClient against a real docker-registry (and a proxy in front of it for bearer auth, counting and
// tampering): resolution by tag and digest, indexes, verification of every byte, auth, and failures.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StratoError } from '../src/core/strato-error.js';
import { parseImageReference } from '../src/image/image-reference.js';
import { DEFAULT_IMAGE_LIMITS, type BlobDescriptor } from '../src/image/image-types.js';
import { RegistryClient, type RegistryClientOptions } from '../src/image/registry-client.js';
import { expectCode } from './helpers/expect-code.js';
import { buildImage, buildIndex, type BuiltImage } from './helpers/oci-image-builder.js';
import {
  freePort,
  pushBlob,
  pushImage,
  pushManifest,
  startRegistry,
  startRegistryProxy,
  type RegistryProxyOptions,
} from './helpers/oci-registry.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function registry(options: Parameters<typeof startRegistry>[0] = {}) {
  const running = await startRegistry(options);
  cleanups.push(() => running.stop());
  return running;
}

async function proxy(target: string, options: RegistryProxyOptions = {}) {
  const running = await startRegistryProxy(target, options);
  cleanups.push(() => running.stop());
  return running;
}

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'strato-image-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function client(options: RegistryClientOptions = {}): RegistryClient {
  return new RegistryClient({ timeoutMs: 10_000, ...options });
}

/** A small image whose layers differ by `label`, so two images never share a digest. */
function smallImage(
  label: string,
  options: Partial<Parameters<typeof buildImage>[0]> = {},
): Promise<BuiltImage> {
  return buildImage({
    layers: [
      [
        { path: 'etc/', type: 'dir' },
        { path: 'etc/label', content: label },
      ],
      [{ path: 'app/run', content: `#!/bin/sh\necho ${label}\n`, mode: 0o755 }],
    ],
    config: {
      entrypoint: ['/app/run'],
      cmd: ['--flag'],
      env: ['LABEL=' + label],
      workingDir: '/app',
      user: '1000',
    },
    ...options,
  });
}

function blobOf(layer: BuiltImage['layers'][number]): BlobDescriptor {
  return { mediaType: layer.mediaType, digest: layer.digest, size: layer.bytes.length };
}

function flipped(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  copy[copy.length - 1] = (copy[copy.length - 1] ?? 0) ^ 0xff;
  return copy;
}

describe('RegistryClient.resolveImage', () => {
  it('resolves a tag to a descriptor whose digests are the pushed image', async () => {
    const { host } = await registry();
    const image = await smallImage('one');
    await pushImage(host, 'team/fn', 'v1', image);
    const descriptor = await client().resolveImage(parseImageReference(`${host}/team/fn:v1`));
    expect(descriptor).toEqual({
      source: { kind: 'registry', registry: host, repository: 'team/fn', tag: 'v1' },
      manifestDigest: image.manifestDigest,
      configDigest: image.configDigest,
      layers: image.layers.map(blobOf),
      diffIds: image.layers.map((layer) => layer.diffId),
      config: {
        entrypoint: ['/app/run'],
        cmd: ['--flag'],
        env: ['LABEL=one'],
        workingDir: '/app',
        user: '1000',
      },
      platform: { os: 'linux', architecture: 'amd64' },
    });
  });

  it('follows a moved tag, while the old digest still resolves to the old manifest', async () => {
    const { host } = await registry();
    const first = await smallImage('first');
    const second = await smallImage('second');
    await pushImage(host, 'team/fn', 'live', first);
    const before = await client().resolveImage(parseImageReference(`${host}/team/fn:live`));
    await pushImage(host, 'team/fn', 'live', second);
    const after = await client().resolveImage(parseImageReference(`${host}/team/fn:live`));
    const pinned = await client().resolveImage(
      parseImageReference(`${host}/team/fn@${first.manifestDigest}`),
    );
    expect(before.manifestDigest).toBe(first.manifestDigest);
    expect(after.manifestDigest).toBe(second.manifestDigest);
    expect(pinned.manifestDigest).toBe(first.manifestDigest);
    expect(pinned.layers.map((layer) => layer.digest)).toEqual(first.layers.map((layer) => layer.digest));
    expect(pinned.source).toEqual({
      kind: 'registry',
      registry: host,
      repository: 'team/fn',
      tag: undefined,
    });
  });

  it('resolves a Docker v2 schema2 manifest', async () => {
    const { host } = await registry();
    const image = await smallImage('docker', { format: 'docker' });
    await pushImage(host, 'team/docker', 'v1', image);
    const descriptor = await client().resolveImage(parseImageReference(`${host}/team/docker:v1`));
    expect(descriptor.manifestDigest).toBe(image.manifestDigest);
    expect(descriptor.layers.map((layer) => layer.mediaType)).toEqual([
      'application/vnd.docker.image.rootfs.diff.tar.gzip',
      'application/vnd.docker.image.rootfs.diff.tar.gzip',
    ]);
  });

  it.each(['oci', 'docker'] as const)(
    'picks linux/amd64 from a %s index, skipping attestations',
    async (format) => {
      const { host } = await registry();
      const amd64 = await smallImage('amd64', { format });
      const arm64 = await smallImage('arm64', { format, platform: { os: 'linux', architecture: 'arm64' } });
      const attestation = await smallImage('attestation', { format });
      for (const [tag, image] of [
        ['a', amd64],
        ['b', arm64],
        ['c', attestation],
      ] as const) {
        await pushImage(host, 'team/multi', tag, image);
      }
      const index = buildIndex(
        [
          { image: arm64, platform: { os: 'linux', architecture: 'arm64' } },
          {
            image: attestation,
            platform: { os: 'unknown', architecture: 'unknown' },
            annotations: { 'vnd.docker.reference.type': 'attestation-manifest' },
          },
          { image: amd64, platform: { os: 'linux', architecture: 'amd64' } },
        ],
        format,
      );
      await pushManifest(host, 'team/multi', 'latest', index.bytes, index.mediaType);
      const descriptor = await client().resolveImage(parseImageReference(`${host}/team/multi`));
      expect(descriptor.manifestDigest).toBe(amd64.manifestDigest);
      expect(descriptor.configDigest).toBe(amd64.configDigest);
      // By the index's own digest too.
      const byDigest = await client().resolveImage(parseImageReference(`${host}/team/multi@${index.digest}`));
      expect(byDigest.manifestDigest).toBe(amd64.manifestDigest);
    },
  );

  it('refuses an index without linux/amd64', async () => {
    const { host } = await registry();
    const arm64 = await smallImage('arm64', { platform: { os: 'linux', architecture: 'arm64' } });
    await pushImage(host, 'team/arm', 'arm', arm64);
    const index = buildIndex([{ image: arm64, platform: { os: 'linux', architecture: 'arm64' } }]);
    await pushManifest(host, 'team/arm', 'latest', index.bytes, index.mediaType);
    await expectCode(
      client().resolveImage(parseImageReference(`${host}/team/arm:latest`)),
      'UNSUPPORTED_IMAGE',
    );
  });

  it('refuses zstd layers and schema 1 manifests as unsupported', async () => {
    const { host } = await registry();
    const zstd = await smallImage('zstd', { layerMediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' });
    await pushImage(host, 'team/zstd', 'v1', zstd);
    await expectCode(client().resolveImage(parseImageReference(`${host}/team/zstd:v1`)), 'UNSUPPORTED_IMAGE');
    // docker-registry 2.8 refuses schema 1 pushes, so the proxy serves one as an old registry would.
    const schema1 = JSON.stringify({
      schemaVersion: 1,
      name: 'team/old',
      tag: 'v1',
      architecture: 'amd64',
      fsLayers: [],
    });
    const old = await proxy(host, {
      respond: ({ path: requestPath }) =>
        requestPath.includes('/manifests/')
          ? {
              status: 200,
              headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' },
              body: schema1,
            }
          : undefined,
    });
    await expectCode(
      client().resolveImage(parseImageReference(`${old.host}/team/old:v1`)),
      'UNSUPPORTED_IMAGE',
    );
  });

  it('says IMAGE_NOT_FOUND for an unknown tag or repository', async () => {
    const { host } = await registry();
    await pushImage(host, 'team/fn', 'v1', await smallImage('one'));
    await expectCode(client().resolveImage(parseImageReference(`${host}/team/fn:nope`)), 'IMAGE_NOT_FOUND');
    await expectCode(client().resolveImage(parseImageReference(`${host}/team/other:v1`)), 'IMAGE_NOT_FOUND');
    const missing = `sha256:${'0'.repeat(64)}`;
    await expectCode(
      client().resolveImage(parseImageReference(`${host}/team/fn@${missing}`)),
      'IMAGE_NOT_FOUND',
    );
  });

  it('fails with IMAGE_PULL_FAILED on a closed port and on a 5xx', async () => {
    const port = await freePort();
    await expectCode(
      client().resolveImage(parseImageReference(`127.0.0.1:${port}/team/fn:v1`)),
      'IMAGE_PULL_FAILED',
    );
    const { host } = await registry();
    const failing = await proxy(host, { respond: () => ({ status: 503, body: 'down' }) });
    await expectCode(
      client().resolveImage(parseImageReference(`${failing.host}/team/fn:v1`)),
      'IMAGE_PULL_FAILED',
    );
  });

  it('verifies manifest bytes: by digest, against Docker-Content-Digest, and the config', async () => {
    const { host } = await registry();
    const image = await smallImage('one');
    await pushImage(host, 'team/fn', 'v1', image);
    const other = await smallImage('other');
    const serveOtherManifest = await proxy(host, {
      respond: ({ path: requestPath }) =>
        requestPath.includes('/manifests/')
          ? { status: 200, headers: { 'content-type': other.manifestMediaType }, body: other.manifest }
          : undefined,
    });
    await expectCode(
      client().resolveImage(
        parseImageReference(`${serveOtherManifest.host}/team/fn@${image.manifestDigest}`),
      ),
      'IMAGE_PULL_FAILED',
    );
    const lyingHeader = await proxy(host, {
      respond: ({ path: requestPath }) =>
        requestPath.includes('/manifests/')
          ? {
              status: 200,
              headers: {
                'content-type': image.manifestMediaType,
                'docker-content-digest': other.manifestDigest,
              },
              body: image.manifest,
            }
          : undefined,
    });
    await expectCode(
      client().resolveImage(parseImageReference(`${lyingHeader.host}/team/fn:v1`)),
      'IMAGE_PULL_FAILED',
    );
    const badConfig = await proxy(host, {
      respond: ({ path: requestPath }) =>
        requestPath.endsWith(`/blobs/${image.configDigest}`)
          ? { status: 200, body: flipped(image.config) }
          : undefined,
    });
    await expectCode(
      client().resolveImage(parseImageReference(`${badConfig.host}/team/fn:v1`)),
      'IMAGE_PULL_FAILED',
    );
  });

  it('refuses an image with a blob over limits.maxBlobBytes', async () => {
    const { host } = await registry();
    const image = await smallImage('big');
    await pushImage(host, 'team/fn', 'v1', image);
    const largest = Math.max(...image.layers.map((layer) => layer.bytes.length));
    const limited = client({ limits: { ...DEFAULT_IMAGE_LIMITS, maxBlobBytes: largest - 1 } });
    await expectCode(limited.resolveImage(parseImageReference(`${host}/team/fn:v1`)), 'IMAGE_TOO_LARGE');
  });
});

describe('RegistryClient.downloadBlob', () => {
  it('downloads each layer, verified, and leaves no partial file', async () => {
    const { host } = await registry();
    const image = await smallImage('one');
    await pushImage(host, 'team/fn', 'v1', image);
    const dir = tempDir();
    const registryClient = client();
    const descriptor = await registryClient.resolveImage(parseImageReference(`${host}/team/fn:v1`));
    for (const [position, layer] of descriptor.layers.entries()) {
      const destination = path.join(dir, `layer-${position}`);
      await registryClient.downloadBlob({ registry: host, repository: 'team/fn' }, layer, destination);
      expect(readFileSync(destination).equals(image.layers[position]?.bytes ?? Buffer.alloc(0))).toBe(true);
    }
    expect(readdirSync(dir).sort()).toEqual(['layer-0', 'layer-1']);
  });

  it.each([
    ['wrong bytes of the right size', (bytes: Buffer) => flipped(bytes)],
    ['more bytes', (bytes: Buffer) => Buffer.concat([bytes, Buffer.from('extra')])],
    ['fewer bytes', (bytes: Buffer) => bytes.subarray(0, bytes.length - 1)],
  ])('fails with IMAGE_PULL_FAILED on %s, leaving no file', async (_name, tamper) => {
    const { host } = await registry();
    const image = await smallImage('one');
    await pushImage(host, 'team/fn', 'v1', image);
    const layer = image.layers[0]!;
    const tampering = await proxy(host, {
      respond: ({ path: requestPath }) =>
        requestPath.endsWith(`/blobs/${layer.digest}`)
          ? { status: 200, body: tamper(layer.bytes) }
          : undefined,
    });
    const dir = tempDir();
    const destination = path.join(dir, 'layer');
    await expectCode(
      client().downloadBlob({ registry: tampering.host, repository: 'team/fn' }, blobOf(layer), destination),
      'IMAGE_PULL_FAILED',
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it('fails with IMAGE_PULL_FAILED when the registry lost the blob, and IMAGE_TOO_LARGE over the limit', async () => {
    const { host } = await registry();
    const dir = tempDir();
    const missing: BlobDescriptor = {
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
      digest: `sha256:${'1'.repeat(64)}`,
      size: 3,
    };
    await expectCode(
      client().downloadBlob({ registry: host, repository: 'team/fn' }, missing, path.join(dir, 'x')),
      'IMAGE_PULL_FAILED',
    );
    const limited = client({ limits: { ...DEFAULT_IMAGE_LIMITS, maxBlobBytes: 2 } });
    await expectCode(
      limited.downloadBlob({ registry: host, repository: 'team/fn' }, missing, path.join(dir, 'x')),
      'IMAGE_TOO_LARGE',
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it('follows a redirect to another origin without sending it the Authorization header', async () => {
    const { host } = await registry();
    const image = await smallImage('one');
    await pushImage(host, 'team/fn', 'v1', image);
    const layer = image.layers[1]!;
    const seenAuthorization: Array<string | undefined> = [];
    const storage = http.createServer((request, response) => {
      seenAuthorization.push(request.headers.authorization);
      response.writeHead(200, { 'content-length': String(layer.bytes.length) }).end(layer.bytes);
    });
    await new Promise<void>((resolve) => storage.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => storage.close(() => resolve())));
    const storageHost = `127.0.0.1:${(storage.address() as AddressInfo).port}`;
    const credentials = { username: 'puller', password: 'pull-secret' };
    const redirecting = await proxy(host, {
      bearer: credentials,
      respond: ({ path: requestPath }) =>
        requestPath.endsWith(`/blobs/${layer.digest}`)
          ? { status: 307, headers: { location: `http://${storageHost}/bucket/${layer.digest}?signed=1` } }
          : undefined,
    });
    const dir = tempDir();
    const destination = path.join(dir, 'layer');
    await client({ credentials: () => credentials }).downloadBlob(
      { registry: redirecting.host, repository: 'team/fn' },
      blobOf(layer),
      destination,
    );
    expect(readFileSync(destination).equals(layer.bytes)).toBe(true);
    expect(seenAuthorization).toEqual([undefined]);
    expect(redirecting.blobGets(layer.digest)).toBe(2); // the 401, then the authorized GET that redirected
  });
});

describe('registry authentication', () => {
  const credentials = { username: 'deployer', password: 'correct horse battery staple' };

  it('uses Basic credentials when the registry asks for them', async () => {
    const { host } = await registry({ basicAuth: credentials });
    const image = await smallImage('private');
    await pushImage(host, 'team/private', 'v1', image, credentials);
    const asked: string[] = [];
    const authorized = client({
      credentials: (registryHost) => {
        asked.push(registryHost);
        return credentials;
      },
    });
    const descriptor = await authorized.resolveImage(parseImageReference(`${host}/team/private:v1`));
    expect(descriptor.manifestDigest).toBe(image.manifestDigest);
    const destination = path.join(tempDir(), 'layer');
    await authorized.downloadBlob(
      { registry: host, repository: 'team/private' },
      descriptor.layers[0]!,
      destination,
    );
    expect(readFileSync(destination).equals(image.layers[0]!.bytes)).toBe(true);
    expect(new Set(asked)).toEqual(new Set([host]));
  });

  it('fails with REGISTRY_AUTH_FAILED for wrong or missing credentials, without echoing them', async () => {
    const { host } = await registry({ basicAuth: credentials });
    await pushImage(host, 'team/private', 'v1', await smallImage('private'), credentials);
    const reference = parseImageReference(`${host}/team/private:v1`);
    const wrong = { username: 'deployer', password: 'a-wrong-password-123' };
    const error = await client({ credentials: () => wrong })
      .resolveImage(reference)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StratoError);
    expect((error as StratoError).code).toBe('REGISTRY_AUTH_FAILED');
    expect(
      JSON.stringify({ message: (error as StratoError).message, details: (error as StratoError).details }),
    ).not.toContain(wrong.password);
    await expectCode(client().resolveImage(reference), 'REGISTRY_AUTH_FAILED');
  });

  it('gets a bearer token from the realm (with Basic credentials) and reuses it', async () => {
    const { host } = await registry();
    const image = await smallImage('bearer');
    await pushImage(host, 'team/fn', 'v1', image);
    const tokenProxy = await proxy(host, { bearer: credentials });
    const authorized = client({ credentials: () => credentials });
    const descriptor = await authorized.resolveImage(parseImageReference(`${tokenProxy.host}/team/fn:v1`));
    expect(descriptor.manifestDigest).toBe(image.manifestDigest);
    const dir = tempDir();
    await Promise.all(
      descriptor.layers.map((layer, position) =>
        authorized.downloadBlob(
          { registry: tokenProxy.host, repository: 'team/fn' },
          layer,
          path.join(dir, `l${position}`),
        ),
      ),
    );
    expect(readdirSync(dir).sort()).toEqual(['l0', 'l1']);
    const tokenRequests = tokenProxy.requests.filter((request) => request.path.startsWith('/token'));
    expect(tokenRequests).toHaveLength(1);
    const tokenUrl = new URL(tokenRequests[0]!.path, 'http://proxy');
    expect(tokenUrl.searchParams.get('service')).toBe('test');
    expect(tokenUrl.searchParams.get('scope')).toBe('repository:team/fn:pull');
    for (const layer of image.layers) expect(tokenProxy.blobGets(layer.digest)).toBe(1);
  });

  it('fails with REGISTRY_AUTH_FAILED when the token service refuses the credentials or none are given', async () => {
    const { host } = await registry();
    await pushImage(host, 'team/fn', 'v1', await smallImage('bearer'));
    const tokenProxy = await proxy(host, { bearer: credentials });
    const reference = parseImageReference(`${tokenProxy.host}/team/fn:v1`);
    await expectCode(
      client({ credentials: () => ({ username: 'deployer', password: 'nope' }) }).resolveImage(reference),
      'REGISTRY_AUTH_FAILED',
    );
    await expectCode(client().resolveImage(reference), 'REGISTRY_AUTH_FAILED');
  });
});

describe('test harness', () => {
  it('pushBlob skips a blob the registry has (HEAD first)', async () => {
    const { host } = await registry();
    const counting = await proxy(host);
    const image = await smallImage('one');
    await pushImage(counting.host, 'team/fn', 'v1', image);
    const uploadsBefore = counting.requests.filter((request) => request.method === 'POST').length;
    await pushBlob(counting.host, 'team/fn', image.config, image.configDigest);
    expect(counting.requests.filter((request) => request.method === 'POST').length).toBe(uploadsBefore);
    expect(uploadsBefore).toBe(3);
  });
});
