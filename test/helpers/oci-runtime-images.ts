// Runnable test images: a busybox shell runtime and a Node runtime, each polling the AWS Lambda Runtime API,
// so a container-image function built here runs unmodified under any Lambda-compatible runtime.
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  buildImage,
  OCI_LAYER_GZIP,
  sha256Digest,
  tarOf,
  withLayers,
  type BuiltImage,
  type LayerSpec,
} from './oci-image-build.js';

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
 * response body, and what it writes to fd 3 goes to the function's log. A non-zero exit is reported to `/error` as `HandlerError` (its stderr becomes the message).
 * Scratch files live in `$TMPDIR` (default /tmp), which Lambda-compatible runtimes make writable.
 */
export function busyboxBootstrapScript(handler: string = ECHO_HANDLER): string {
  return `#!/bin/sh
# Lambda Runtime API loop (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) with busybox wget.
API="http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
WORK="\${TMPDIR:-/tmp}/runtime.$$"
mkdir -p "$WORK"
# The handler's stderr becomes its error message; fd 3 stays the runtime's stderr, the function's log.
exec 3>&2
# The Runtime API is never reached through an egress proxy: busybox wget reads no no_proxy, so it is told.
api() { http_proxy= HTTP_PROXY= wget "$@"; }
handler() {
${handler}
}
while true; do
  # -S prints the response headers (to stderr); the request id is one of them.
  if ! api -q -S -O "$WORK/event" "$API/invocation/next" 2>"$WORK/headers"; then
    sleep 1
    continue
  fi
  REQUEST_ID=$(grep -i '^ *lambda-runtime-aws-request-id:' "$WORK/headers" | head -n 1 | sed 's/^[^:]*: *//' | tr -d '\\r ')
  EVENT_FILE="$WORK/event"
  export REQUEST_ID EVENT_FILE
  if (handler "$EVENT_FILE") >"$WORK/response" 2>"$WORK/stderr"; then
    api -q -O /dev/null --header 'Content-Type: application/json' --post-file "$WORK/response" \\
      "$API/invocation/$REQUEST_ID/response"
  else
    message=$(tr -d '"\\\\\\r\\n' <"$WORK/stderr" | head -c 500)
    printf '{"errorType":"HandlerError","errorMessage":"%s"}' "$message" >"$WORK/error"
    api -q -O /dev/null --header 'Content-Type: application/json' \\
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
