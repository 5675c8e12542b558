// Builds OCI images in memory for tests: layers from entry lists (written verbatim, so a test can build a
// malicious layer), the image config and manifest with their exact bytes and digests, runnable presets
// (busybox shell runtime, Node runtime) and the two archive formats Strato imports (docker save, OCI layout).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import type { BuiltImage } from './oci-image-types.js';

export type { BuiltImage } from './oci-image-types.js';

type Digest = `sha256:${string}`;

/** One tar entry of a layer, written exactly as given (no path normalisation, no safety checks). */
export interface LayerEntry {
  /** The tar entry name as written (`usr/bin/busybox`, `../escape`, `/abs`, `a/.wh.b`, ...). */
  path: string;
  /** @default 'file' */
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'fifo';
  /** File contents (files only). @default empty */
  content?: string | Buffer;
  /** Permission bits (and setuid/setgid/sticky). @default 0o644 for files and hardlinks, 0o755 for dirs, 0o777 for symlinks */
  mode?: number;
  /** Target of a symlink (as written) or hardlink (an entry name of the archive). */
  linkname?: string;
  /** @default 0 */
  uid?: number;
  /** @default 0 */
  gid?: number;
  /** Device numbers of a `char` entry. @default 0 */
  devmajor?: number;
  devminor?: number;
}

/** The entries of one layer, in archive order. */
export type LayerSpec = LayerEntry[];

/** The runnable part of the image config (`config` of the config JSON). Omitted fields are left out of the JSON. */
export interface ImageConfigSpec {
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
}

export interface BuildImageOptions {
  layers: LayerSpec[];
  config?: ImageConfigSpec;
  /** Gzip the layers (`…tar+gzip`) or store plain tars (`…tar`). @default true */
  gzip?: boolean;
  /**
   * `oci`: OCI manifest and media types. `docker`: Docker v2 schema2 manifest
   * (`application/vnd.docker.distribution.manifest.v2+json`, gzip layers as `…rootfs.diff.tar.gzip`).
   * @default 'oci'
   */
  format?: 'oci' | 'docker';
  /** Overrides every layer's media type in the manifest (bytes unchanged), e.g. to claim zstd. */
  layerMediaType?: string;
  /** The config's `os`/`architecture`. @default { os: 'linux', architecture: 'amd64' } */
  platform?: { os: string; architecture: string };
  /** Overrides the config's `rootfs.diff_ids` (to build an inconsistent image). */
  diffIds?: string[];
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

/** A fixed mtime, so the same spec always yields the same bytes and digests. */
const EPOCH = new Date('2024-01-01T00:00:00Z');

export function sha256Digest(bytes: Buffer): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function hexOf(digest: Digest): string {
  return digest.slice('sha256:'.length);
}

const tarTypes = {
  file: 'file',
  dir: 'directory',
  symlink: 'symlink',
  hardlink: 'link',
  char: 'character-device',
  fifo: 'fifo',
} as const;

/** A tar of `entries` exactly as given (gzipped when `gzip`, deterministic bytes). */
export async function layerTar(entries: LayerSpec, gzip = true): Promise<Buffer> {
  const plain = await tarOf(entries);
  return gzip ? gzipSync(plain) : plain;
}

async function tarOf(entries: LayerSpec): Promise<Buffer> {
  const pack = tar.pack();
  const collected = collect(pack);
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const content = type === 'file' ? toBuffer(entry.content ?? '') : undefined;
    const header: Partial<tar.Header> & { name: string } = {
      name: entry.path,
      type: tarTypes[type],
      mode: entry.mode ?? (type === 'dir' ? 0o755 : type === 'symlink' ? 0o777 : 0o644),
      uid: entry.uid ?? 0,
      gid: entry.gid ?? 0,
      mtime: EPOCH,
      size: content?.length ?? 0,
      linkname: entry.linkname ?? '',
      devmajor: entry.devmajor ?? 0,
      devminor: entry.devminor ?? 0,
    };
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error | null) => (error ? reject(error) : resolve());
      if (content === undefined) pack.entry(header, done);
      else pack.entry(header, content, done);
    });
  }
  pack.finalize();
  return collected;
}

function toBuffer(content: string | Buffer): Buffer {
  return typeof content === 'string' ? Buffer.from(content) : content;
}

