import { connect } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeSha256 } from '../helpers/node-sha256.js';
import { invokeJson, startTestServer, uniqueName, type TestServer } from '../helpers/server.js';
import {
  badInputCases,
  CORPUS_LIMITS,
  rawCases,
  type BadInputCase,
  type CorpusKey,
  type RawCase,
} from './support/bad-input-cases.js';

// The bad-input corpus against every public endpoint: each row gets its documented status and stable
// code, nothing answers 500 or hangs, and the server still serves /healthz and a normal invoke afterwards.
// A row fails if its protection goes: drop the name allowlist (src/http/function-name.ts) and the
// INVALID_NAME rows answer 404 FUNCTION_NOT_FOUND; drop readBody's Content-Length check and the
// "refused before any is sent" rows wait for a body that never comes (408 instead of 413).

const credentials = { accessKeyId: 'STRATOCORPUSKEY00001', secretAccessKey: 'strato-corpus-secret-0001' };
let server: TestServer;
let fn: string;
let fetchFn: string;
let keyedFn: string;
/** A key of each scope, and a revoked one. */
const keys: Record<Exclude<CorpusKey, 'none'>, string> = {
  admin: '',
  deploy: '',
  invoke: '',
  read: '',
  revoked: '',
};

beforeAll(async () => {
  server = await startTestServer({ ...CORPUS_LIMITS, lambdaCredentials: [credentials] });
  fn = uniqueName('corpus-echo');
  fetchFn = uniqueName('corpus-fetch');
  keyedFn = uniqueName('corpus-keyed');
  keys.admin = server.apiKey;
  for (const scope of ['deploy', 'invoke', 'read'] as const) {
    keys[scope] = (await server.client.createKey({ scopes: [scope] })).token;
  }
  const revoked = await server.client.createKey({ scopes: ['admin'] });
  await server.client.revokeKey(revoked.key.id);
  keys.revoked = revoked.token;
  await server.client.deploy(keyedFn, {
    code: 'module.exports = { default: { fetch: () => new Response("keyed") } };',
    httpAuth: 'key',
  });
  await server.client.deploy(fn, { code: 'module.exports = async (event) => ({ echo: typeof event });' });
  await server.client.deploy(fetchFn, {
    code: `module.exports = { default: { async fetch(request) {
      const body = await request.arrayBuffer();
      return Response.json({ path: new URL(request.url).pathname, bytes: body.byteLength });
    } } };`,
  });
});
afterAll(async () => {
  await server?.stop();
});

function fill(text: string): string {
  return text
    .replaceAll('{fn}', fn)
    .replaceAll('{fetch}', fetchFn)
    .replaceAll('{keyed}', keyedFn)
    .replaceAll('{key}', keys.admin);
}

const signer = new SignatureV4({
  service: 'lambda',
  region: 'us-east-1',
  credentials,
  sha256: NodeSha256,
  applyChecksum: true,
});

async function send(testCase: BadInputCase): Promise<Response> {
  const url = new URL(fill(testCase.path), server.url);
  const rawBody = typeof testCase.body === 'function' ? await testCase.body() : testCase.body;
  const body = typeof rawBody === 'string' ? fill(rawBody) : rawBody;
  let headers: Record<string, string> = { ...testCase.headers };
  const key = testCase.key ?? (testCase.path.startsWith('/2015-03-31/') ? 'none' : 'admin');
  if (testCase.sign !== true && key !== 'none' && headers['authorization'] === undefined) {
    headers['authorization'] = `Bearer ${keys[key]}`;
  }
  if (testCase.sign === true) {
    const signed = await signer.sign({
      method: testCase.method,
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { ...headers, host: url.host },
      body,
    });
    headers = signed.headers;
    delete headers['host'];
  }
  return fetch(url, { method: testCase.method, headers, body: body as RequestInit['body'] });
}

function codeOf(response: Response, text: string): string | null {
  const lambdaType = response.headers.get('x-amzn-errortype');
  if (lambdaType !== null) return lambdaType.split(':')[0]!;
  try {
    const parsed = JSON.parse(text) as { error?: { code?: string } };
    return parsed.error?.code ?? null;
  } catch {
    return null;
  }
}

/** Writes `chunks` over a raw connection (pausing at numbers); resolves with the reply once the server closes. */
function rawExchange(testCase: RawCase): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (data: Buffer) => {
      received.push(data);
      // A complete reply is enough: some refusals leave the connection open for the unread body.
      const text = Buffer.concat(received).toString('latin1');
      const length = /content-length: (\d+)/i.exec(text);
      const headEnd = text.indexOf('\r\n\r\n');
      if (length !== null && headEnd !== -1 && text.length >= headEnd + 4 + Number(length[1]))
        socket.destroy();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') return;
      reject(error);
    });
    socket.on('close', () => resolve(Buffer.concat(received).toString('latin1')));
    void (async () => {
      for (const chunk of testCase.chunks) {
        if (socket.destroyed) return;
        if (typeof chunk === 'number') await new Promise((r) => setTimeout(r, chunk));
        else socket.write(typeof chunk === 'string' ? fill(chunk) : chunk);
      }
    })();
  });
}

describe('bad-input corpus', () => {
  it('has at least 60 cases', () => {
    expect(badInputCases.length + rawCases.length).toBeGreaterThanOrEqual(60);
  });

  it.each(badInputCases.map((testCase) => [testCase.name, testCase] as const))(
    '%s',
    async (_name, testCase) => {
      const response = await send(testCase);
      const text = await response.text();
      expect({ status: response.status, code: codeOf(response, text) }, text.slice(0, 500)).toEqual({
        status: testCase.expectedStatus,
        code: testCase.expectedCode,
      });
    },
  );

  it.concurrent.each(rawCases.map((testCase) => [testCase.name, testCase] as const))(
    'raw: %s',
    async (_name, testCase) => {
      const reply = await rawExchange(testCase);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1]);
      const body = reply.slice(reply.indexOf('\r\n\r\n') + 4);
      let code: string | null = null;
      try {
        code = (JSON.parse(body) as { error?: { code?: string } }).error?.code ?? null;
      } catch {
        // Node's own refusals have no JSON body.
      }
      expect({ status, code }, reply.slice(0, 300)).toEqual({
        status: testCase.expectedStatus,
        code: testCase.expectedCode,
      });
    },
    15_000,
  );

  it('still serves /healthz and a normal invoke after the corpus', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(await invokeJson(server.client, fn, { ok: true })).toMatchObject({
      status: 200,
      body: { echo: 'object' },
    });
  });
});
