import http from 'node:http';
import https from 'node:https';

/** The address a URL's host was checked to resolve to (src/sandbox/egress/egress-policy.ts). */
export interface PinnedAddress {
  address: string;
  family: 4 | 6;
}

/**
 * POSTs `body` to `url`, connecting only to `pinned` (a second DNS answer cannot redirect it: rebinding)
 * and never following a redirect. TLS still verifies the certificate for the URL's host name. Resolves
 * with the status once the response is read (its body is discarded, at most 1 MiB is read).
 */
export function pinnedPost(
  url: URL,
  body: string,
  headers: Record<string, string>,
  pinned: PinnedAddress,
  timeoutMs: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const outgoing = (url.protocol === 'https:' ? https : http).request(url, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      agent: false,
      signal: AbortSignal.timeout(timeoutMs),
      lookup: (_hostname, options, callback) => {
        if ((options as { all?: boolean }).all === true) {
          (callback as unknown as (e: null, a: PinnedAddress[]) => void)(null, [pinned]);
        } else callback(null, pinned.address, pinned.family);
      },
    });
    outgoing.once('error', reject);
    outgoing.once('response', (response) => {
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > 1024 * 1024) response.destroy();
      });
      response.once('close', () => resolve(response.statusCode ?? 502));
      response.once('error', () => resolve(response.statusCode ?? 502));
    });
    outgoing.end(body);
  });
}
