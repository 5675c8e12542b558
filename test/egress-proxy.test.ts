import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { EgressPolicy, type Lookup } from '../src/sandbox/egress/egress-policy.js';
import { EgressProxy, parseAuthority } from '../src/sandbox/egress/egress-proxy.js';

// The egress proxy of the process and container tiers on its own: a real proxy on a Unix socket, real
// targets on port 0, and clients speaking CONNECT and absolute-form HTTP to it as curl or Python would.

let target: http.Server;
let targetPort: number;
let hits = 0;
let dir: string;
const proxies: EgressProxy[] = [];

beforeAll(async () => {
  target = http.createServer((request, response) => {
    hits += 1;
    if (request.url === '/big') {
      response.end(Buffer.alloc(4 * 1024 * 1024, 'x'));
      return;
    }
    if (request.url === '/redirect') {
      response.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      return;
    }
    response.end(`target saw ${request.method} ${request.url} host=${request.headers.host}`);
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  targetPort = (target.address() as AddressInfo).port;
  dir = await mkdtemp(join(tmpdir(), 'strato-egress-proxy-'));
});
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});
afterAll(async () => {
  target.closeAllConnections();
  await new Promise((resolve) => target.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const dns =
  (answers: Record<string, string>): Lookup =>
  (hostname) =>
    Promise.resolve(answers[hostname] === undefined ? [] : [{ address: answers[hostname], family: 4 }]);

async function proxyFor(
  patterns: string[],
  networks: string[] = ['127.0.0.1/32'],
  options: { lookup?: Lookup; maxConnections?: number; idleTimeoutMs?: number } = {},
): Promise<EgressProxy & { socketPath: string }> {
  const socketPath = join(dir, `${proxies.length}-${Math.random().toString(16).slice(2)}.sock`);
  const proxy = await EgressProxy.listen({
    socketPath,
    policy: new EgressPolicy(patterns, networks, options.lookup),
    runtimeApiAddress: '127.0.0.1:9001',
    ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
    ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
  });
  proxies.push(proxy);
  return Object.assign(proxy, { socketPath });
}

/** CONNECT `authority` through the proxy; on 200 sends a GET through the tunnel and returns its answer. */
async function connectThrough(
  socketPath: string,
  authority: string,
  path = '/through-tunnel',
): Promise<{ head: string; rest: string }> {
  const socket = net.connect({ path: socketPath });
  let data = '';
  socket.setEncoding('utf8');
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  return await new Promise((resolve, reject) => {
    let tunnelled = false;
    socket.on('data', (chunk: string) => {
      data += chunk;
      if (!tunnelled && data.startsWith('HTTP/1.1 200') && data.includes('\r\n\r\n')) {
        tunnelled = true;
        socket.write(`GET ${path} HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`);
      }
    });
    socket.on('close', () => {
      const [head = '', ...rest] = data.split('\r\n\r\n');
      resolve({ head, rest: rest.join('\r\n\r\n') });
    });
    socket.on('error', reject);
  });
}

/** An absolute-form GET through the proxy, as http_proxy clients send it. */
async function getThrough(
  socketPath: string,
  url: string,
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return await new Promise((resolve, reject) => {
    const request = http.request({ socketPath, path: url, method: 'GET', agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body, headers: response.headers }),
      );
    });
    request.on('error', reject);
    request.end();
  });
}

