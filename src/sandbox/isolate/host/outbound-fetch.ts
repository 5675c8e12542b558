import http from 'node:http';
import https from 'node:https';
import type { EgressPolicy } from '../../egress/egress-policy.js';

/**
 * The host half of the guest's `fetch`: performs one outbound request with node:http(s) on behalf of an
 * isolate. Everything it reads came from untrusted guest code, so arguments are type-checked, the response
 * body is capped, and requests are aborted when their invocation ends. Redirects are not followed (the
 * guest sees the 3xx), so the egress policy checks every hop the function asks for.
 *
 * Not Node's global fetch: undici parses HTTP with WebAssembly, which isolate hosts run without
 * (`--noexpose-wasm`, so guests cannot allocate wasm memory outside their heap limit).
 */

/** Largest response body handed back to a guest (Lambda's payload limit). */
export const MAX_FETCH_RESPONSE_BYTES = 6 * 1024 * 1024;

export type FetchAnswer =
  | { ok: true; status: number; statusText: string; headersJson: string; bodyBase64: string }
  | { ok: false; error: string };

/** What the guest may not set: hop-by-hop headers belong to the host's connection. */
const FORBIDDEN_HEADERS = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
]);

export async function performFetch(
  method: unknown,
  url: unknown,
  headersJson: unknown,
  bodyBase64: unknown,
  signal: AbortSignal,
  policy: EgressPolicy,
): Promise<FetchAnswer> {
  try {
    if (
      typeof method !== 'string' ||
      typeof url !== 'string' ||
      typeof headersJson !== 'string' ||
      typeof bodyBase64 !== 'string'
    ) {
      return { ok: false, error: 'invalid arguments' };
    }
    const target = new URL(url);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      return { ok: false, error: `unsupported protocol ${target.protocol}` };
    }
    if (!/^[A-Za-z]{1,16}$/.test(method)) return { ok: false, error: `invalid method ${method}` };
    const headers: Array<[string, string]> = [];
    for (const pair of JSON.parse(headersJson) as unknown[]) {
      if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') continue;
      if (!FORBIDDEN_HEADERS.has(pair[0].toLowerCase())) headers.push([pair[0], pair[1]]);
    }
    const body = bodyBase64 === '' ? undefined : Buffer.from(bodyBase64, 'base64');
    const pinned = await policy.vet(target);
    return await request(target, method.toUpperCase(), headers, body, signal, pinned);
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

function request(
  target: URL,
  method: string,
  headers: Array<[string, string]>,
  body: Buffer | undefined,
  signal: AbortSignal,
  pinned: { address: string; family: 4 | 6 },
): Promise<FetchAnswer> {
  return new Promise((resolve, reject) => {
    // Repeated names go out as repeated header lines, as the guest gave them.
    const byName = Object.create(null) as Record<string, string[]>;
    for (const [name, value] of headers) (byName[name.toLowerCase()] ??= []).push(value);
    if (body !== undefined) byName['content-length'] = [String(body.length)];
    const outgoing = (target.protocol === 'https:' ? https : http).request(target, {
      method,
      headers: byName,
      signal,
      // One connection per request: nothing a function opened outlives its invocation.
      agent: false,
      // To the address the policy checked, never to a second DNS answer (rebinding); TLS still verifies
      // the certificate for the URL's host name.
      lookup: (_hostname, options, callback) => {
        if ((options as { all?: boolean }).all === true) {
          (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [
            pinned,
          ]);
        } else callback(null, pinned.address, pinned.family);
      },
    });
    outgoing.once('error', reject);
    outgoing.once('response', (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_FETCH_RESPONSE_BYTES) {
          response.destroy(new Error(`the response body is larger than ${MAX_FETCH_RESPONSE_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      response.once('error', reject);
      response.once('end', () => {
        const pairs: Array<[string, string]> = [];
        const raw = response.rawHeaders;
        for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
        const bytes = Buffer.concat(chunks);
        resolve({
          ok: true,
          status: response.statusCode ?? 502,
          statusText: response.statusMessage ?? '',
          headersJson: JSON.stringify(pairs),
          bodyBase64: bytes.length === 0 ? '' : bytes.toString('base64'),
        });
      });
    });
    outgoing.end(body);
  });
}
