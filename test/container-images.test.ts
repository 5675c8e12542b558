import {
  CreateFunctionCommand,
  GetFunctionCommand,
  InvokeCommand,
  LambdaClient,
} from '@aws-sdk/client-lambda';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StratoError } from '../src/core/strato-error.js';
import { expectCode } from './helpers/expect-code.js';
import {
  busyboxBaseLayer,
  busyboxRuntimeImage,
  buildImage,
  dockerSaveArchive,
  layerTar,
  nodeRuntimeImage,
  ociLayoutArchive,
  type BuiltImage,
} from './helpers/oci-image-builder.js';
import { pushImage, startRegistry, startRegistryProxy } from './helpers/oci-registry.js';
import { invokeJson, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

// Container-image functions end to end: a real docker-registry on loopback, images built by the tests, the
// real server with its container tier (crun or runc) and its node-local layer cache.

const credentials = { accessKeyId: 'STRATOIMAGEKEY000001', secretAccessKey: 'strato-image-secret-0001' };

type Registry = Awaited<ReturnType<typeof startRegistry>>;
type Proxy = Awaited<ReturnType<typeof startRegistryProxy>>;

let registry: Registry;
let proxy: Proxy;
let server: TestServer;
let cacheDir: string;

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startRegistryProxy(registry.host);
  cacheDir = mkdtempSync(path.join(os.tmpdir(), 'strato-images-'));
  server = await startTestServer({ imageCacheDir: cacheDir, lambdaCredentials: [credentials] });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await proxy?.stop();
  await registry?.stop();
  rmSync(cacheDir, { recursive: true, force: true });
});

/** A busybox image whose handler prints `{"says": "<word>", "event": <event>}`. */
function sayingImage(word: string): Promise<BuiltImage> {
  return busyboxRuntimeImage({ script: `printf '{"says":"${word}","event":'; cat "$1"; printf '}'` });
}

describe('container-image functions from a registry', () => {
  it('deploys by tag, pins the digest, and the first call finds a warm instance', async () => {
    const name = uniqueName('img-tag');
    const first = await sayingImage('one');
    await pushImage(registry.host, `team/${name}`, 'latest', first);

    const deployed = await server.client.deploy(name, { image: `${proxy.host}/team/${name}:latest` });
    expect(deployed.version.config.image).toEqual({
      reference: `${proxy.host}/team/${name}:latest`,
      manifestDigest: first.manifestDigest,
    });
    // The deploy started a warm-up instance; the first real call reuses it.
    expect(server.scheduler.list(name)).toHaveLength(1);
    expect(await invokeJson(server.client, name, { n: 1 })).toMatchObject({
      status: 200,
      body: { says: 'one', event: { n: 1 } },
      cold: false,
    });

    // A new image under the same tag changes nothing deployed; a new deploy pins the new digest.
    const second = await sayingImage('two');
    await pushImage(registry.host, `team/${name}`, 'latest', second);
    server.scheduler.evictIdle(name);
    expect(await invokeJson(server.client, name, { n: 2 })).toMatchObject({ body: { says: 'one' } });
    const redeployed = await server.client.deploy(name, { image: `${proxy.host}/team/${name}:latest` });
    expect(redeployed.version.config.image?.manifestDigest).toBe(second.manifestDigest);
    expect(await invokeJson(server.client, name, { n: 3 })).toMatchObject({ body: { says: 'two' } });
    expect(
      await invokeJson(server.client, name, { n: 4 }, { version: String(deployed.version.version) }),
    ).toMatchObject({ body: { says: 'one', event: { n: 4 } } });
  });

  it('shares cached layers between functions: the second image fetches and unpacks only its new layer', async () => {
    const base = await layerTar(busyboxBaseLayer());
    const first = await sayingImage('first');
    const second = await sayingImage('second');
    // Same base layer bytes, different runtime layers.
    expect(first.layers[0]!.digest).toBe(second.layers[0]!.digest);
    expect(first.layers[0]!.bytes.equals(base)).toBe(true);
    const [nameA, nameB] = [uniqueName('img-share-a'), uniqueName('img-share-b')];
    await pushImage(registry.host, `team/${nameA}`, 'v1', first);
    await pushImage(registry.host, `team/${nameB}`, 'v1', second);

    const progressA: unknown[] = [];
    await server.client.pullImage(`${proxy.host}/team/${nameA}:v1`, {
      onProgress: (event) => progressA.push(event),
    });
    const progressB: Array<{ kind: string; digest?: string; state?: string }> = [];
    const pulledB = await server.client.pullImage(`${proxy.host}/team/${nameB}:v1`, {
      onProgress: (event) => progressB.push(event),
    });
    const statesB = new Map(
      progressB.filter((event) => event.kind === 'layer').map((event) => [event.digest, event.state]),
    );
    expect(statesB.get(second.layers[0]!.digest)).toBe('cached');
    expect(statesB.get(second.layers[1]!.digest)).toBe('unpacked');
    // The shared base crossed the wire once (if the base was cached before this test, not at all).
    expect(proxy.blobGets(second.layers[0]!.digest)).toBeLessThanOrEqual(1);
    expect(proxy.blobGets(second.layers[1]!.digest)).toBe(1);

    await server.client.deploy(nameB, { image: pulledB.imageId });
    expect(await invokeJson(server.client, nameB, {})).toMatchObject({ body: { says: 'second' } });
  });

  it('fails a deploy clearly when the image cannot be had, and publishes nothing', async () => {
    const name = uniqueName('img-missing');
    await expectCode(
      server.client.deploy(name, { image: `${proxy.host}/team/${name}:nope` }),
      'IMAGE_NOT_FOUND',
    );
    await expectCode(server.client.getFunction(name), 'FUNCTION_NOT_FOUND');
    await expectCode(server.client.deploy(name, { image: 'no-registry-named' }), 'INVALID_IMAGE_REFERENCE');
    await expectCode(server.client.deploy(name, { image: '127.0.0.1:1/team/x:latest' }), 'IMAGE_PULL_FAILED');
    await expectCode(server.client.deploy(name, { image: `sha256:${'0'.repeat(64)}` }), 'IMAGE_NOT_FOUND');
    // An artifact that is not an image (a JavaScript bundle's) is no image either.
    const bundle = await server.client.deploy(uniqueName('img-bundle'), {
      code: 'module.exports = () => 1;',
    });
    await expectCode(
      server.client.deploy(name, { image: `sha256:${bundle.version.codeSha256}` }),
      'IMAGE_NOT_FOUND',
    );
  });
});

