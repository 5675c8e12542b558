import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  GetFunctionCommand,
  InvokeCommand,
  LambdaClient,
  ListFunctionsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-lambda';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  verifySigV4,
  type SigV4FailureReason,
  type SigV4Options,
  type SigV4Request,
  type SigV4Result,
} from './sigv4.js';
import { NodeSha256 } from '../../test/helpers/node-sha256.js';

const ACCESS_KEY_ID = 'AKIDSTRATOTEST';
const SECRET = 'secret';
const SIGNED_AT = new Date('2026-01-01T12:00:00Z');
const clockAt = (ms: number): SigV4Options => ({ service: 'lambda', now: () => ms });
const atSigningTime = clockAt(SIGNED_AT.getTime());
const lookupSecret = (accessKeyId: string): string | undefined =>
  accessKeyId === ACCESS_KEY_ID ? SECRET : undefined;

interface SignerOptions {
  service?: string;
  secret?: string;
  /** false: the signer neither sends nor signs x-amz-content-sha256 (some other SDKs do that). */
  applyChecksum?: boolean;
}

function signer(options: SignerOptions = {}): SignatureV4 {
  return new SignatureV4({
    applyChecksum: options.applyChecksum ?? true,
    service: options.service ?? 'lambda',
    region: 'us-east-1',
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: options.secret ?? SECRET },
    sha256: NodeSha256,
  });
}

interface Unsigned {
  method: string;
  /** The path as the SDK holds it, path parameters already percent-encoded once. */
  path: string;
  query?: Record<string, string | string[]>;
  /** The query as it goes on the wire; defaults to the SDK's encoding of `query`. */
  wireQuery?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** Signs with the real SDK signer and returns the request as a Node server would see it. */
async function signed(
  request: Unsigned,
  options: SignerOptions & { presignSeconds?: number } = {},
): Promise<SigV4Request> {
  const httpRequest = {
    method: request.method,
    protocol: 'http:',
    hostname: 'lambda.local',
    port: 9000,
    path: request.path,
    query: request.query ?? {},
    headers: { host: 'lambda.local:9000', ...request.headers },
    body: request.body,
  };
  const sigv4 = signer(options);
  const result =
    options.presignSeconds === undefined
      ? await sigv4.sign(httpRequest, { signingDate: SIGNED_AT })
      : await sigv4.presign(httpRequest, { signingDate: SIGNED_AT, expiresIn: options.presignSeconds });
  const wireQuery = request.wireQuery ?? encodeQuery(result.query ?? {});
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers)) headers[name.toLowerCase()] = value;
  return {
    method: request.method,
    rawPath: wireQuery === '' ? request.path : `${request.path}?${wireQuery}`,
    headers,
    body: Buffer.from(request.body ?? ''),
  };
}

function encodeQuery(query: Record<string, string | string[] | null>): string {
  const escape = (s: string): string =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return Object.entries(query)
    .flatMap(([key, value]) => [value ?? ''].flat().map((v) => `${escape(key)}=${escape(v)}`))
    .join('&');
}

const verify = (request: SigV4Request, options: SigV4Options = atSigningTime): SigV4Result =>
  verifySigV4(request, lookupSecret, options);
/** `'ok'` or the failure reason: one value to assert on. */
const outcome = (request: SigV4Request, options?: SigV4Options): 'ok' | SigV4FailureReason => {
  const result = verify(request, options);
  return result.ok ? 'ok' : result.reason;
};

