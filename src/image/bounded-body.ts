// Reading an HTTP response body into memory only up to a bound: a registry (or anything answering in its
// place) decides how much it sends, so manifests, configs and token responses are capped while they stream.
import type { StratoError } from '../core/strato-error.js';

/**
 * The body of `response`, or `tooLarge()` thrown as soon as the declared length or the bytes received pass
 * `maxBytes` (the rest is not read).
 */
export async function readBoundedBody(
  response: Response,
  maxBytes: number,
  tooLarge: () => StratoError,
): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw tooLarge();
  }
  const body = response.body;
  if (body === null) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  // undici types the body as ReadableStream<any>; it carries bytes.
  const reader = (body as ReadableStream<Uint8Array>).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}
