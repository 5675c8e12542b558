import { createHash, createHmac } from 'node:crypto';

/**
 * The pieces of AWS Signature Version 4 that turn a request into bytes to sign: canonical path, query,
 * headers, the string to sign and the signing key. Pure functions; `sigv4.ts` decides what to trust.
 *
 * Where the AWS spec and `@smithy/signature-v4` (what `@aws-sdk/client-*` sign with) could be read two
 * ways, this file follows the SDK, because SDK-signed requests are the ones that must verify.
 */

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
export const SCOPE_TERMINATOR = 'aws4_request';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

/** One decoded `key=value` pair of a query string, in wire order. */
export interface QueryParam {
  key: string;
  value: string;
}

/**
 * RFC 3986 percent-encoding: everything but `A-Z a-z 0-9 - _ . ~`. `encodeURIComponent` leaves
 * `!'()*` alone, so those are escaped by hand (the SDK's `escapeUri` does the same).
 */
export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * The canonical URI for non-S3 services. The SDK signs its path, which is already percent-encoded
 * (`$LATEST` travels as `%24LATEST`), and encodes it once more (`%2524LATEST`), after dropping empty,
 * `.` and `..` segments. The wire path is that already-encoded path, so it is normalized and encoded
 * again here, never decoded first.
 */
export function canonicalPath(wirePath: string): string {
  const segments: string[] = [];
  for (const segment of wirePath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const leading = wirePath.startsWith('/') ? '/' : '';
  const trailing = segments.length > 0 && wirePath.endsWith('/') ? '/' : '';
  // Encoding the joined path turns the separators into %2F; they are put back, as the SDK does.
  return uriEncode(`${leading}${segments.join('/')}${trailing}`).replace(/%2F/g, '/');
}

/**
 * Decodes a raw query string (without the `?`). A key with no `=` has the empty value, as the AWS spec
 * says. `+` stays a plus: SDKs send spaces as `%20`. Throws `URIError` on a broken percent-escape.
 */
export function parseQuery(rawQuery: string): QueryParam[] {
  const params: QueryParam[] = [];
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? '' : pair.slice(eq + 1);
    params.push({ key: decodeURIComponent(key), value: decodeURIComponent(value) });
  }
  return params;
}

/**
 * The canonical query: each key and value RFC 3986-encoded, sorted by encoded key then encoded value
 * (code-unit order, which is byte order for the ASCII these are), the signature itself left out.
 */
export function canonicalQuery(params: readonly QueryParam[]): string {
  return params
    .filter((param) => param.key.toLowerCase() !== 'x-amz-signature')
    .map((param) => ({ key: uriEncode(param.key), value: uriEncode(param.value) }))
    .sort((a, b) => compareCodeUnits(a.key, b.key) || compareCodeUnits(a.value, b.value))
    .map((param) => `${param.key}=${param.value}`)
    .join('&');
}

/**
 * A header value as signed: repeated values joined by `,`, line breaks made spaces, runs of spaces and
 * tabs collapsed to one, ends trimmed (byte-for-byte the SDK's normalization).
 */
export function canonicalHeaderValue(value: string | readonly string[]): string {
  const joined = typeof value === 'string' ? value : value.join(',');
  return joined
    .replace(/[\r\n]/g, ' ')
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/g, '');
}

/** Everything the canonical request is built from; `signedHeaders` are lower-case and sorted. */
export interface CanonicalRequestParts {
  method: string;
  /** From {@link canonicalPath}. */
  canonicalUri: string;
  query: readonly QueryParam[];
  signedHeaders: readonly string[];
  headerValue: (name: string) => string | readonly string[] | undefined;
  payloadHash: string;
}

/** The canonical request of the SigV4 spec, one field per line. */
export function canonicalRequest(parts: CanonicalRequestParts): string {
  const headerLines = parts.signedHeaders.map(
    (name) => `${name}:${canonicalHeaderValue(parts.headerValue(name) ?? '')}`,
  );
  return [
    parts.method.toUpperCase(),
    parts.canonicalUri,
    canonicalQuery(parts.query),
    ...headerLines,
    '',
    parts.signedHeaders.join(';'),
    parts.payloadHash,
  ].join('\n');
}

/** The string to sign: algorithm, request time, credential scope and the canonical request's hash. */
export function stringToSign(amzDate: string, credentialScope: string, request: string): string {
  return [SIGV4_ALGORITHM, amzDate, credentialScope, sha256Hex(request)].join('\n');
}

/** The signing key: the secret HMAC-chained through the scope's date, region, service and terminator. */
export function signingKey(secret: string, scopeDate: string, region: string, service: string): Buffer {
  let key: Buffer = Buffer.from(`AWS4${secret}`, 'utf8');
  for (const part of [scopeDate, region, service, SCOPE_TERMINATOR]) {
    key = createHmac('sha256', key).update(part, 'utf8').digest();
  }
  return key;
}

/** The signature as raw bytes (the wire carries it as lower-case hex). */
export function signatureBytes(key: Buffer, toSign: string): Buffer {
  return createHmac('sha256', key).update(toSign, 'utf8').digest();
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
