import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Which outbound connections a function may make, in every tier: the isolate tier's `fetch` checks each
 * request here, and the egress proxy of the process and container tiers (egress-proxy.ts) each CONNECT or
 * absolute-form request. A request passes when its host matches one of the
 * function's patterns AND every address the host resolves to is public. Loopback, private, link-local
 * (with the cloud metadata address 169.254.169.254), CGNAT, multicast, documentation and reserved ranges
 * are refused whatever the pattern says, unless the operator lists the network in `egressAllowedNetworks`.
 * The connection then goes to the address that was checked (see `vet`), so a DNS answer that changes
 * between the check and the connect (rebinding) cannot reach anything else; redirects are not followed by
 * the host, so every hop is vetted again.
 */

/** Ranges no function reaches by default (IANA special-purpose registries, v4 and v6). */
const BLOCKED_V4 = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const;
const BLOCKED_V6 = [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const;

/** The one checked address a connection must go to (never a later DNS answer). */
export interface PinnedAddress {
  address: string;
  family: 4 | 6;
}

export type Lookup = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

const systemLookup: Lookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** A refused request; its message is what the function's `fetch` rejects with. */
export class EgressDenied extends Error {}

export class EgressPolicy {
  private readonly blocked = new BlockList();
  private readonly allowed = new BlockList();

  /**
   * Any host, public addresses only (plus `allowedNetworks`): for what the platform itself sends to URLs
   * users name (async destinations, `X-Callback-Url`), which must not become a way into the node's network.
   */
  static anyPublicHost(allowedNetworks: readonly string[] = [], lookup?: Lookup): EgressPolicy {
    return new EgressPolicy([ANY_HOST], allowedNetworks, lookup);
  }

  constructor(
    private readonly patterns: readonly string[],
    allowedNetworks: readonly string[] = [],
    private readonly lookup: Lookup = systemLookup,
  ) {
    for (const [network, prefix] of BLOCKED_V4) this.blocked.addSubnet(network, prefix, 'ipv4');
    for (const [network, prefix] of BLOCKED_V6) this.blocked.addSubnet(network, prefix, 'ipv6');
    for (const cidr of allowedNetworks) {
      const [network, prefix] = cidr.split('/');
      const family = isIP(network ?? '') === 6 ? 'ipv6' : 'ipv4';
      this.allowed.addSubnet(network!, Number(prefix ?? (family === 'ipv6' ? 128 : 32)), family);
    }
  }

  /** The address to connect to for `url`, once host and every resolved address passed; else EgressDenied. */
  async vet(url: URL): Promise<PinnedAddress> {
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    return await this.vetHost(hostOf(url), port);
  }

  /**
   * The same for a host and port already taken apart (a proxy's CONNECT target). `host` must be normalised
   * as a URL's hostname is (lowercase, punycode, canonical IPv4, no IPv6 brackets): see {@link hostOf}.
   */
  async vetHost(host: string, port: number): Promise<PinnedAddress> {
    if (!this.patterns.some((pattern) => matches(pattern, host, port))) {
      throw new EgressDenied(
        `egress to ${host}:${port} is not allowed for this function (EGRESS_DENIED; allow it with the function's egress setting)`,
      );
    }
    const literal = isIP(host);
    const addresses =
      literal === 0
        ? await this.lookup(host).catch(() => {
            throw new EgressDenied(`egress to ${host}: the name does not resolve`);
          })
        : [{ address: host, family: literal }];
    if (addresses.length === 0) throw new EgressDenied(`egress to ${host}: the name does not resolve`);
    for (const { address } of addresses) {
      if (!this.isPublic(address)) {
        throw new EgressDenied(
          `egress to ${host} (${address}) is not allowed: loopback, private, link-local and metadata addresses are blocked (EGRESS_DENIED)`,
        );
      }
    }
    const first = addresses[0]!;
    return { address: first.address, family: first.family === 6 ? 6 : 4 };
  }

  private isPublic(address: string): boolean {
    const family = isIP(address);
    if (family === 0) return false;
    // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is the IPv4 address it maps.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    const [checked, type] =
      mapped !== undefined
        ? [mapped, 'ipv4' as const]
        : [address, family === 6 ? ('ipv6' as const) : ('ipv4' as const)];
    if (this.allowed.check(checked, type)) return true;
    if (type === 'ipv6' && /^::ffff:/i.test(checked)) return false;
    return !this.blocked.check(checked, type);
  }
}

/** The URL's host without IPv6 brackets, lowercased (URL already punycodes names and normalises IPs). */
export function hostOf(url: URL): string {
  const host = url.hostname.toLowerCase();
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Not a pattern a setting can hold (EGRESS_PATTERN refuses it): only {@link EgressPolicy.anyPublicHost}. */
const ANY_HOST = '\0any';

function matches(pattern: string, host: string, port: number): boolean {
  if (pattern === ANY_HOST) return true;
  const colon = pattern.lastIndexOf(':');
  const hasPort = colon !== -1 && /^\d+$/.test(pattern.slice(colon + 1)) && !pattern.includes('::');
  const hostPattern = hasPort ? pattern.slice(0, colon) : pattern;
  if (hasPort && Number(pattern.slice(colon + 1)) !== port) return false;
  if (hostPattern.startsWith('*.')) {
    const domain = hostPattern.slice(1);
    return host.endsWith(domain) && host.length > domain.length;
  }
  return host === hostPattern;
}