function collect(stream: tar.Pack): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/**
 * Builds an image: each layer as a tar (gzip by default), the config JSON with `rootfs.diff_ids`, and the
 * manifest, all with their exact bytes and sha256 digests. The manifest is canonical JSON (no whitespace,
 * keys in the order schemaVersion, mediaType, config, layers), the same form Strato synthesizes for a
 * docker-save archive, so both yield the same manifest digest.
 */
export async function buildImage(options: BuildImageOptions): Promise<BuiltImage> {
  const gzip = options.gzip ?? true;
  const format = options.format ?? 'oci';
  const layers: BuiltImage['layers'] = [];
  for (const spec of options.layers) {
    const plain = await tarOf(spec);
    const bytes = gzip ? gzipSync(plain) : plain;
    const mediaType =
      options.layerMediaType ??
      (format === 'docker' ? DOCKER_LAYER_GZIP : gzip ? OCI_LAYER_GZIP : OCI_LAYER_TAR);
    layers.push({ digest: sha256Digest(bytes), mediaType, bytes, diffId: sha256Digest(plain) });
  }
  const run = options.config ?? {};
  const runConfig: Record<string, unknown> = {};
  if (run.user !== undefined) runConfig.User = run.user;
  if (run.env !== undefined) runConfig.Env = run.env;
  if (run.entrypoint !== undefined) runConfig.Entrypoint = run.entrypoint;
  if (run.cmd !== undefined) runConfig.Cmd = run.cmd;
  if (run.workingDir !== undefined) runConfig.WorkingDir = run.workingDir;
  const platform = options.platform ?? { os: 'linux', architecture: 'amd64' };
  const config = Buffer.from(
    JSON.stringify({
      created: EPOCH.toISOString(),
      architecture: platform.architecture,
      os: platform.os,
      config: runConfig,
      rootfs: { type: 'layers', diff_ids: options.diffIds ?? layers.map((layer) => layer.diffId) },
      history: layers.map(() => ({ created: EPOCH.toISOString(), created_by: 'oci-image-builder' })),
    }),
  );
  const configDigest = sha256Digest(config);
  const manifestMediaType = format === 'docker' ? DOCKER_MANIFEST : OCI_MANIFEST;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: manifestMediaType,
      config: {
        mediaType: format === 'docker' ? DOCKER_CONFIG : OCI_CONFIG,
        digest: configDigest,
        size: config.length,
      },
      layers: layers.map((layer) => ({
        mediaType: layer.mediaType,
        digest: layer.digest,
        size: layer.bytes.length,
      })),
    }),
  );
  return {
    manifest,
    manifestDigest: sha256Digest(manifest),
    manifestMediaType,
    config,
    configDigest,
    layers,
  };
}

/** An image index (or Docker manifest list): exact bytes, digest and media type. */
export interface BuiltIndex {
  bytes: Buffer;
  digest: Digest;
  mediaType: string;
}

export interface IndexEntry {
  image: BuiltImage;
  platform: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

/**
 * An OCI image index (or, with `format: 'docker'`, a manifest list) over `entries`. An attestation entry as
 * BuildKit writes it is `{ platform: { os: 'unknown', architecture: 'unknown' }, annotations:
 * { 'vnd.docker.reference.type': 'attestation-manifest', ... } }`.
 */
export function buildIndex(entries: IndexEntry[], format: 'oci' | 'docker' = 'oci'): BuiltIndex {
  const mediaType = format === 'docker' ? DOCKER_MANIFEST_LIST : OCI_INDEX;
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: entries.map((entry) => ({
        mediaType: entry.image.manifestMediaType,
        digest: entry.image.manifestDigest,
        size: entry.image.manifest.length,
        platform: entry.platform,
        ...(entry.annotations === undefined ? {} : { annotations: entry.annotations }),
      })),
    }),
  );
  return { bytes, digest: sha256Digest(bytes), mediaType };
}

// ---------------------------------------------------------------------------------------------------------
// Runnable presets

const BUSYBOX_PATH = '/usr/bin/busybox';

/** Applets linked as hardlinks (in usr/bin) rather than symlinks (in bin), so both link kinds get unpacked. */
const HARDLINKED_APPLETS = new Set(['wget', 'env', 'cat', 'sed']);

let busyboxLayerCache: LayerSpec | undefined;

/**
 * The base layer: the host's static busybox at /usr/bin/busybox, `bin/sh` and every other applet as an
 * absolute symlink to it (a few, like `usr/bin/wget`, as hardlinks), /etc/passwd, /etc/group and /tmp.
 */
