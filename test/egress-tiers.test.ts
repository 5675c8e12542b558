import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { detectConfinement } from '../src/sandbox/process/index.js';
import { invokeJson, startTestServer, uniqueName, type TestServer } from './helpers/server.js';
import { deployShell, type ShellTier } from './security/support/tier-deploy.js';
import { deployNodeZip } from './helpers/zip.js';

// Egress of the process and container tiers: real confined processes and real crun/runc containers whose only
// way out is their instance's egress proxy (src/sandbox/egress/egress-proxy.ts), forwarded into their network
// namespace on 127.0.0.1:9002. The target is a real HTTP server on the host's loopback, which the policy
// blocks unless the operator opens it: `opened` lists 127.0.0.1/32 in egressAllowedNetworks, `locked` does not.
//
// The handler (sh, the same busybox on both tiers) is driven by the event: `env` prints the proxy variables,
// `wget` fetches http://<target>/via-wget with busybox wget (which honours http_proxy; its -T segfaults in Debian 12's 1.35), `connect` speaks
// CONNECT to the proxy with nc and sends a GET through the tunnel, `direct` connects to <target> with nc.
const HANDLER = String.raw`ev=$(cat "$1")
field() { printf %s "$ev" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
mode=$(field mode)
target=$(field target)
bb=/usr/bin/busybox
case "$mode" in
  env) out=$(env | grep -i '_proxy=' | sort) ;;
  wget) out=$($bb wget -q -O - "http://$target/via-wget" 2>&1) ;;
  connect) out=$( { printf 'CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n' "$target" "$target"; sleep 0.5; printf 'GET /via-connect HTTP/1.0\r\nHost: %s\r\n\r\n' "$target"; sleep 1; } | $bb nc 127.0.0.1 9002 2>&1) ;;
  direct) out=$( { printf 'GET /direct HTTP/1.0\r\n\r\n'; sleep 0.5; } | $bb nc "$(echo "$target" | cut -d: -f1)" "$(echo "$target" | cut -d: -f2)" 2>&1) ;;
esac
printf '"%s"' "$(printf %s "$out" | tr -d '"\\\r' | tr '\n' '|' | head -c 3000)"`;

const support = await detectConfinement();
const ociRuntime = ['/usr/bin/crun', '/usr/sbin/runc', '/usr/bin/runc'].find((file) => existsSync(file));
const tiers: Array<{ tier: ShellTier; unavailable: string | undefined }> = [
  { tier: 'process', unavailable: support.ok ? undefined : support.reason },
  {
    tier: 'container',
    unavailable: ociRuntime === undefined ? 'neither crun nor runc is installed' : undefined,
  },
];

let sink: http.Server;
let sinkTarget: string;
let sinkPort: number;
const hits: string[] = [];
/**
 * The host's own non-loopback address, for clients that honour NO_PROXY (which lists loopback, where only
 * the Runtime API is inside an instance): the sink there is reached through the proxy like any other host.
 */
const hostAddress = Object.values(networkInterfaces())
  .flat()
  .find((address) => address !== undefined && address.family === 'IPv4' && !address.internal)?.address;
let locked: TestServer;
let opened: TestServer;

beforeAll(async () => {
  sink = http.createServer((request, response) => {
    hits.push(request.url ?? '');
    response.end(`sink reached ${request.url}`);
  });
  await new Promise<void>((resolve) => sink.listen(0, '0.0.0.0', resolve));
  sinkPort = (sink.address() as AddressInfo).port;
  sinkTarget = `127.0.0.1:${sinkPort}`;
  [locked, opened] = await Promise.all([
    startTestServer({ processPoolSize: 0 }),
    startTestServer({
      processPoolSize: 0,
      egressAllowedNetworks: ['127.0.0.1/32', ...(hostAddress === undefined ? [] : [`${hostAddress}/32`])],
    }),
  ]);
}, 60_000);
afterAll(async () => {
  await Promise.all([locked?.stop(), opened?.stop()]);
  sink?.closeAllConnections();
  await new Promise((resolve) => sink?.close(resolve));
});

