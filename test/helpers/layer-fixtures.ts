import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import tar, { type Header } from 'tar-stream';
import type { BlobDescriptor, Digest } from '../../src/image/image-types.js';

// Raw tar layers for the layer cache's unit tests: headers written as given (tar-stream), so a test can
// build any entry, hostile ones included.

export type TarEntry = Partial<Header> & { name: string; content?: string };

export function sha256Of(bytes: Buffer | string): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** The entries as an uncompressed tar. */
export async function tarOf(entries: readonly TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const { content, ...header } of entries) {
    if (content === undefined) pack.entry(header);
    else pack.entry(header, content);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A layer as a manifest would list it: the blob, its descriptor, and its diff id. */
export interface TestLayer {
  descriptor: BlobDescriptor;
  diffId: Digest;
  blob: Buffer;
}

export async function testLayer(entries: readonly TarEntry[], gzip = true): Promise<TestLayer> {
  const tarBytes = await tarOf(entries);
  const blob = gzip ? gzipSync(tarBytes) : tarBytes;
  return {
    descriptor: {
      mediaType: gzip
        ? 'application/vnd.oci.image.layer.v1.tar+gzip'
        : 'application/vnd.oci.image.layer.v1.tar',
      digest: sha256Of(blob),
      size: blob.length,
    },
    diffId: sha256Of(tarBytes),
    blob,
  };
}