describe('egress proxy', () => {
  it('tunnels CONNECT to an allowed host:port and relays absolute-form http, redirects untouched', async () => {
    const proxy = await proxyFor([`127.0.0.1:${targetPort}`]);
    const tunnel = await connectThrough(proxy.socketPath, `127.0.0.1:${targetPort}`);
    expect(tunnel.head).toMatch(/^HTTP\/1.1 200/);
    expect(tunnel.rest).toContain('target saw GET /through-tunnel');
    // A large answer arrives whole: the tunnel drains before it closes.
    const big = await connectThrough(proxy.socketPath, `127.0.0.1:${targetPort}`, '/big');
    expect(big.rest.split('\r\n\r\n').at(-1)).toHaveLength(4 * 1024 * 1024);
    const plain = await getThrough(proxy.socketPath, `http://127.0.0.1:${targetPort}/plain?x=1`);
    expect(plain).toMatchObject({
      status: 200,
      body: `target saw GET /plain?x=1 host=127.0.0.1:${targetPort}`,
    });
    const redirect = await getThrough(proxy.socketPath, `http://127.0.0.1:${targetPort}/redirect`);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.location).toBe('http://169.254.169.254/latest/meta-data/');
  });

  it('refuses a target no pattern matches with 403 and the reason, before connecting', async () => {
    const proxy = await proxyFor(['api.example.com']);
    const before = hits;
    const tunnel = await connectThrough(proxy.socketPath, `127.0.0.1:${targetPort}`);
    expect(tunnel.head).toMatch(/^HTTP\/1.1 403/);
    expect(tunnel.head).toMatch(/X-Strato-Error: EGRESS_DENIED/);
    expect(tunnel.rest).toMatch(/egress to 127.0.0.1:\d+ is not allowed for this function/);
    const plain = await getThrough(proxy.socketPath, `http://127.0.0.1:${targetPort}/`);
    expect(plain.status).toBe(403);
    expect(plain.headers['x-strato-error']).toBe('EGRESS_DENIED');
    expect(hits).toBe(before);
  });

  it('keeps loopback, metadata and private addresses blocked even when a pattern matches, by IP or by DNS', async () => {
    const lookup = dns({ 'rebind.example.com': '10.1.2.3', 'local.example.com': '127.0.0.1' });
    const locked = await proxyFor(
      ['127.0.0.1', '169.254.169.254', 'rebind.example.com', 'local.example.com', '[::1]'],
      [],
      { lookup },
    );
    for (const authority of [
      `127.0.0.1:${targetPort}`,
      '169.254.169.254:80',
      'rebind.example.com:443',
      `local.example.com:${targetPort}`,
      '[::ffff:127.0.0.1]:80',
      '0x7f000001:80',
    ]) {
      const tunnel = await connectThrough(locked.socketPath, authority);
      expect(tunnel.head, authority).toMatch(/^HTTP\/1.1 403/);
    }
    const metadata = await getThrough(locked.socketPath, 'http://169.254.169.254/latest/meta-data/');
    expect(metadata.status).toBe(403);
    expect(metadata.body).toMatch(/loopback, private, link-local and metadata addresses are blocked/);
    // The operator's open network lets 127.0.0.1 through, never the metadata address.
    const opened = await proxyFor(['169.254.169.254'], ['127.0.0.1/32']);
    expect((await connectThrough(opened.socketPath, '169.254.169.254:80')).head).toMatch(/^HTTP\/1.1 403/);
  });

  it('connects to the address it checked, not to a later DNS answer', async () => {
    let answers = 0;
    // First answer passes the check (the operator opened 127.0.0.1); a second lookup would say 10.0.0.1.
    const rebinding: Lookup = () =>
      Promise.resolve([{ address: answers++ === 0 ? '127.0.0.1' : '10.0.0.1', family: 4 }]);
    const proxy = await proxyFor([`rebind.example.com:${targetPort}`], ['127.0.0.1/32'], {
      lookup: rebinding,
    });
    const tunnel = await connectThrough(proxy.socketPath, `rebind.example.com:${targetPort}`);
    expect(tunnel.rest).toContain('host=rebind.example.com');
    expect(answers).toBe(1);
  });

  it('names the Runtime API when a client that ignores NO_PROXY sends its polls to the proxy', async () => {
    const proxy = await proxyFor(['api.example.com']);
    const poll = await getThrough(
      proxy.socketPath,
      'http://127.0.0.1:9001/2018-06-01/runtime/invocation/next',
    );
    expect(poll.status).toBe(403);
    expect(poll.body).toMatch(/is the Runtime API: reach it directly/);
  });

  it('bounds open tunnels, closes idle ones, and cuts every tunnel when closed', async () => {
    const proxy = await proxyFor([`127.0.0.1:${targetPort}`], ['127.0.0.1/32'], {
      maxConnections: 1,
      idleTimeoutMs: 300,
    });
    const held = net.connect({ path: proxy.socketPath });
    held.write(`CONNECT 127.0.0.1:${targetPort} HTTP/1.1\r\n\r\n`);
    await new Promise((resolve) => held.once('data', resolve));
    expect(proxy.openConnections).toBe(1);
    const second = await connectThrough(proxy.socketPath, `127.0.0.1:${targetPort}`);
    expect(second.head).toMatch(/^HTTP\/1.1 429/);
    // Idle: the held tunnel is closed by the proxy.
    await new Promise((resolve) => held.once('close', resolve));
    await vi.waitFor(() => expect(proxy.openConnections).toBe(0));
    const another = net.connect({ path: proxy.socketPath });
    another.write(`CONNECT 127.0.0.1:${targetPort} HTTP/1.1\r\n\r\n`);
    await new Promise((resolve) => another.once('data', resolve));
    // Client connections beyond twice the bound are dropped at once, before any request.
    const idle = Array.from({ length: 3 }, () => net.connect({ path: proxy.socketPath }));
    await new Promise((resolve) => idle[2]!.once('close', resolve));
    for (const socket of idle) socket.destroy();
    const closed = new Promise((resolve) => another.once('close', resolve));
    await proxy.close();
    await closed;
  });

  it('takes only host:port CONNECT targets', () => {
    expect(parseAuthority('Example.COM:443')).toStrictEqual({ host: 'example.com', port: 443 });
    expect(parseAuthority('[::1]:80')).toStrictEqual({ host: '::1', port: 80 });
    for (const bad of ['example.com', 'user@example.com:443', 'example.com:0', 'example.com:99999', '/x:1']) {
      expect(parseAuthority(bad), bad).toBeUndefined();
    }
  });
});