/** Deploys the handler on `tier` with `egress` and runs one event; the handler's output, lines joined by `|`. */
async function run(
  server: TestServer,
  tier: ShellTier,
  egress: string[] | undefined,
  event: { mode: 'env' | 'wget' | 'connect' | 'direct'; target?: string },
  name = uniqueName(`egress-${tier}`),
): Promise<string> {
  await deployShell(
    tier,
    server,
    name,
    HANDLER,
    {},
    { timeout: '20s', ...(egress === undefined ? {} : { egress }) },
  );
  const { status, body } = await invokeJson(server.client, name, event);
  expect(status, JSON.stringify(body)).toBe(200);
  expect(typeof body).toBe('string');
  return body as string;
}

/**
 * The egress proxy sockets of `server`'s instances of `tier`, and the host processes forwarding to them (the
 * process tier's socat runs inside each sandbox, under its inside path; the container tier's on the host).
 */
async function egressLeftovers(
  server: TestServer,
  tier: ShellTier,
): Promise<{ sockets: string[]; forwarders: number[] }> {
  const sockets: string[] = [];
  if (tier === 'process') {
    const instances = join(server.dataDir, 'process', 'instances');
    for (const id of await readdir(instances).catch(() => [] as string[])) {
      const files = await readdir(join(instances, id)).catch(() => [] as string[]);
      if (files.includes('egress.sock')) sockets.push(join(instances, id, 'egress.sock'));
    }
  } else {
    const dir = join(server.dataDir, 'containers', 'sockets');
    for (const file of await readdir(dir).catch(() => [] as string[])) {
      if (file.endsWith('-egress.sock')) sockets.push(join(dir, file));
    }
  }
  const marker = tier === 'process' ? 'UNIX-CONNECT:/tmp/.strato-runtime/egress.sock' : `-egress.sock`;
  const forwarders: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
    // The process tier's marker is the same in every server's sandboxes; the container's names the data dir.
    if (cmdline.includes(marker) && (tier === 'process' || cmdline.includes(server.dataDir))) {
      forwarders.push(Number(entry));
    }
  }
  return { sockets, forwarders };
}

describe.each(tiers)('egress of the $tier tier', ({ tier, unavailable }) => {
  const test = it.skipIf(unavailable !== undefined);
  const label = unavailable === undefined ? '' : ` (skipped: ${unavailable})`;

  test(`reaches a host its pattern allows through the proxy, by http_proxy and by CONNECT${label}`, async () => {
    const egress = [sinkTarget];
    const env = await run(opened, tier, egress, { mode: 'env' });
    expect(env).toContain('HTTP_PROXY=http://127.0.0.1:9002');
    expect(env).toContain('https_proxy=http://127.0.0.1:9002');
    expect(env).toContain('NO_PROXY=127.0.0.1,localhost,::1');
    expect(await run(opened, tier, egress, { mode: 'wget', target: sinkTarget })).toBe(
      'sink reached /via-wget',
    );
    const tunnelled = await run(opened, tier, egress, { mode: 'connect', target: sinkTarget });
    expect(tunnelled).toMatch(/^HTTP\/1.1 200 Connection Established\|\|HTTP\/1.[01] 200 OK/);
    expect(tunnelled).toContain('sink reached /via-connect');
    // The proxy is the only way out: the target itself is not reachable from the instance's namespace.
    const direct = await run(opened, tier, egress, { mode: 'direct', target: sinkTarget });
    expect(direct).toMatch(/Connection refused|can.t connect/i);
  }, 120_000);

  test(`closes an instance's proxy and its forwarder with the instance${label}`, async () => {
    const name = uniqueName(`egress-${tier}-closed`);
    const none = { sockets: [], forwarders: [] };
    // Earlier tests' instances are still warm: they go first, so what is left after ours goes is ours.
    // (The process tier's forwarders look alike in every server: the locked server's go too.)
    for (const server of [opened, locked]) {
      for (const info of server.scheduler.list()) server.scheduler.evictIdle(info.functionName);
    }
    await vi.waitFor(async () => expect(await egressLeftovers(opened, tier)).toStrictEqual(none), {
      timeout: 10_000,
      interval: 100,
    });
    expect(await run(opened, tier, [sinkTarget], { mode: 'wget', target: sinkTarget }, name)).toBe(
      'sink reached /via-wget',
    );
    expect(await egressLeftovers(opened, tier)).not.toStrictEqual(none);
    opened.scheduler.evictIdle(name);
    await vi.waitFor(async () => expect(await egressLeftovers(opened, tier)).toStrictEqual(none), {
      timeout: 10_000,
      interval: 100,
    });
  }, 120_000);

  test(`has no network at all without egress patterns: no proxy, no variables${label}`, async () => {
    const before = hits.length;
    expect(await run(opened, tier, undefined, { mode: 'env' })).toBe('');
    expect(await run(opened, tier, undefined, { mode: 'connect', target: sinkTarget })).toMatch(
      /Connection refused|can.t connect/i,
    );
    expect(await run(opened, tier, [], { mode: 'direct', target: sinkTarget })).toMatch(
      /Connection refused|can.t connect/i,
    );
    expect(await run(opened, tier, undefined, { mode: 'direct', target: '10.0.0.1:80' })).toMatch(
      /unreachable|can.t connect/i,
    );
    expect(hits.length).toBe(before);
  }, 120_000);

  test(`refuses a target no pattern matches with 403 and the reason${label}`, async () => {
    const before = hits.length;
    const refused = await run(opened, tier, ['api.example.com', `127.0.0.1:${sinkPort + 1}`], {
      mode: 'connect',
      target: sinkTarget,
    });
    expect(refused).toMatch(/^HTTP\/1.1 403 Forbidden/);
    expect(refused).toContain('X-Strato-Error: EGRESS_DENIED');
    expect(refused).toContain(
      `strato egress proxy: egress to ${sinkTarget} is not allowed for this function`,
    );
    expect(hits.length).toBe(before);
  }, 120_000);

  test(`keeps loopback, metadata and names resolving to them blocked even when a pattern matches${label}`, async () => {
    const before = hits.length;
    const egress = [sinkTarget, 'localhost', '169.254.169.254'];
    for (const target of [sinkTarget, `localhost:${sinkPort}`, '169.254.169.254:80']) {
      const refused = await run(locked, tier, egress, { mode: 'connect', target });
      expect(refused, target).toMatch(/^HTTP\/1.1 403 Forbidden/);
      expect(refused, target).toContain('loopback, private, link-local and metadata addresses are blocked');
    }
    // Opening loopback to functions opens exactly that network: the metadata address stays blocked.
    const metadata = await run(opened, tier, egress, { mode: 'wget', target: '169.254.169.254' });
    expect(metadata).toMatch(/403/);
    expect(hits.length).toBe(before);
  }, 180_000);
});

