/**
 * The host half of the guest's `fetch`: performs one outbound request with Node's fetch on behalf of an
 * isolate. Everything it reads came from untrusted guest code, so arguments are type-checked, the response
 * body is capped, and requests are aborted when their invocation ends. Redirects are not followed (the
 * guest sees the 3xx), so a later egress policy checks every hop the function asks for.
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
    const headers = new Headers();
    for (const pair of JSON.parse(headersJson) as unknown[]) {
      if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') continue;
      if (!FORBIDDEN_HEADERS.has(pair[0].toLowerCase())) headers.append(pair[0], pair[1]);
    }
    const response = await fetch(target, {
      method,
      headers,
      body: bodyBase64 === '' ? null : Buffer.from(bodyBase64, 'base64'),
      redirect: 'manual',
      signal,
    });
    const body = await readCapped(response);
    const pairs: Array<[string, string]> = [];
    response.headers.forEach((value, name) => pairs.push([name, value]));
    return {
      ok: true,
      status: response.status,
      statusText: response.statusText,
      headersJson: JSON.stringify(pairs),
      bodyBase64: body.length === 0 ? '' : body.toString('base64'),
    };
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    return { ok: false, error: cause ?? (error instanceof Error ? error.message : String(error)) };
  }
}

async function readCapped(response: Response): Promise<Buffer> {
  if (response.body === null) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += (chunk as Uint8Array).byteLength;
    if (size > MAX_FETCH_RESPONSE_BYTES) {
      throw new Error(`the response body is larger than ${MAX_FETCH_RESPONSE_BYTES} bytes`);
    }
    chunks.push(Buffer.from(chunk as Uint8Array));
  }
  return Buffer.concat(chunks);
}
