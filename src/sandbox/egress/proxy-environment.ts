import { egressProxyAddress } from './egress-proxy.js';

/**
 * What an instance with egress patterns gets in its environment: the proxy in every spelling clients read
 * (curl and Python read the lowercase ones, Go and others the uppercase; curl ignores uppercase HTTP_PROXY),
 * and NO_PROXY for loopback, where only the Runtime API is, so its long polls never cross the proxy. Hosts
 * only in NO_PROXY: GNU wget and Python do not match `host:port` entries. busybox wget reads no NO_PROXY at
 * all (use `-Y off` for the Runtime API); Node 20's fetch and http read none of these (see docs/api.md).
 * NODE_USE_ENV_PROXY makes Node 24 (and 22.21+) honour them; Node 20 ignores it.
 */
export function proxyEnvironment(): Record<string, string> {
  const proxy = `http://${egressProxyAddress}`;
  const noProxy = '127.0.0.1,localhost,::1';
  return {
    HTTP_PROXY: proxy,
    HTTPS_PROXY: proxy,
    http_proxy: proxy,
    https_proxy: proxy,
    NO_PROXY: noProxy,
    no_proxy: noProxy,
    NODE_USE_ENV_PROXY: '1',
  };
}

/** True when the function allows some outbound host: only then does an instance get a proxy. */
export function hasEgress(egress: readonly string[] | undefined): egress is readonly string[] {
  return egress !== undefined && egress.length > 0;
}