describe('verifySigV4 with requests signed by @smithy/signature-v4', () => {
  it('accepts a signed GET', async () => {
    const request = await signed({ method: 'GET', path: '/2015-03-31/functions/' });
    expect(verify(request)).toEqual({ ok: true, accessKeyId: ACCESS_KEY_ID, region: 'us-east-1' });
  });

  it('accepts a signed POST with a body and x-amz-content-sha256', async () => {
    const request = await signed({
      method: 'POST',
      path: '/2015-03-31/functions/my-fn/invocations',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1,"text":"héllo"}',
    });
    expect(request.headers['x-amz-content-sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(outcome(request)).toBe('ok');
  });

  it('double-encodes the path as the SDK does: %24LATEST and %3A in a name', async () => {
    const request = await signed({
      method: 'POST',
      path: '/2015-03-31/functions/my-fn%3A%24LATEST/invocations',
    });
    expect(outcome(request)).toBe('ok');
    // The same signature over the decoded path must not verify: the path is not decoded first.
    expect(outcome({ ...request, rawPath: '/2015-03-31/functions/my-fn:$LATEST/invocations' })).toBe(
      'bad-signature',
    );
  });

  it('normalizes empty and dot segments of the path as the SDK does', async () => {
    const request = await signed({ method: 'GET', path: '//2015-03-31/./functions/x/../' });
    expect(outcome(request)).toBe('ok');
  });

  it('canonicalizes a query whose characters need encoding, whatever the wire order and escaping', async () => {
    const query = { Qualifier: '$LATEST', Marker: 'a b+c/é*~', Empty: '', multi: ['z', 'a'] };
    const request = await signed({ method: 'GET', path: '/2015-03-31/functions/my-fn', query });
    expect(outcome(request)).toBe('ok');
    const reordered = await signed({
      method: 'GET',
      path: '/2015-03-31/functions/my-fn',
      query,
      // Unsorted, `~` escaped needlessly, `*` left bare: all decode to the same parameters.
      wireQuery: 'multi=z&Marker=a%20b%2Bc%2F%C3%A9*%7E&Qualifier=%24LATEST&multi=a&Empty',
    });
    expect(outcome(reordered)).toBe('ok');
  });

  it('collapses runs of spaces in signed header values', async () => {
    const request = await signed({
      method: 'GET',
      path: '/',
      headers: { 'x-amz-meta-note': '  a   b \t c  ' },
    });
    expect(String(request.headers.authorization)).toContain('x-amz-meta-note');
    expect(outcome(request)).toBe('ok');
    // Node trims the ends of header values but keeps the runs inside; either way the signature holds.
    const asNodeSeesIt = { ...request.headers, 'x-amz-meta-note': 'a   b \t c' };
    expect(outcome({ ...request, headers: asNodeSeesIt })).toBe('ok');
    // Whitespace is only collapsed, never removed: a changed word boundary is a different value.
    expect(outcome({ ...request, headers: { ...request.headers, 'x-amz-meta-note': 'ab c' } })).toBe(
      'bad-signature',
    );
  });

  it('accepts a signed x-amz-security-token', async () => {
    const sigv4 = new SignatureV4({
      service: 'lambda',
      region: 'eu-west-3',
      credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET, sessionToken: 'tok/en' },
      sha256: NodeSha256,
    });
    const out = await sigv4.sign(
      { method: 'GET', protocol: 'http:', hostname: 'h', path: '/', headers: { host: 'h' } },
      { signingDate: SIGNED_AT },
    );
    const headers = out.headers;
    expect(headers.authorization).toContain('x-amz-security-token');
    const request = { method: 'GET', rawPath: '/', headers, body: Buffer.alloc(0) };
    expect(verify(request)).toEqual({ ok: true, accessKeyId: ACCESS_KEY_ID, region: 'eu-west-3' });
    expect(outcome({ ...request, headers: { ...headers, 'x-amz-security-token': 'other' } })).not.toBe('ok');
  });

  it('accepts presigned query-string auth until X-Amz-Expires runs out', async () => {
    const request = await signed(
      { method: 'GET', path: '/2015-03-31/functions/my-fn', query: { Qualifier: '$LATEST' } },
      { presignSeconds: 60 },
    );
    expect(request.rawPath).toContain('X-Amz-Signature=');
    expect(request.headers.authorization).toBeUndefined();
    expect(outcome(request, clockAt(SIGNED_AT.getTime() + 59_000))).toBe('ok');
    expect(outcome(request, clockAt(SIGNED_AT.getTime() + 61_000))).toBe('expired');
    const tampered = { ...request, rawPath: request.rawPath.replace('%24LATEST', '1') };
    expect(outcome(tampered)).toBe('bad-signature');
  });

  it('takes the request time from Date when X-Amz-Date is absent', async () => {
    // Hand-written canonical request, signed by the SDK's string signer: no code under test involved.
    for (const date of ['20260101T120000Z', 'Thu, 01 Jan 2026 12:00:00 GMT']) {
      const canonical = [
        'GET',
        '/',
        '',
        `date:${date}`,
        'host:example.com',
        '',
        'date;host',
        sha256(''),
      ].join('\n');
      const toSign = [
        'AWS4-HMAC-SHA256',
        '20260101T120000Z',
        '20260101/us-east-1/lambda/aws4_request',
        sha256(canonical),
      ].join('\n');
      const signature = await signer().sign(toSign, { signingDate: SIGNED_AT });
      const authorization = `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY_ID}/20260101/us-east-1/lambda/aws4_request,SignedHeaders=date;host,Signature=${signature}`;
      const headers = { host: 'example.com', date, authorization };
      expect(outcome({ method: 'GET', rawPath: '/', headers, body: Buffer.alloc(0) })).toBe('ok');
    }
  });

  it("matches the AWS test suite's get-vanilla signature", () => {
    const authorization =
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ' +
      'SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31';
    const request = {
      method: 'GET',
      rawPath: '/',
      headers: { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z', authorization },
      body: Buffer.alloc(0),
    };
    const result = verifySigV4(
      request,
      (id) => (id === 'AKIDEXAMPLE' ? 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' : undefined),
      { service: 'service', now: () => Date.parse('2015-08-30T12:36:00Z') },
    );
    expect(result.ok).toBe(true);
  });
});

describe('verifySigV4 rejections', () => {
  let post: SigV4Request;
  beforeEach(async () => {
    post = await signed({
      method: 'POST',
      path: '/2015-03-31/functions/my-fn/invocations',
      headers: { 'x-amz-invocation-type': 'Event' },
      body: '{"a":1}',
    });
  });

  it('a tampered body fails the x-amz-content-sha256 check', () => {
    expect(verify({ ...post, body: Buffer.from('{"a":2}') })).toMatchObject({ reason: 'bad-body-hash' });
  });

  it('a tampered body fails the signature when no content hash header was sent', async () => {
    const request = await signed({ method: 'POST', path: '/', body: '{"a":1}' }, { applyChecksum: false });
    expect(request.headers['x-amz-content-sha256']).toBeUndefined();
    expect(outcome(request)).toBe('ok');
    // With no claimed hash, the body's own hash is what the signature covers.
    expect(outcome({ ...request, body: Buffer.from('{"a":2}') })).toBe('bad-signature');
  });

  it('accepts UNSIGNED-PAYLOAD when that is what was signed', async () => {
    const request = await signed({
      method: 'POST',
      path: '/',
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      body: 'anything',
    });
    expect(outcome(request)).toBe('ok');
  });

  it('a tampered signed header fails', () => {
    const headers = { ...post.headers, 'x-amz-invocation-type': 'RequestResponse' };
    expect(verify({ ...post, headers })).toEqual({
      ok: false,
      reason: 'bad-signature',
      message:
        'The request signature we calculated does not match the signature you provided. ' +
        'Check your AWS Secret Access Key and signing method.',
    });
  });

  it('a changed method or path fails', () => {
    expect(outcome({ ...post, method: 'PUT' })).toBe('bad-signature');
    expect(outcome({ ...post, rawPath: '/2015-03-31/functions/other/invocations' })).toBe('bad-signature');
  });

  it('a wrong secret fails', async () => {
    expect(outcome(await signed({ method: 'GET', path: '/' }, { secret: 'wrong' }))).toBe('bad-signature');
  });

  it('an unknown access key fails', () => {
    const result = verifySigV4(post, () => undefined, atSigningTime);
    expect(result).toMatchObject({
      reason: 'unknown-key',
      message: 'The security token included in the request is invalid.',
    });
  });

  it('a date more than 5 minutes from the clock fails either way', () => {
    const t = SIGNED_AT.getTime();
    expect(outcome(post, clockAt(t + 4 * 60_000))).toBe('ok');
    expect(outcome(post, clockAt(t - 4 * 60_000))).toBe('ok');
    const late = verify(post, clockAt(t + 6 * 60_000));
    expect(late).toMatchObject({
      reason: 'expired',
      message: expect.stringMatching(/^Signature expired: 20260101T120000Z/) as unknown,
    });
    expect(verify(post, clockAt(t - 6 * 60_000))).toMatchObject({ reason: 'expired' });
    expect(outcome(post, { ...clockAt(t + 6 * 60_000), maxClockSkewMs: 10 * 60_000 })).toBe('ok');
  });

  it('a credential scoped to another service fails', async () => {
    const request = await signed({ method: 'GET', path: '/' }, { service: 's3' });
    expect(verify(request)).toMatchObject({
      reason: 'malformed',
      message: "Credential should be scoped to correct service: 'lambda'.",
    });
  });

  it('a scope date that is not the request day fails', () => {
    const authorization = String(post.headers.authorization).replace('/20260101/', '/20251231/');
    expect(outcome({ ...post, headers: { ...post.headers, authorization } })).toBe('malformed');
  });

  it.each([
    ['another scheme', 'Bearer abc'],
    ['no components', 'AWS4-HMAC-SHA256'],
    [
      'a missing Signature',
      `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY_ID}/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host`,
    ],
    [
      'a short credential',
      `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY_ID}/20260101, SignedHeaders=host, Signature=${'0'.repeat(64)}`,
    ],
    [
      'host not signed',
      `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY_ID}/20260101/us-east-1/lambda/aws4_request, SignedHeaders=x-amz-date, Signature=${'0'.repeat(64)}`,
    ],
    [
      'a non-hex signature',
      `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY_ID}/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=xyz`,
    ],
  ])('a malformed Authorization header (%s) fails', (_label, authorization) => {
    expect(outcome({ ...post, headers: { ...post.headers, authorization } })).toBe('malformed');
  });

  it('signed header names that are Object.prototype keys fail cleanly', () => {
    const authorization = String(post.headers.authorization).replace(
      'SignedHeaders=',
      'SignedHeaders=__proto__;constructor;',
    );
    expect(outcome({ ...post, headers: { ...post.headers, authorization } })).toBe('bad-signature');
  });

  it('a missing date header or a broken query string is malformed', () => {
    const headers = { ...post.headers };
    delete headers['x-amz-date'];
    expect(outcome({ ...post, headers })).toBe('malformed');
    expect(outcome({ ...post, rawPath: `${post.rawPath}?a=%E0%A4%A` })).toBe('malformed');
    expect(outcome({ ...post, rawPath: '/\uD800' })).toBe('malformed');
  });

  it('no Authorization header at all is missing', () => {
    const headers = { ...post.headers };
    delete headers.authorization;
    expect(verify({ ...post, headers })).toEqual({
      ok: false,
      reason: 'missing',
      message: 'Missing Authentication Token',
    });
  });
});

interface Captured {
  request: SigV4Request;
}

describe('verifySigV4 against @aws-sdk/client-lambda over HTTP', () => {
  let server: Server;
  let endpoint: string;
  let captured: Captured[];
  const clients: LambdaClient[] = [];

  beforeEach(async () => {
    captured = [];
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const headers: IncomingHttpHeaders = req.headers;
        captured.push({
          request: { method: req.method ?? '', rawPath: req.url ?? '', headers, body: Buffer.concat(chunks) },
        });
        if (req.method === 'GET' && req.url?.startsWith('/2015-03-31/functions/my-fn')) {
          res.writeHead(404, {
            'content-type': 'application/json',
            'x-amzn-errortype': 'ResourceNotFoundException',
          });
          res.end('{"Type":"User","message":"x"}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"Functions":[]}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) =>
      server.close((error) => (error ? reject(error) : resolve())),
    );
  });

  function client(secretAccessKey: string): LambdaClient {
    const lambda = new LambdaClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey },
      maxAttempts: 1,
    });
    clients.push(lambda);
    return lambda;
  }

  const realClock: SigV4Options = { service: 'lambda', now: () => Date.now() };

  it('verifies ListFunctions, GetFunction with $LATEST and Invoke', async () => {
    const lambda = client(SECRET);
    await lambda.send(new ListFunctionsCommand({}));
    await expect(
      lambda.send(new GetFunctionCommand({ FunctionName: 'my-fn', Qualifier: '$LATEST' })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
    await lambda.send(
      new InvokeCommand({ FunctionName: 'my-fn', Payload: new TextEncoder().encode('{"a":1}') }),
    );

    expect(captured.map((c) => `${c.request.method} ${c.request.rawPath}`)).toEqual([
      'GET /2015-03-31/functions',
      'GET /2015-03-31/functions/my-fn?Qualifier=%24LATEST',
      'POST /2015-03-31/functions/my-fn/invocations',
    ]);
    for (const { request } of captured) {
      expect(verifySigV4(request, lookupSecret, realClock)).toEqual({
        ok: true,
        accessKeyId: ACCESS_KEY_ID,
        region: 'us-east-1',
      });
    }
    expect(captured[2]?.request.body.toString()).toBe('{"a":1}');
  });

  it('verifies an ARN in the path (%3A, encoded again when signing) and a query needing encoding', async () => {
    const lambda = client(SECRET);
    const arn = 'arn:aws:lambda:us-east-1:123456789012:function:my-fn';
    await lambda.send(
      new InvokeCommand({ FunctionName: arn, Qualifier: '$LATEST', Payload: new Uint8Array() }),
    );
    await lambda.send(new ListFunctionsCommand({ Marker: "a b/c+d~'", MaxItems: 5 }));

    expect(captured.map((c) => c.request.rawPath)).toEqual([
      '/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn/invocations?Qualifier=%24LATEST',
      '/2015-03-31/functions?Marker=a%20b%2Fc%2Bd~%27&MaxItems=5',
    ]);
    for (const { request } of captured) {
      expect(verifySigV4(request, lookupSecret, realClock).ok).toBe(true);
    }
  });

  it('rejects a client with the wrong secret', async () => {
    await client('not-the-secret').send(new ListFunctionsCommand({}));
    expect(captured).toHaveLength(1);
    const request = captured[0]?.request;
    expect(request && verifySigV4(request, lookupSecret, realClock)).toMatchObject({
      reason: 'bad-signature',
    });
  });
});

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
