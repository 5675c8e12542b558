/**
 * The host half of the guest's Web APIs: randomness for `crypto` and WHATWG URL parsing for `URL`.
 * Both are called from untrusted guest code through isolated-vm Callbacks, so every argument is
 * checked for type and size before use, and results are plain copies (never host objects).
 */
import { randomFillSync } from 'node:crypto';
import type { HostBindings, UrlRecord } from '../../guest/host-bindings.js';

/** Most bytes one `randomBytes` call may ask for (the Web Crypto limit for getRandomValues). */
export const MAX_RANDOM_BYTES = 65536;
/** Longest URL input or base accepted, in UTF-16 code units; longer inputs are "invalid URLs". */
export const MAX_URL_LENGTH = 1 << 20;

function randomBytes(length: number): ArrayBuffer {
  if (typeof length !== 'number' || !Number.isInteger(length) || length < 0 || length > MAX_RANDOM_BYTES) {
    throw new RangeError(`randomBytes: length must be an integer from 0 to ${MAX_RANDOM_BYTES}`);
  }
  const bytes = new Uint8Array(length);
  randomFillSync(bytes);
  return bytes.buffer;
}

function parseUrl(input: string, base: string | undefined): UrlRecord | null {
  if (typeof input !== 'string' || (base !== undefined && typeof base !== 'string')) {
    throw new TypeError('parseUrl: input and base must be strings');
  }
  if (input.length > MAX_URL_LENGTH || (base !== undefined && base.length > MAX_URL_LENGTH)) return null;
  let url: URL;
  try {
    url = new URL(input, base);
  } catch {
    return null;
  }
  return {
    href: url.href,
    origin: url.origin,
    protocol: url.protocol,
    username: url.username,
    password: url.password,
    host: url.host,
    hostname: url.hostname,
    port: url.port,
    pathname: url.pathname,
    search: url.search,
    hash: url.hash,
  };
}

export const webHostBindings: Pick<HostBindings, 'randomBytes' | 'parseUrl'> = { randomBytes, parseUrl };
