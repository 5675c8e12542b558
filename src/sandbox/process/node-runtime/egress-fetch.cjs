// Makes Node's global fetch go through the instance's egress proxy (HTTPS_PROXY / HTTP_PROXY, set by the
// process tier only for functions with egress patterns). Node 20 and 22's fetch read none of those variables,
// and their undici is not exposed, but fetch's dispatcher is the one at undici's documented global symbol (the
// npm undici's setGlobalDispatcher writes the same one): this replaces it with an Agent of the same class
// whose connector opens every connection as a CONNECT tunnel through the proxy, then TLS end to end for https
// (the proxy never sees plaintext). node:http/https clients are not covered (they need an agent, or Node 24
// with NODE_USE_ENV_PROXY, which the tier sets). Plain CommonJS, Node built-ins only, like bootstrap.cjs.
'use strict';

const net = require('node:net');
const tls = require('node:tls');
const { URL } = require('node:url');

const dispatcherKey = Symbol.for('undici.globalDispatcher.1');
/** Largest proxy answer head read before giving up on it. */
const maxHeadBytes = 16 * 1024;

/** Installs the tunnelling dispatcher when a proxy is set; false when there is none or fetch's is unknown. */
function installEgressFetch(env) {
  const proxyUrl = env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy;
  if (!proxyUrl || typeof globalThis.fetch !== 'function') return false;
  const proxy = new URL(proxyUrl);
  const noProxy = (env.NO_PROXY || env.no_proxy || '')
    .split(',')
    .map((entry) => entry.trim().toLowerCase())
    .filter((entry) => entry !== '');
  // Node's fetch loads its undici, which sets the global dispatcher, on the first call; data: needs no network.
  globalThis.fetch('data:,').catch(() => undefined);
  const Agent = globalThis[dispatcherKey] && globalThis[dispatcherKey].constructor;
  if (typeof Agent !== 'function') return false;
  globalThis[dispatcherKey] = new Agent({
    connect(options, callback) {
      const port = Number(options.port) || (options.protocol === 'https:' ? 443 : 80);
      const bypass = noProxy.some((entry) => entry === '*' || matchesNoProxy(entry, options.hostname));
      if (bypass) {
        finish(net.connect({ host: options.hostname, port }), options, callback, false);
        return;
      }
      tunnel(proxy, options.hostname, port, (error, socket) => {
        if (error) callback(error, null);
        else finish(socket, options, callback, true);
      });
    },
  });
  return true;
}

function matchesNoProxy(entry, hostname) {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const name = entry.replace(/:\d+$/, '').replace(/^\*?\./, '');
  return host === name || host.endsWith(`.${name}`);
}

/** A socket to `host:port` through the proxy: CONNECT, then the 200's head consumed. */
function tunnel(proxy, hostname, port, callback) {
  const socket = net.connect({ host: proxy.hostname, port: Number(proxy.port) || 80 });
  const authority = `${hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]` : hostname}:${port}`;
  let head = Buffer.alloc(0);
  const fail = (error) => {
    socket.destroy();
    callback(error, null);
  };
  const onData = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) {
      if (head.length > maxHeadBytes) fail(new Error('the egress proxy sent an overlong answer'));
      return;
    }
    socket.off('data', onData);
    socket.off('error', fail);
    const status = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
    if (!/^HTTP\/1\.[01] 200/.test(status)) {
      // The proxy's refusal names the reason (EGRESS_DENIED, ...): it becomes fetch's error cause.
      fail(
        new Error(
          `${status}: ${head
            .subarray(end + 4)
            .toString('utf8')
            .trim()}`,
        ),
      );
      return;
    }
    if (head.length > end + 4) socket.unshift(head.subarray(end + 4));
    callback(null, socket);
  };
  socket.once('error', fail);
  socket.once('connect', () => socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`));
  socket.on('data', onData);
}

/** Hands the connection to undici: as is for http, after a TLS handshake with the target for https. */
function finish(socket, options, callback, connected) {
  if (options.protocol !== 'https:') {
    if (connected) callback(null, socket);
    else {
      socket.once('connect', () => callback(null, socket));
      socket.once('error', (error) => callback(error, null));
    }
    return;
  }
  const host = options.hostname.replace(/^\[|\]$/g, '');
  const secure = tls.connect({
    socket,
    host,
    servername: options.servername || (net.isIP(host) ? undefined : host),
    ALPNProtocols: ['http/1.1'],
  });
  secure.once('secureConnect', () => callback(null, secure));
  secure.once('error', (error) => callback(error, null));
}

module.exports = { installEgressFetch };
