// Writing a blob to disk while hashing and counting it, so a blob is verified in the same pass that stores
// it (registry downloads and archive imports both stream; neither holds a layer in memory).
import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import type { StratoError } from '../core/strato-error.js';
import type { Digest } from './image-types.js';

export function sha256Digest(bytes: Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export interface HashedFile {
  digest: Digest;
  size: number;
}

/**
 * Streams `chunks` into a new file at `path` (truncating one left by an earlier attempt), hashing them, and
 * flushes it to disk. Past `maxBytes` it stops reading and throws `tooLarge()`; on any failure the file is
 * removed. The caller compares the digest and size with what it expected.
 */
export async function writeHashedFile(
  chunks: AsyncIterable<Uint8Array>,
  path: string,
  maxBytes: number,
  tooLarge: () => StratoError,
): Promise<HashedFile> {
  const hash = createHash('sha256');
  let size = 0;
  const file = await open(path, 'w', 0o600);
  try {
    for await (const chunk of chunks) {
      size += chunk.length;
      if (size > maxBytes) throw tooLarge();
      hash.update(chunk);
      await file.write(chunk);
    }
    await file.sync();
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(path, { force: true });
    throw error;
  }
  await file.close();
  return { digest: `sha256:${hash.digest('hex')}`, size };
}
