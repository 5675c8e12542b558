import { chmod, rm } from 'node:fs/promises';
import http, { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { errorCodes } from '../../core/error-codes.js';
import { EgressDenied, hostOf, type EgressPolicy, type PinnedAddress } from './egress-policy.js';

/**
 * The egress proxy of one process- or container-tier instance: an HTTP forward proxy on a host Unix socket,
 * which a forwarder in the instance's network namespace (its only network besides the Runtime API) exposes on
 * {@link egressProxyAddress}. It takes CONNECT (https and any other TCP: bytes are tunnelled, TLS is never
 * intercepted) and absolute-form `http://` requests, checks each target against the function's
 * {@link EgressPolicy} (patterns, then every resolved address public unless the operator opened its network),
 * and connects to the one address it checked, so a DNS answer that changes afterwards (rebinding) reaches
 * nothing else. It never follows a redirect: it relays the 3xx, and the client's next request is checked anew.
 *
 * Hand-written on node:http and node:net rather than a proxy library: the ones on npm (proxy, proxy-chain,
 * http-proxy) resolve and connect by name themselves, so the checked address could not be pinned without
 * patching them, and the per-instance bounds below would be wrapped around them anyway.
 */

/** Where the forwarder listens inside an instance (the Runtime API is on 9001 beside it). */
export const egressProxyAddress = '127.0.0.1:9002';

export interface EgressProxyOptions {
  /** The Unix socket to listen on; made 0600 (the caller chowns it to the instance's uid if it must). */
  socketPath: string;
  policy: EgressPolicy;
  /** Resolving and connecting to a target, before the client gets 504. @default 10_000 */
  connectTimeoutMs?: number;
  /** A tunnel or request with no bytes either way for this long is closed. @default 120_000 */
  idleTimeoutMs?: number;
  /** Tunnels and forwarded requests open at once; more get 429. @default 32 */
  maxConnections?: number;
  /**
   * The instance's own Runtime API address: a client that ignores NO_PROXY (busybox wget) sends its polls
   * here, and its refusal says so rather than only "loopback is blocked".
   */
  runtimeApiAddress?: string;
  /** Told of every refusal, for the platform log. */
  onRefused?: (refusal: { target: string; status: number; reason: string }) => void;
}

/** Hop-by-hop headers (RFC 9110 7.6.1) and the proxy's own: never passed on either way. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export class EgressProxy {
  /** Tunnel sockets (both ends) and upstream request sockets, destroyed on close. */
  private readonly sockets = new Set<Duplex>();
  private open = 0;
  private closing: Promise<void> | undefined;
  private readonly connectTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly maxConnections: number;

  private constructor(
    private readonly server: http.Server,
    private readonly options: EgressProxyOptions,
  ) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 120_000;
    this.maxConnections = options.maxConnections ?? 32;
  }

  /** Starts listening on `options.socketPath` (a stale file there is removed first). */
  static async listen(options: EgressProxyOptions): Promise<EgressProxy> {
    // No request timeout: a forwarded upload may take long; the idle timeout bounds a stalled one.
    const server = http.createServer({ requestTimeout: 0, headersTimeout: 30_000, keepAliveTimeout: 5_000 });
    const proxy = new EgressProxy(server, options);
    // Every client connection holds a descriptor of the gateway's own: an instance may not open thousands of
    // idle ones (beyond this, node closes new connections at once). Room for keep-alive connections between
    // requests besides the tunnels and requests the bound counts.
    server.maxConnections = 2 * proxy.maxConnections;
    server.on('connect', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      void proxy.tunnel(request, socket, head);
    });
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      void proxy.forward(request, response);
    });
    // A WebSocket through a forward proxy goes by CONNECT; an absolute-form Upgrade is not relayed.
    server.on('upgrade', (request: IncomingMessage, socket: Duplex) => {
      proxy.refuse(socket, request.url ?? '', 501, 'upgrades are relayed only through CONNECT');
    });
    server.on('clientError', (_error, socket: Duplex) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    await rm(options.socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await chmod(options.socketPath, 0o600);
    return proxy;
  }

  /** Tunnels and forwarded requests open now. */
  get openConnections(): number {
    return this.open;
  }

  /** Stops listening and cuts every tunnel and request, then removes the socket file. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeAllConnections();
      for (const socket of this.sockets) socket.destroy();
      await closed;
      await rm(this.options.socketPath, { force: true });
    })();
    return this.closing;
  }

  private async tunnel(request: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    const authority = request.url ?? '';
    this.track(client);
    const target = parseAuthority(authority);
    if (target === undefined) {
      this.refuse(client, authority, 400, 'CONNECT needs a host:port target');
      return;
    }
    if (!this.admit(client)) {
      this.refuse(client, authority, 429, `more than ${this.maxConnections} connections open at once`);
      return;
    }
    const pinned = await this.vet(target.host, target.port, client, authority);
    if (pinned === undefined || client.destroyed) return;
    const upstream = net.connect({ host: pinned.address, port: target.port, family: pinned.family });
    this.track(upstream);
    const timer = setTimeout(() => upstream.destroy(timeoutError()), this.connectTimeoutMs);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      clearTimeout(timer);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
      const idle = () => {
        client.destroy();
        upstream.destroy();
      };
      for (const end of [client, upstream] as const) {
        if (end instanceof net.Socket) end.setTimeout(this.idleTimeoutMs, idle);
      }
    });
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (!connected) this.unreachable(client, authority, error);
      else client.destroy();
    });
    upstream.on('close', (hadError) => {
      clearTimeout(timer);
      // An orderly close lets what is still buffered for the client drain first (pipe ends it); the idle
      // timeout ends a client that never closes its side.
      if (connected && hadError) client.destroy();
    });
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
  }

  private async forward(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const raw = request.url ?? '';
    const socket = response.socket;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      this.refuseResponse(response, raw, 400, 'a proxy request needs an absolute http:// URL');
      return;
    }
    if (url.protocol !== 'http:' || !raw.toLowerCase().startsWith('http://')) {
      const reason =
        url.protocol === 'https:'
          ? 'https goes through CONNECT (set HTTPS_PROXY), not as an absolute-form request'
          : `unsupported protocol ${url.protocol}`;
      this.refuseResponse(response, raw, 400, reason);
      return;
    }
    if (socket === null || !this.admit(response)) {
      this.refuseResponse(response, raw, 429, `more than ${this.maxConnections} connections open at once`);
      return;
    }
    const port = url.port === '' ? 80 : Number(url.port);
    const target = `${url.host}`;
    const pinned = await this.vet(hostOf(url), port, response, target);
    if (pinned === undefined || response.destroyed) return;
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    // RFC 9112 3.2.2: a proxy replaces Host with the request target's, so the checked host is the one named.
    headers.host = url.host;
    const outgoing = http.request({
      host: pinned.address,
      family: pinned.family,
      port,
      method: request.method ?? 'GET',
      path: `${url.pathname}${url.search}`,
      headers,
      setHost: false,
      // One upstream connection per request: nothing of one function's request is reused for another's.
      agent: false,
    });
    const timer = setTimeout(() => outgoing.destroy(timeoutError()), this.connectTimeoutMs);
    outgoing.once('socket', (upstream: Socket) => {
      this.track(upstream);
      upstream.once('connect', () => clearTimeout(timer));
      upstream.setTimeout(this.idleTimeoutMs, () => outgoing.destroy(timeoutError()));
    });
    outgoing.on('response', (answer) => {
      clearTimeout(timer);
      const relayed: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) relayed[name] = value;
      }
      response.writeHead(answer.statusCode ?? 502, answer.statusMessage, relayed);
      answer.pipe(response);
      answer.on('error', () => response.destroy());
    });
    outgoing.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (response.headersSent) response.destroy();
      else this.unreachable(response, target, error);
    });
    response.on('close', () => outgoing.destroy());
    request.pipe(outgoing);
  }

  /** The checked address, or undefined once the client has been refused (403, or 502 for a lookup failure). */
  private async vet(
    host: string,
    port: number,
    client: Duplex | ServerResponse,
    target: string,
  ): Promise<PinnedAddress | undefined> {
    let timer: NodeJS.Timeout | undefined;
    try {
      // A resolver that hangs must not hold the client past the connect timeout.
      return await Promise.race([
        this.options.policy.vetHost(host, port),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(timeoutError()), this.connectTimeoutMs);
        }),
      ]);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ETIMEDOUT') {
        this.unreachable(client, target, error as NodeJS.ErrnoException);
        return undefined;
      }
      if (!(error instanceof EgressDenied)) {
        this.reply(client, target, 502, `could not check ${target}: ${(error as Error).message}`);
        return undefined;
      }
      const runtimeApi = this.options.runtimeApiAddress;
      const hint =
        runtimeApi !== undefined && `${host}:${port}` === runtimeApi
          ? ` (${runtimeApi} is the Runtime API: reach it directly, it is in NO_PROXY)`
          : '';
      this.reply(client, target, errorCodes.EGRESS_DENIED.status, `${error.message}${hint}`);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Counts one tunnel or request against the bound until it closes; false when the bound is reached. */
  private admit(connection: Duplex | ServerResponse): boolean {
    if (this.open >= this.maxConnections) return false;
    this.open += 1;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.open -= 1;
    };
    connection.once('close', release);
    return true;
  }

  private track(socket: Duplex): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    if (this.closing !== undefined) socket.destroy();
  }

  private unreachable(client: Duplex | ServerResponse, target: string, error: NodeJS.ErrnoException): void {
    const timedOut = error.code === 'ETIMEDOUT';
    this.reply(
      client,
      target,
      timedOut ? 504 : 502,
      timedOut
        ? `${target} did not answer within ${this.connectTimeoutMs} ms`
        : `could not connect to ${target}: ${error.code ?? error.message}`,
    );
  }

  private reply(client: Duplex | ServerResponse, target: string, status: number, reason: string): void {
    if (client instanceof http.ServerResponse) this.refuseResponse(client, target, status, reason);
    else this.refuse(client, target, status, reason);
  }

  /** Answers a CONNECT (or an upgrade) on its raw socket and closes it. */
  private refuse(socket: Duplex, target: string, status: number, reason: string): void {
    this.options.onRefused?.({ target, status, reason });
    const body = refusalBody(reason);
    const head = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
      'Content-Type: text/plain; charset=utf-8',
      `Content-Length: ${Buffer.byteLength(body)}`,
      ...(status === errorCodes.EGRESS_DENIED.status ? ['X-Strato-Error: EGRESS_DENIED'] : []),
      'Connection: close',
    ];
    if (socket.writable) socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
    else socket.destroy();
  }

  private refuseResponse(response: ServerResponse, target: string, status: number, reason: string): void {
    this.options.onRefused?.({ target, status, reason });
    if (response.headersSent) {
      response.destroy();
      return;
    }
    const body = refusalBody(reason);
    response.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      ...(status === errorCodes.EGRESS_DENIED.status ? { 'x-strato-error': 'EGRESS_DENIED' } : {}),
      connection: 'close',
    });
    response.end(body);
  }
}

function refusalBody(reason: string): string {
  return `strato egress proxy: ${reason}\n`;
}

function timeoutError(): NodeJS.ErrnoException {
  return Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' });
}

/**
 * A CONNECT target (`host:port`, `[v6]:port`), normalised as a URL hostname is, so patterns and literals
 * compare the same way they do for the isolate tier's fetch. Undefined for anything else (paths, userinfo,
 * a missing or zero port).
 */
export function parseAuthority(authority: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^[\]/@:?#\s]+):(\d{1,5})$/.exec(authority);
  if (match === null) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65_535) return undefined;
  let url: URL;
  try {
    url = new URL(`http://${match[1]}/`);
  } catch {
    return undefined;
  }
  return { host: hostOf(url), port };
}