// Node 20's fetch reads no proxy variables; Strato's Node runtime points its dispatcher at the proxy
// (src/sandbox/process/node-runtime/egress-fetch.cjs).
const NODE_FETCHER = `exports.handler = async (event) => {
  try {
    const response = await fetch(event.url);
    return { status: response.status, body: await response.text() };
  } catch (error) {
    return { error: String(error.cause ? error.cause.message : error.message) };
  }
};
`;

describe('egress of the Node runtime (process tier)', () => {
  const test = it.skipIf(!support.ok || hostAddress === undefined);

  async function fetchFrom(server: TestServer, egress: string[] | undefined, url: string): Promise<unknown> {
    const name = uniqueName('egress-node');
    const response = await deployNodeZip(server, name, { 'index.js': NODE_FETCHER }, 'index.handler', {
      memoryMb: 256,
      timeout: '20s',
      ...(egress === undefined ? {} : { egress }),
    });
    expect(response.status, await response.clone().text()).toBe(201);
    const { status, body } = await invokeJson(server.client, name, { url });
    expect(status, JSON.stringify(body)).toBe(200);
    return body;
  }

  test('fetch reaches an allowed host through the proxy, and gets the reason when refused', async () => {
    const target = `${hostAddress}:${sinkPort}`;
    expect(await fetchFrom(opened, [target], `http://${target}/from-node`)).toStrictEqual({
      status: 200,
      body: 'sink reached /from-node',
    });
    const before = hits.length;
    expect(await fetchFrom(opened, ['api.example.com'], `http://${target}/`)).toMatchObject({
      error: expect.stringMatching(/403 Forbidden: strato egress proxy: egress to .* is not allowed/),
    });
    // The host's address is private (or documentation) space: blocked unless the operator opened it.
    expect(await fetchFrom(locked, [target], `http://${target}/`)).toMatchObject({
      error: expect.stringMatching(/metadata addresses are blocked/),
    });
    expect(await fetchFrom(opened, undefined, `http://${target}/`)).toMatchObject({
      error: expect.stringMatching(/ENETUNREACH|ECONNREFUSED/),
    });
    expect(hits.length).toBe(before);
  }, 120_000);
});