export function busyboxBaseLayer(): LayerSpec {
  if (busyboxLayerCache !== undefined) return busyboxLayerCache;
  const binary = readFileSync(BUSYBOX_PATH);
  const applets = execFileSync(BUSYBOX_PATH, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .map((name) => name.trim())
    .filter((name) => name !== '' && name !== 'busybox' && !name.includes('/'));
  const layer: LayerSpec = [
    { path: 'bin/', type: 'dir' },
    { path: 'etc/', type: 'dir' },
    { path: 'tmp/', type: 'dir', mode: 0o1777 },
    { path: 'usr/', type: 'dir' },
    { path: 'usr/bin/', type: 'dir' },
    { path: 'usr/bin/busybox', content: binary, mode: 0o755 },
    {
      path: 'etc/passwd',
      content: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
    },
    { path: 'etc/group', content: 'root:x:0:\nnogroup:x:65534:\n' },
  ];
  for (const applet of applets) {
    layer.push(
      HARDLINKED_APPLETS.has(applet)
        ? { path: `usr/bin/${applet}`, type: 'hardlink', linkname: 'usr/bin/busybox', mode: 0o755 }
        : { path: `bin/${applet}`, type: 'symlink', linkname: BUSYBOX_PATH },
    );
  }
  busyboxLayerCache = layer;
  return layer;
}

/** The default handler of {@link busyboxRuntimeImage}: answers each event with the event itself. */
export const ECHO_HANDLER = 'cat "$EVENT_FILE"';

/**
 * A Lambda custom runtime in POSIX sh over busybox wget. `handler` is shell code run once per invocation
 * with `$EVENT_FILE` (the event JSON), `$REQUEST_ID` and `$1` (= `$EVENT_FILE`); what it prints is the
 * response body. A non-zero exit is reported to `/error` as `HandlerError` (its stderr becomes the message).
 * Scratch files live in `$TMPDIR` (default /tmp), which Lambda-compatible runtimes make writable.
 */
export function busyboxBootstrapScript(handler: string = ECHO_HANDLER): string {
  return `#!/bin/sh
# Lambda Runtime API loop (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) with busybox wget.
API="http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
WORK="\${TMPDIR:-/tmp}/runtime.$$"
mkdir -p "$WORK"
handler() {
${handler}
}
while true; do
  # -S prints the response headers (to stderr); the request id is one of them.
  if ! wget -q -S -O "$WORK/event" "$API/invocation/next" 2>"$WORK/headers"; then
    sleep 1
    continue
  fi
  REQUEST_ID=$(grep -i '^ *lambda-runtime-aws-request-id:' "$WORK/headers" | head -n 1 | sed 's/^[^:]*: *//' | tr -d '\\r ')
  EVENT_FILE="$WORK/event"
  export REQUEST_ID EVENT_FILE
  if (handler "$EVENT_FILE") >"$WORK/response" 2>"$WORK/stderr"; then
    wget -q -O /dev/null --header 'Content-Type: application/json' --post-file "$WORK/response" \\
      "$API/invocation/$REQUEST_ID/response"
  else
    message=$(tr -d '"\\\\\\r\\n' <"$WORK/stderr" | head -c 500)
    printf '{"errorType":"HandlerError","errorMessage":"%s"}' "$message" >"$WORK/error"
    wget -q -O /dev/null --header 'Content-Type: application/json' \\
      --header 'Lambda-Runtime-Function-Error-Type: HandlerError' --post-file "$WORK/error" \\
      "$API/invocation/$REQUEST_ID/error"
  fi
done
`;
}

export interface BusyboxRuntimeOptions {
  /** Shell code of the handler (see {@link busyboxBootstrapScript}). @default {@link ECHO_HANDLER} */
  script?: string;
  /** Layers added on top of the runtime layer. */
  extraLayers?: LayerSpec[];
  /** Extra `NAME=value` entries for the config's Env (after PATH). */
  env?: string[];
  /** @default true */
  gzip?: boolean;
}

/**
 * A runnable image: layer 1 is {@link busyboxBaseLayer}, layer 2 holds the executable
 * `/var/task/bootstrap` ({@link busyboxBootstrapScript}). Entrypoint `/var/task/bootstrap`, WorkingDir
 * `/var/task`, PATH over bin and usr/bin, so it runs unmodified under a Lambda-compatible runtime.
 */
export function busyboxRuntimeImage(options: BusyboxRuntimeOptions = {}): Promise<BuiltImage> {
  const runtimeLayer: LayerSpec = [
    { path: 'var/', type: 'dir' },
    { path: 'var/task/', type: 'dir' },
    { path: 'var/task/bootstrap', content: busyboxBootstrapScript(options.script), mode: 0o755 },
  ];
  return buildImage({
    layers: [busyboxBaseLayer(), runtimeLayer, ...(options.extraLayers ?? [])],
    config: {
      entrypoint: ['/var/task/bootstrap'],
      env: ['PATH=/usr/local/bin:/usr/bin:/bin', ...(options.env ?? [])],
      workingDir: '/var/task',
    },
    gzip: options.gzip ?? true,
  });
}

/** The default handler of {@link nodeRuntimeImage}: `{ event }`. */
export const NODE_ECHO_HANDLER = `exports.handler = async (event) => ({ event });\n`;

/**
 * A Lambda Runtime API client in plain Node (node:http, no timeouts on the long poll of /next): loads
 * `<module>.<export>` from its first argument (relative to LAMBDA_TASK_ROOT, default /var/task), then
 * answers each invocation with the handler's JSON result or reports its error.
 */
export const NODE_RUNTIME_CLIENT = `'use strict';
const http = require('node:http');
const path = require('node:path');
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const base = '/2018-06-01/runtime';
const [moduleName, exportName] = (process.argv[2] || process.env._HANDLER || 'index.handler').split('.');
const taskRoot = process.env.LAMBDA_TASK_ROOT || '/var/task';

function request(method, urlPath, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: Number(port), method, path: urlPath, headers }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ headers: res.headers, status: res.statusCode, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function errorBody(error) {
  return JSON.stringify({
    errorType: (error && error.name) || 'Error',
    errorMessage: (error && error.message) || String(error),
    stackTrace: error && error.stack ? String(error.stack).split('\\n') : [],
  });
}

async function main() {
  let handler;
  try {
    handler = require(path.join(taskRoot, moduleName))[exportName];
    if (typeof handler !== 'function') throw new Error(moduleName + '.' + exportName + ' is not a function');
  } catch (error) {
    await request('POST', base + '/init/error', errorBody(error), { 'content-type': 'application/json' });
    process.exit(1);
  }
  for (;;) {
    const next = await request('GET', base + '/invocation/next');
    const id = next.headers['lambda-runtime-aws-request-id'];
    let answer;
    try {
      const result = await handler(JSON.parse(next.body.toString('utf8')), { awsRequestId: id });
      answer = ['response', JSON.stringify(result === undefined ? null : result), {}];
    } catch (error) {
      answer = ['error', errorBody(error), { 'lambda-runtime-function-error-type': 'HandlerError' }];
    }
    await request('POST', base + '/invocation/' + encodeURIComponent(id) + '/' + answer[0], answer[1], {
      'content-type': 'application/json',
      ...answer[2],
    });
  }
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

let nodeLayerCache: Promise<Buffer> | undefined;

/**
 * The host's Node binary (process.execPath, resolved) at its own path and every shared library `ldd` lists
 * at the path ldd prints (the dynamic loader included), each as a regular file with the library's bytes.
 * Gzipped once per test process (the binary is ~100 MB).
 */
function nodeBaseLayerTar(): Promise<Buffer> {
  nodeLayerCache ??= (async () => {
    const nodePath = realpathSync(process.execPath);
    const files = new Map<string, number>([[nodePath, 0o755]]);
    const lddOutput = execFileSync('ldd', [nodePath], { encoding: 'utf8' });
    for (const line of lddOutput.split('\n')) {
      // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
      const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
      if (match?.[1] !== undefined) files.set(match[1], 0o755);
    }
    const entries: LayerSpec = [];
    const dirs = new Set<string>();
    for (const file of files.keys()) {
      const parts = file.split('/').filter((part) => part !== '');
      for (let depth = 1; depth < parts.length; depth += 1) dirs.add(`${parts.slice(0, depth).join('/')}/`);
    }
    for (const dir of [...dirs].sort()) entries.push({ path: dir, type: 'dir' });
    for (const [file, mode] of files) {
      const real = realpathSync(file);
      if (!statSync(real).isFile()) continue;
      entries.push({ path: file.slice(1), content: readFileSync(real), mode });
    }
    entries.push({ path: 'tmp/', type: 'dir', mode: 0o1777 });
    entries.push({ path: 'etc/', type: 'dir' });
    entries.push({
      path: 'etc/passwd',
      content: 'root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
    });
    return gzipSync(await tarOf(entries), { level: 1 });
  })();
  return nodeLayerCache;
}

export interface NodeRuntimeOptions {
  /** Source of /var/task/index.js (CommonJS, exports `handler`). @default {@link NODE_ECHO_HANDLER} */
  handler?: string;
}

/**
 * A runnable Node image: layer 1 is the host's Node and its shared libraries (gzip), layer 2 the runtime
 * client at /var/runtime/bootstrap.cjs and the handler at /var/task/index.js. Entrypoint
 * `[<node>, /var/runtime/bootstrap.cjs]`, Cmd `[index.handler]`.
 */
export async function nodeRuntimeImage(options: NodeRuntimeOptions = {}): Promise<BuiltImage> {
  const image = await buildImage({
    layers: [
      [],
      [
        { path: 'var/', type: 'dir' },
        { path: 'var/runtime/', type: 'dir' },
        { path: 'var/runtime/bootstrap.cjs', content: NODE_RUNTIME_CLIENT },
        { path: 'var/task/', type: 'dir' },
        { path: 'var/task/index.js', content: options.handler ?? NODE_ECHO_HANDLER },
      ],
    ],
    config: {
      entrypoint: [realpathSync(process.execPath), '/var/runtime/bootstrap.cjs'],
      cmd: ['index.handler'],
      env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'LAMBDA_TASK_ROOT=/var/task'],
      workingDir: '/var/task',
    },
  });
  // The base layer is built once; splice it in place of the empty placeholder and rebuild config+manifest.
  const baseBytes = await nodeBaseLayerTar();
  const base = {
    digest: sha256Digest(baseBytes),
    mediaType: OCI_LAYER_GZIP,
    bytes: baseBytes,
    diffId: sha256Digest(gunzipSync(baseBytes)),
  };
  return withLayers(image, [base, ...image.layers.slice(1)]);
}

/** `image` with these layers (config diff_ids and manifest rebuilt, everything else kept). */
function withLayers(image: BuiltImage, layers: BuiltImage['layers']): BuiltImage {
  const configJson = JSON.parse(image.config.toString('utf8')) as { rootfs: { diff_ids: string[] } };
  configJson.rootfs.diff_ids = layers.map((layer) => layer.diffId);
  const config = Buffer.from(JSON.stringify(configJson));
  const parsed = JSON.parse(image.manifest.toString('utf8')) as { config: { mediaType: string } };
  // Same key order as buildImage writes, so the manifest stays canonical.
  const manifest = Buffer.from(
    JSON.stringify({
      ...parsed,
      config: { mediaType: parsed.config.mediaType, digest: sha256Digest(config), size: config.length },
      layers: layers.map((layer) => ({
        mediaType: layer.mediaType,
        digest: layer.digest,
        size: layer.bytes.length,
      })),
    }),
  );
  return {
    ...image,
    manifest,
    manifestDigest: sha256Digest(manifest),
    config,
    configDigest: sha256Digest(config),
    layers,
  };
}

/** `image` with every gzip layer stored as its plain tar (`…layer.v1.tar`; digest = diff_id). */
export function uncompressedImage(image: BuiltImage): BuiltImage {
  return withLayers(
    image,
    image.layers.map((layer) => {
      if (!(layer.bytes[0] === 0x1f && layer.bytes[1] === 0x8b)) return layer;
      const bytes = gunzipSync(layer.bytes);
      return { digest: sha256Digest(bytes), mediaType: OCI_LAYER_TAR, bytes, diffId: layer.diffId };
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Archives

export interface DockerSaveOptions {
  /**
   * `legacy`: `<hex>/layer.tar` and `<hex>.json` (Docker < 25). `blobs`: `blobs/sha256/<hex>` for config and
   * layers plus `oci-layout`/`index.json` (Docker ≥ 25). @default 'legacy'
   */
  layout?: 'legacy' | 'blobs';
  /**
   * Write layers uncompressed, as `docker save` does (their digests are then the diff_ids). By default the
   * image's layer bytes are written as they are, so the archive's blobs have the BuiltImage's digests.
   * @default false
   */
  uncompressedLayers?: boolean;
}

/** A `docker save` tarball of `image` (manifest.json with Config, RepoTags, Layers). */
export async function dockerSaveArchive(
  image: BuiltImage,
  repoTag?: string,
  options: DockerSaveOptions = {},
): Promise<Buffer> {
  const layout = options.layout ?? 'legacy';
  const saved = options.uncompressedLayers === true ? uncompressedImage(image) : image;
  const entries: LayerSpec = [];
  const layerBytes = saved.layers.map((layer) => layer.bytes);
  const configName =
    layout === 'legacy' ? `${hexOf(saved.configDigest)}.json` : `blobs/sha256/${hexOf(saved.configDigest)}`;
  const layerNames = layerBytes.map((bytes) =>
    layout === 'legacy'
      ? `${hexOf(sha256Digest(bytes))}/layer.tar`
      : `blobs/sha256/${hexOf(sha256Digest(bytes))}`,
  );
  if (layout === 'blobs') {
    entries.push({ path: 'blobs/', type: 'dir' }, { path: 'blobs/sha256/', type: 'dir' });
  }
  entries.push({ path: configName, content: saved.config });
  const written = new Set<string>();
  layerBytes.forEach((bytes, position) => {
    const name = layerNames[position] ?? '';
    if (written.has(name)) return;
    written.add(name);
    if (layout === 'legacy') {
      const dir = name.slice(0, -'layer.tar'.length);
      entries.push({ path: dir, type: 'dir' }, { path: `${dir}VERSION`, content: '1.0' });
      entries.push({ path: `${dir}json`, content: JSON.stringify({ id: dir.slice(0, -1) }) });
    }
    entries.push({ path: name, content: bytes });
  });
  entries.push({
    path: 'manifest.json',
    content: JSON.stringify([
      { Config: configName, RepoTags: repoTag === undefined ? null : [repoTag], Layers: layerNames },
    ]),
  });
  if (layout === 'blobs') entries.push(...ociLayoutEntries(saved, false));
  else if (repoTag !== undefined) {
    const [repository, tag] = splitRepoTag(repoTag);
    const top = layerNames.at(-1)?.split('/')[0] ?? '';
    entries.push({ path: 'repositories', content: JSON.stringify({ [repository]: { [tag]: top } }) });
  }
  return tarOf(entries);
}

function splitRepoTag(repoTag: string): [string, string] {
  const colon = repoTag.lastIndexOf(':');
  return colon > repoTag.lastIndexOf('/')
    ? [repoTag.slice(0, colon), repoTag.slice(colon + 1)]
    : [repoTag, 'latest'];
}

export interface OciLayoutOptions {
  /** Put the manifest behind a nested index (index.json → index → manifest, with a linux/amd64 platform). */
  nestedIndex?: boolean;
  /** Entries to add to the archive (a test's extra or malicious entries). */
  extraEntries?: LayerSpec;
}

/** An OCI image layout tarball of `image`: `oci-layout`, `index.json`, `blobs/sha256/<hex>`. */
export async function ociLayoutArchive(image: BuiltImage, options: OciLayoutOptions = {}): Promise<Buffer> {
  const entries: LayerSpec = [
    { path: 'blobs/', type: 'dir' },
    { path: 'blobs/sha256/', type: 'dir' },
    { path: `blobs/sha256/${hexOf(image.configDigest)}`, content: image.config },
  ];
  const written = new Set<string>();
  for (const layer of image.layers) {
    if (written.has(layer.digest)) continue;
    written.add(layer.digest);
    entries.push({ path: `blobs/sha256/${hexOf(layer.digest)}`, content: layer.bytes });
  }
  entries.push(...ociLayoutEntries(image, options.nestedIndex ?? false), ...(options.extraEntries ?? []));
  return tarOf(entries);
}

/** `oci-layout`, the manifest blob and `index.json` (the archive's own entries except config and layers). */
function ociLayoutEntries(image: BuiltImage, nestedIndex: boolean): LayerSpec {
  const entries: LayerSpec = [
    { path: 'oci-layout', content: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    { path: `blobs/sha256/${hexOf(image.manifestDigest)}`, content: image.manifest },
  ];
  let top = { mediaType: image.manifestMediaType, digest: image.manifestDigest, size: image.manifest.length };
  if (nestedIndex) {
    const index = buildIndex([{ image, platform: { os: 'linux', architecture: 'amd64' } }]);
    entries.push({ path: `blobs/sha256/${hexOf(index.digest)}`, content: index.bytes });
    top = { mediaType: index.mediaType, digest: index.digest, size: index.bytes.length };
  }
  entries.push({
    path: 'index.json',
    content: JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
    }),
  });
  return entries;
}
