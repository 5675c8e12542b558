/**
 * Href surgery for the URL setters: a serialized href cut into its parts and joined back, and the
 * pre-encoding a setter's value needs before the whole href is re-parsed by the host.
 */
import { toUSVString } from './percent-encoding.js';

export const specialSchemes = ['ftp:', 'file:', 'http:', 'https:', 'ws:', 'wss:'];

/** An href cut at its delimiters; joining the parts gives the href back. */
export interface HrefParts {
  scheme: string;
  /** userinfo@host:port without the leading `//`, or null when the URL has no host. */
  authority: string | null;
  path: string;
  /** `?query` or ''. */
  query: string;
  /** `#fragment` or ''. */
  fragment: string;
}

export function splitHref(href: string, protocol: string): HrefParts {
  // In a serialized URL '#', '?' and '/' are percent-encoded everywhere they are not delimiters.
  let rest = href.slice(protocol.length);
  const hashAt = rest.indexOf('#');
  const fragment = hashAt === -1 ? '' : rest.slice(hashAt);
  if (hashAt !== -1) rest = rest.slice(0, hashAt);
  const queryAt = rest.indexOf('?');
  const query = queryAt === -1 ? '' : rest.slice(queryAt);
  if (queryAt !== -1) rest = rest.slice(0, queryAt);
  let authority: string | null = null;
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    const end = slash === -1 ? rest.length : slash;
    authority = rest.slice(2, end);
    rest = rest.slice(end);
  }
  return { scheme: protocol, authority, path: rest, query, fragment };
}

export function joinHref(parts: HrefParts): string {
  let path = parts.path;
  // Without a host, a path starting with '//' would read as an authority: the standard's '/.' guard.
  if (parts.authority === null && path.startsWith('//')) path = '/.' + path;
  const authority = parts.authority === null ? '' : '//' + parts.authority;
  return parts.scheme + authority + path + parts.query + parts.fragment;
}

/** Setter input: tab and newlines removed (the parser drops them anywhere). */
export function setterInput(value: unknown): string {
  return toUSVString(value).replace(/[\t\n\r]/g, '');
}

/** Percent-encodes C0 controls and space, which a full re-parse would otherwise trim at the ends. */
export function encodeControls(value: string, extra: RegExp | undefined): string {
  const encoded = value.replace(
    // eslint-disable-next-line no-control-regex -- C0 controls are exactly what must be encoded
    /[\x00-\x20]/g,
    (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'),
  );
  return extra ? encoded.replace(extra, (c) => (c === '?' ? '%3F' : '%23')) : encoded;
}

/** Index of the host/port ':' outside IPv6 brackets, or -1. */
export function portColon(hostAndPort: string): number {
  let inBrackets = false;
  for (let i = 0; i < hostAndPort.length; i++) {
    const c = hostAndPort[i];
    if (c === '[') inBrackets = true;
    else if (c === ']') inBrackets = false;
    else if (c === ':' && !inBrackets) return i;
  }
  return -1;
}