describe('strato deploy --image and --image-archive', () => {
  const run = promisify(execFile);
  const strato = (...args: string[]) =>
    run(process.execPath, [path.resolve('bin/strato.js'), ...args, '--url', server.url], {
      env: { ...process.env, STRATO_URL: '', STRATO_API_KEY: server.apiKey },
    });

  it('deploys from a registry with progress, and from a tarball', async () => {
    if (!existsSync('dist/cli/main.js'))
      throw new Error('dist/ is missing: run `npm run build` (npm test does)');
    const name = uniqueName('img-cli');
    const image = await sayingImage('cli');
    await pushImage(registry.host, `team/${name}`, 'v1', image);
    const pulled = await strato('deploy', '--image', `${registry.host}/team/${name}:v1`);
    expect(pulled.stderr).toContain(`resolved ${image.manifestDigest} (2 layers`);
    expect(pulled.stderr).toMatch(/layer [0-9a-f]{12} (cached|unpacked)/);
    // The function is named after the repository's last component.
    expect(pulled.stdout).toContain(`deployed ${name} version 1 (${registry.host}/team/${name}:v1@sha256:`);
    const invoked = await strato('invoke', name, '--data', '{"via":"cli"}');
    expect(JSON.parse(invoked.stdout)).toEqual({ says: 'cli', event: { via: 'cli' } });

    const dir = mkdtempSync(path.join(os.tmpdir(), 'strato-cli-image-'));
    try {
      const tarball = path.join(dir, 'image.tar');
      writeFileSync(tarball, await dockerSaveArchive(image));
      const archiveName = uniqueName('img-cli-archive');
      const archived = await strato('deploy', '--image-archive', tarball, '--name', archiveName);
      expect(archived.stdout).toContain(`deployed ${archiveName} version 1 (archive sha256:`);
      const fromArchive = await strato('invoke', archiveName, '--data', '{"via":"tar"}');
      expect(JSON.parse(fromArchive.stdout)).toEqual({ says: 'cli', event: { via: 'tar' } });
      const unnamed = await strato('deploy', '--image-archive', tarball).catch((error: unknown) => error);
      expect((unnamed as { stderr: string }).stderr).toContain('--image-archive needs --name');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('images built for AWS Lambda', () => {
  it("runs a Node image (this machine's node and its libraries) created through the Lambda API", async () => {
    const name = uniqueName('img-node');
    const image = await nodeRuntimeImage({
      handler: `exports.handler = async (event, context) => ({ node: process.version, event, id: context.awsRequestId, uid: process.getuid() });\n`,
    });
    await pushImage(registry.host, `team/${name}`, 'v1', image);
    const lambda = new LambdaClient({
      endpoint: server.url,
      region: 'eu-central-1',
      credentials,
      maxAttempts: 1,
    });
    try {
      const created = await lambda.send(
        new CreateFunctionCommand({
          FunctionName: name,
          PackageType: 'Image',
          Code: { ImageUri: `${registry.host}/team/${name}:v1` },
          Role: 'arn:aws:iam::123456789012:role/ignored',
          MemorySize: 256,
        }),
      );
      expect(created).toMatchObject({ FunctionName: name, PackageType: 'Image', MemorySize: 256 });
      const got = await lambda.send(new GetFunctionCommand({ FunctionName: name }));
      expect(got.Code).toMatchObject({
        RepositoryType: 'ECR',
        ImageUri: `${registry.host}/team/${name}:v1`,
        ResolvedImageUri: `${registry.host}/team/${name}@${image.manifestDigest}`,
      });
      const invoked = await lambda.send(
        new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify({ hello: 'node' })) }),
      );
      expect(invoked.FunctionError).toBeUndefined();
      const body = JSON.parse(Buffer.from(invoked.Payload!).toString('utf8')) as Record<string, unknown>;
      expect(body).toMatchObject({ node: process.version, event: { hello: 'node' }, uid: 65534 });
      expect(typeof body['id']).toBe('string');
    } finally {
      lambda.destroy();
    }
  }, 60_000);
});

describe('50 concurrent first invocations after the node lost its cache', () => {
  it('fetches and unpacks every layer exactly once', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'strato-burst-'));
    const burstCache = mkdtempSync(path.join(os.tmpdir(), 'strato-burst-images-'));
    const name = uniqueName('img-burst');
    // Layers of its own, so no other test's pull counts.
    const image = await busyboxRuntimeImage({
      script: 'cat "$1"',
      extraLayers: [[{ path: `marker-${name}`, content: name }]],
    });
    await pushImage(registry.host, `team/${name}`, 'v1', image);
    let first: TestServer | undefined = await startTestServer({ dataDir, imageCacheDir: burstCache });
    try {
      await first.client.deploy(name, { image: `${proxy.host}/team/${name}:v1`, concurrency: 50 });
    } finally {
      await first.stop();
      first = undefined;
    }
    // Same store, empty cache: the pinned image must come back by digest, once per layer, under a burst.
    rmSync(burstCache, { recursive: true, force: true });
    const before = image.layers.map((layer) => proxy.blobGets(layer.digest));
    const second = await startTestServer({ dataDir, imageCacheDir: burstCache });
    try {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => invokeJson(second.client, name, { i })),
      );
      expect(results.map((result) => result.status)).toEqual(Array.from({ length: 50 }, () => 200));
      results.forEach((result, i) => expect(result.body).toEqual({ i }));
      const after = image.layers.map((layer) => proxy.blobGets(layer.digest));
      expect(after.map((count, i) => count - before[i]!)).toEqual(image.layers.map(() => 1));
    } finally {
      await second.stop();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(burstCache, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('container-image functions from tarballs', () => {
  it('deploys the same image from a docker save archive and an OCI layout', async () => {
    const image = await sayingImage('archived');
    for (const tarball of [await dockerSaveArchive(image), await ociLayoutArchive(image)]) {
      const imported = await server.client.importImageArchive(tarball);
      expect(imported.layers).toBe(image.layers.length);
      const name = uniqueName('img-archive');
      const deployed = await server.client.deploy(name, { image: imported.imageId });
      expect(deployed.version.config.image?.reference).toBe('archive');
      expect(await invokeJson(server.client, name, { a: 1 })).toMatchObject({
        status: 200,
        body: { says: 'archived', event: { a: 1 } },
      });
    }
  });

  it('rejects a layer that escapes its root and a layer bomb, with their codes', async () => {
    const traversal = await buildImage({
      layers: [busyboxBaseLayer(), [{ path: '../../escaped', content: 'x' }]],
      config: { entrypoint: ['/bin/sh'] },
    });
    const traversalError = await server.client
      .importImageArchive(await ociLayoutArchive(traversal))
      .catch((error: unknown) => error);
    expect(traversalError).toBeInstanceOf(StratoError);
    expect((traversalError as StratoError).code).toBe('INVALID_LAYER');

    // 300 MB of zeros compresses to ~300 KB: far past the 200:1 ratio.
    const bomb = await buildImage({
      layers: [[{ path: 'zeros', content: Buffer.alloc(300 * 1024 * 1024) }]],
      config: { entrypoint: ['/zeros'] },
    });
    await expectCode(server.client.importImageArchive(await ociLayoutArchive(bomb)), 'IMAGE_TOO_LARGE');
    const stillHealthy = await fetch(`${server.url}/healthz`);
    expect(stillHealthy.status).toBe(200);
  }, 60_000);
});

describe('the container sandbox through the server', () => {
  it('gives a function no network, its memory limit, and a read-only root with a writable /tmp', async () => {
    const name = uniqueName('img-limits');
    const image = await busyboxRuntimeImage({
      script: [
        'case "$(cat "$1")" in',
        `  *net*) if wget -q -T 2 -O - "${server.url}/healthz" >/dev/null 2>&1; then echo '"reached"'; else echo '"unreachable"'; fi ;;`,
        `  *root*) if touch /planted 2>/dev/null; then echo '"wrote"'; else echo '"read-only"'; fi ;;`,
        `  *tmp*) echo ok > /tmp/x && echo '"tmp-ok"' ;;`,
        // A subshell of the handler holds 200 MB: the kernel kills it, the runtime loop lives on.
        '  *memory*) V=$(head -c 209715200 /dev/zero | tr "\\0" x); echo "\\"survived ${#V}\\"" ;;',
        'esac',
      ].join('\n'),
    });
    const imported = await server.client.importImageArchive(await ociLayoutArchive(image));
    await server.client.deploy(name, { image: imported.imageId, memoryMb: 32 });
    expect(await invokeJson(server.client, name, 'net')).toMatchObject({ status: 200, body: 'unreachable' });
    expect(await invokeJson(server.client, name, 'root')).toMatchObject({ status: 200, body: 'read-only' });
    expect(await invokeJson(server.client, name, 'tmp')).toMatchObject({ status: 200, body: 'tmp-ok' });
    const oom = await invokeJson(server.client, name, 'memory');
    expect(oom.status).toBe(502);
    expect(oom.body).toMatchObject({ error: { code: 'OUT_OF_MEMORY' } });
  }, 60_000);
});

describe('image garbage collection', () => {
  it('removes layers no version pins and keeps the ones in use', async () => {
    const [keptName, goneName] = [uniqueName('img-gc-kept'), uniqueName('img-gc-gone')];
    const kept = await sayingImage(`kept-${keptName}`);
    const gone = await sayingImage(`gone-${goneName}`);
    await server.client.deploy(keptName, {
      image: (await server.client.importImageArchive(await ociLayoutArchive(kept))).imageId,
    });
    await server.client.deploy(goneName, {
      image: (await server.client.importImageArchive(await ociLayoutArchive(gone))).imageId,
    });
    await server.client.deleteFunction(goneName);
    const { collected } = await server.client.collectImageGarbage({ grace: 0 });
    expect(collected.removedLayers).toContain(gone.layers[1]!.diffId);
    expect(collected.removedLayers).not.toContain(kept.layers[1]!.diffId);
    // The shared base stays: a live version pins it.
    expect(collected.removedLayers).not.toContain(kept.layers[0]!.diffId);
    server.scheduler.evictIdle(keptName);
    expect(await invokeJson(server.client, keptName, {})).toMatchObject({
      status: 200,
      body: { says: `kept-${keptName}` },
    });
  });
});

describe('private registries', () => {
  let privateRegistry: Registry;
  let bearerProxy: Proxy;
  beforeAll(async () => {
    privateRegistry = await startRegistry({ basicAuth: { username: 'alice', password: 'wonderland' } });
    bearerProxy = await startRegistryProxy(registry.host, {
      bearer: { username: 'bob', password: 'builder' },
    });
  }, 60_000);
  afterAll(async () => {
    await bearerProxy?.stop();
    await privateRegistry?.stop();
  });

  it('pulls with basic auth given at deploy, and refuses without it', async () => {
    const name = uniqueName('img-basic');
    const image = await sayingImage('private');
    await pushImage(privateRegistry.host, `team/${name}`, 'v1', image, {
      username: 'alice',
      password: 'wonderland',
    });
    const reference = `${privateRegistry.host}/team/${name}:v1`;
    await expectCode(server.client.deploy(name, { image: reference }), 'REGISTRY_AUTH_FAILED');
    await expectCode(
      server.client.deploy(name, { image: reference, registryAuth: { username: 'alice', password: 'nope' } }),
      'REGISTRY_AUTH_FAILED',
    );
    await server.client.deploy(name, {
      image: reference,
      registryAuth: { username: 'alice', password: 'wonderland' },
    });
    expect(await invokeJson(server.client, name, {})).toMatchObject({ body: { says: 'private' } });
  });

  it('pulls through a bearer-token challenge', async () => {
    const name = uniqueName('img-bearer');
    await pushImage(registry.host, `team/${name}`, 'v1', await sayingImage('bearer'));
    const reference = `${bearerProxy.host}/team/${name}:v1`;
    await expectCode(server.client.deploy(name, { image: reference }), 'REGISTRY_AUTH_FAILED');
    await server.client.deploy(name, {
      image: reference,
      registryAuth: { username: 'bob', password: 'builder' },
    });
    expect(await invokeJson(server.client, name, {})).toMatchObject({ body: { says: 'bearer' } });
  });
});
