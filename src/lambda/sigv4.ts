import { timingSafeEqual } from 'node:crypto';
import {
  SCOPE_TERMINATOR,
  SIGV4_ALGORITHM,
  UNSIGNED_PAYLOAD,
  canonicalPath,
  canonicalRequest,
  parseQuery,
  sha256Hex,
  signatureBytes,
  signingKey,
  stringToSign,
  type QueryParam,
} from './sigv4-canonical.js';

/** An incoming request as the wire carried it. */
export interface SigV4Request {
  method: string;
  /** Path and query exactly as received (`IncomingMessage.url`), never decoded or re-encoded. */
  rawPath: string;
  /** Node's `IncomingMessage.headers`: lower-cased names. */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface SigV4Options {
  /** The service the credential scope must name, e.g. `'lambda'`. */
  service: string;
  /** Milliseconds since the epoch; injected so tests can move the clock. */
  now: () => number;
  /** How far the request time may be from `now()`. @default 300_000 (5 minutes, as AWS) */
  maxClockSkewMs?: number;
}

export type SigV4FailureReason =
  'missing' | 'malformed' | 'unknown-key' | 'expired' | 'bad-signature' | 'bad-body-hash';

export type SigV4Failure = { ok: false; reason: SigV4FailureReason; message: string };
export type SigV4Result = { ok: true; accessKeyId: string; region: string } | SigV4Failure;

/** What the client claims it signed, from the Authorization header or a presigned query string. */
interface SignedClaim {
  accessKeyId: string;
  scope: { date: string; region: string; service: string; terminator: string };
  signedHeaders: string[];
  signature: Buffer;
  /** The request time as it appears in the string to sign: `YYYYMMDDTHHMMSSZ`. */
  amzDate: string;
  /** Presigned URLs only: seconds the signature stays valid after `amzDate`. */
  expiresSeconds: number | undefined;
  payloadHash: string | undefined;
}

const DEFAULT_MAX_CLOCK_SKEW_MS = 5 * 60_000;
const MAX_PRESIGNED_SECONDS = 7 * 24 * 60 * 60;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

const fail = (reason: SigV4FailureReason, message: string): SigV4Failure => ({ ok: false, reason, message });
const malformed = (message: string): SigV4Failure => fail('malformed', message);

/**
 * Verifies an AWS Signature Version 4 request the way AWS's service endpoints do, so stock AWS SDKs
 * can authenticate to Strato. Accepts the `Authorization: AWS4-HMAC-SHA256 ...` header and presigned
 * `X-Amz-Signature` query strings. Failures are results, not exceptions: each carries a `reason` to
 * branch on and an AWS-worded `message` to send back.
 */
export function verifySigV4(
  request: SigV4Request,
  lookupSecret: (accessKeyId: string) => string | undefined,
  options: SigV4Options,
): SigV4Result {
  const queryStart = request.rawPath.indexOf('?');
  const wirePath = queryStart < 0 ? request.rawPath : request.rawPath.slice(0, queryStart);
  let canonicalUri: string;
  let query: QueryParam[];
  try {
    canonicalUri = canonicalPath(wirePath);
    query = parseQuery(queryStart < 0 ? '' : request.rawPath.slice(queryStart + 1));
  } catch {
    // A broken percent-escape in the query, or a lone surrogate anywhere: nothing anyone could have signed.
    return malformed('The request URI contains an invalid percent-encoding or character.');
  }

  const claim = readClaim(request.headers, query);
  if (!claim.ok) return claim;
  const { accessKeyId, scope, signedHeaders, amzDate } = claim.value;
  const problem = checkScope(claim.value, options.service) ?? checkTime(claim.value, options);
  if (problem !== undefined) return problem;

  const secret = lookupSecret(accessKeyId);
  if (secret === undefined) {
    return fail('unknown-key', 'The security token included in the request is invalid.');
  }

  const bodyHash = sha256Hex(request.body);
  const claimedHash = claim.value.payloadHash;
  const canonical = canonicalRequest({
    method: request.method,
    canonicalUri,
    query,
    signedHeaders,
    headerValue: (name) => headerString(request.headers, name),
    // A claimed hash is what the client signed; whether the body matches it is checked after.
    payloadHash: claimedHash ?? bodyHash,
  });
  const credentialScope = `${scope.date}/${scope.region}/${scope.service}/${SCOPE_TERMINATOR}`;
  const key = signingKey(secret, scope.date, scope.region, scope.service);
  const expected = signatureBytes(key, stringToSign(amzDate, credentialScope, canonical));
  if (!timingSafeEqual(expected, claim.value.signature)) {
    return fail(
      'bad-signature',
      'The request signature we calculated does not match the signature you provided. ' +
        'Check your AWS Secret Access Key and signing method.',
    );
  }
  if (claimedHash !== undefined && claimedHash !== UNSIGNED_PAYLOAD && claimedHash !== bodyHash) {
    return fail(
      'bad-body-hash',
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
  }
  return { ok: true, accessKeyId, region: scope.region };
}

function readClaim(
  headers: SigV4Request['headers'],
  query: readonly QueryParam[],
): { ok: true; value: SignedClaim } | SigV4Failure {
  const authorization = headerString(headers, 'authorization');
  const presigned = query.some((p) => p.key === 'X-Amz-Algorithm' || p.key === 'X-Amz-Signature');
  if (authorization !== undefined && presigned) {
    return malformed(
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, ' +
        'Signature query string parameter or the Authorization header should be specified',
    );
  }
  if (authorization !== undefined) return claimFromHeader(authorization, headers);
  if (presigned) return claimFromQuery(query, headers);
  return fail('missing', 'Missing Authentication Token');
}

function claimFromHeader(
  authorization: string,
  headers: SigV4Request['headers'],
): { ok: true; value: SignedClaim } | SigV4Failure {
  const space = authorization.indexOf(' ');
  if (space < 0 || authorization.slice(0, space) !== SIGV4_ALGORITHM) {
    return malformed(`Authorization header must use the '${SIGV4_ALGORITHM}' algorithm.`);
  }
  // Components are comma-separated; SDKs put a space after each comma, hand-rolled clients may not.
  const fields = new Map<string, string>();
  for (const part of authorization.slice(space + 1).split(',')) {
    const pair = part.trim();
    const eq = pair.indexOf('=');
    if (eq <= 0) return malformed('Invalid key=value pair (missing equal-sign) in Authorization header.');
    const name = pair.slice(0, eq);
    if (fields.has(name)) return malformed(`Authorization header has '${name}' more than once.`);
    fields.set(name, pair.slice(eq + 1));
  }
  const missing = ['Credential', 'Signature', 'SignedHeaders'].filter((name) => !fields.has(name));
  if (missing.length > 0) {
    return malformed(missing.map((name) => `Authorization header requires '${name}' parameter.`).join(' '));
  }
  const amzDate = headerString(headers, 'x-amz-date') ?? httpDateAsAmzDate(headerString(headers, 'date'));
  if (amzDate === undefined) {
    return malformed("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  }
  return buildClaim({
    credential: fields.get('Credential') ?? '',
    signedHeaders: fields.get('SignedHeaders') ?? '',
    signature: fields.get('Signature') ?? '',
    amzDate,
    expires: undefined,
    payloadHash: headerString(headers, 'x-amz-content-sha256'),
  });
}

function claimFromQuery(
  query: readonly QueryParam[],
  headers: SigV4Request['headers'],
): { ok: true; value: SignedClaim } | SigV4Failure {
  const required = [
    'X-Amz-Algorithm',
    'X-Amz-Credential',
    'X-Amz-Date',
    'X-Amz-SignedHeaders',
    'X-Amz-Signature',
    'X-Amz-Expires',
  ];
  const values = new Map<string, string>();
  for (const name of required) {
    const found = query.filter((p) => p.key === name);
    if (found.length > 1) return malformed(`The query string has '${name}' more than once.`);
    if (found[0] !== undefined) values.set(name, found[0].value);
  }
  const missing = required.filter((name) => !values.has(name));
  if (missing.length > 0) {
    return malformed(
      missing.map((name) => `AWS query-string parameters must include '${name}'.`).join(' ') +
        ' Re-examine the query-string parameters.',
    );
  }
  if (values.get('X-Amz-Algorithm') !== SIGV4_ALGORITHM) {
    return malformed(`X-Amz-Algorithm only supports '${SIGV4_ALGORITHM}'.`);
  }
  const expiresText = values.get('X-Amz-Expires') ?? '';
  const expires = /^\d{1,7}$/.test(expiresText) ? Number(expiresText) : NaN;
  if (!(expires > 0 && expires <= MAX_PRESIGNED_SECONDS)) {
    return malformed(`X-Amz-Expires must be a number of seconds from 1 to ${MAX_PRESIGNED_SECONDS}.`);
  }
  const hashParam = query.find((p) => p.key.toLowerCase() === 'x-amz-content-sha256');
  return buildClaim({
    credential: values.get('X-Amz-Credential') ?? '',
    signedHeaders: values.get('X-Amz-SignedHeaders') ?? '',
    signature: values.get('X-Amz-Signature') ?? '',
    amzDate: values.get('X-Amz-Date') ?? '',
    expires,
    payloadHash: headerString(headers, 'x-amz-content-sha256') ?? hashParam?.value,
  });
}

function buildClaim(raw: {
  credential: string;
  signedHeaders: string;
  signature: string;
  amzDate: string;
  expires: number | undefined;
  payloadHash: string | undefined;
}): { ok: true; value: SignedClaim } | SigV4Failure {
  const [accessKeyId, date, region, service, terminator, ...extra] = raw.credential.split('/');
  if (!accessKeyId || !date || !region || !service || !terminator || extra.length > 0) {
    return malformed(
      "Credential must have the form '<access key id>/<YYYYMMDD>/<region>/<service>/aws4_request'.",
    );
  }
  const names = raw.signedHeaders.split(';').map((name) => name.trim().toLowerCase());
  if (names.some((name) => name === '')) return malformed('SignedHeaders must not contain an empty name.');
  if (!names.includes('host')) {
    return malformed("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  if (!/^[0-9a-f]{64}$/.test(raw.signature)) {
    return malformed('Signature must be 64 lower-case hexadecimal digits.');
  }
  if (amzDateToMs(raw.amzDate) === undefined) {
    return malformed(
      `The request date '${raw.amzDate}' is not in ISO 8601 basic format (YYYYMMDD'T'HHMMSS'Z').`,
    );
  }
  return {
    ok: true,
    value: {
      accessKeyId,
      scope: { date, region, service, terminator },
      signedHeaders: [...new Set(names)].sort(),
      signature: Buffer.from(raw.signature, 'hex'),
      amzDate: raw.amzDate,
      expiresSeconds: raw.expires,
      payloadHash: raw.payloadHash,
    },
  };
}

function checkScope(claim: SignedClaim, service: string): SigV4Failure | undefined {
  const { scope, amzDate } = claim;
  if (scope.terminator !== SCOPE_TERMINATOR) {
    return malformed(`Credential should be scoped with a valid terminator: '${SCOPE_TERMINATOR}'.`);
  }
  if (scope.service !== service) {
    return malformed(`Credential should be scoped to correct service: '${service}'.`);
  }
  if (scope.date !== amzDate.slice(0, 8)) {
    return malformed(
      'Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: ' +
        `'${scope.date}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
    );
  }
  return undefined;
}

function checkTime(claim: SignedClaim, options: SigV4Options): SigV4Failure | undefined {
  const now = options.now();
  const skewMs = options.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
  const signedAt = amzDateToMs(claim.amzDate) ?? NaN;
  const skewText = skewMs % 60_000 === 0 ? `${skewMs / 60_000} min.` : `${skewMs / 1000} sec.`;
  if (signedAt > now + skewMs) {
    return fail(
      'expired',
      `Signature not yet current: ${claim.amzDate} is still later than ${msToAmzDate(now + skewMs)} ` +
        `(${msToAmzDate(now)} + ${skewText})`,
    );
  }
  // A presigned URL lives for X-Amz-Expires; a signed header only as long as the clocks may disagree.
  const { expiresSeconds } = claim;
  const validMs = expiresSeconds === undefined ? skewMs : expiresSeconds * 1000;
  if (signedAt < now - validMs) {
    return fail(
      'expired',
      `Signature expired: ${claim.amzDate} is now earlier than ${msToAmzDate(now - validMs)} ` +
        `(${msToAmzDate(now)} - ${expiresSeconds === undefined ? skewText : `${expiresSeconds} sec.`})`,
    );
  }
  return undefined;
}

/** One header as a string; Node hands repeated headers over as arrays, which SigV4 joins with `,`. */
function headerString(headers: SigV4Request['headers'], name: string): string | undefined {
  // Header names come from the client's SignedHeaders: `constructor` must not reach Object.prototype.
  if (!Object.hasOwn(headers, name)) return undefined;
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** The `Date` fallback: AWS reads it in ISO 8601 basic form, HTTP-date is accepted and converted. */
function httpDateAsAmzDate(date: string | undefined): string | undefined {
  if (date === undefined || AMZ_DATE.test(date)) return date;
  const ms = Date.parse(date);
  return Number.isNaN(ms) ? date : msToAmzDate(ms);
}

function amzDateToMs(amzDate: string): number | undefined {
  const m = AMZ_DATE.exec(amzDate);
  if (m === null) return undefined;
  const [, year, month, day, hour, minute, second] = m.map(Number);
  const ms = Date.UTC(year ?? 0, (month ?? 0) - 1, day, hour, minute, second);
  // Date.UTC rolls 20261345 over into next year; a round trip rejects such dates.
  return msToAmzDate(ms) === amzDate ? ms : undefined;
}

function msToAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]|\.\d{3}/g, '');
}
