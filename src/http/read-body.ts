import type { IncomingMessage } from 'node:http';
import { StratoError } from '../core/strato-error.js';

/**
 * Reads a request body up to `limitBytes`. A declared Content-Length over the limit is refused before
 * a byte is read; a body that grows past it is refused as soon as it does, never buffered whole.
 */
export function readBody(request: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limitBytes) return Promise.reject(tooLarge(limitBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        request.removeAllListeners('data');
        request.resume();
        reject(tooLarge(limitBytes));
        return;
      }
      chunks.push(chunk);
    });
    request.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    request.once('error', reject);
  });
}

function tooLarge(limitBytes: number): StratoError {
  return new StratoError('PAYLOAD_TOO_LARGE', `the body is larger than the limit of ${limitBytes} bytes`);
}
