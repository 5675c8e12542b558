// One pass over an uploaded image tarball (docker save or OCI layout, optionally gzipped): every regular
// entry is hashed while it is written to a numbered file of the work dir (entry names never become paths),
// the few metadata files are kept in memory, and links are recorded as aliases. Which entries the image
// uses is only known afterwards (docker save writes manifest.json last), so all of them are kept for now.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { StratoError, isStratoError } from '../core/strato-error.js';
import { writeHashedFile } from './hashed-file.js';
import type { Digest, ImageLimits } from './image-types.js';
import { MAX_MANIFEST_BYTES } from './manifest.js';

/** Entries read into memory rather than written out. */
export const METADATA_NAMES: ReadonlySet<string> = new Set([
  'manifest.json',
  'index.json',
  'oci-layout',
  'repositories',
]);

/** A regular entry, written to `filePath` under a name of ours. */
export interface ArchiveFile {
  filePath: string;
  digest: Digest;
  size: number;
}

export interface ArchiveEntries {
  /** Regular entries by normalized name. */
  files: Map<string, ArchiveFile>;
  /** Symlinks and hardlinks: normalized name → normalized target name. */
  links: Map<string, string>;
  /** manifest.json, index.json, oci-layout, repositories. */
  metadata: Map<string, Buffer>;
}

/**
 * `./a//b` → `a/b`. Absolute names, `..` components and NUL bytes are refused: the archive is the user's,
 * and an entry that names a place outside itself is either broken or an attack.
 * @throws StratoError INVALID_IMAGE
 */
export function normalizeEntryName(name: string): string {
  if (name.startsWith('/') || name.includes('\0')) {
    throw new StratoError(
      'INVALID_IMAGE',
      `the archive has an entry with an absolute or invalid name: ${JSON.stringify(name.slice(0, 200))}`,
    );
  }
  const parts = name.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) {
    throw new StratoError(
      'INVALID_IMAGE',
      `the archive has an entry leaving it: ${JSON.stringify(name.slice(0, 200))}`,
    );
  }
  return parts.join('/');
}

function linkTarget(name: string, linkname: string, symbolic: boolean): string {
  if (linkname.startsWith('/')) {
    throw new StratoError('INVALID_IMAGE', `archive entry ${name} links to an absolute path`);
  }
  // A symlink is relative to its directory; a hardlink names an entry of the archive.
  const joined = symbolic
    ? path.posix.normalize(path.posix.join(path.posix.dirname(name), linkname))
    : linkname;
  return normalizeEntryName(joined);
}

async function isGzip(tarPath: string): Promise<{ gzip: boolean; size: number }> {
  const file = await open(tarPath, 'r');
  try {
    const magic = Buffer.alloc(2);
    await file.read(magic, 0, 2, 0);
    return { gzip: magic[0] === 0x1f && magic[1] === 0x8b, size: (await file.stat()).size };
  } finally {
    await file.close();
  }
}

async function readSmall(entry: AsyncIterable<Uint8Array>, name: string): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const bytes of entry) {
    size += bytes.length;
    if (size > MAX_MANIFEST_BYTES)
      throw new StratoError(
        'IMAGE_TOO_LARGE',
        `archive entry ${name} is larger than ${MAX_MANIFEST_BYTES} bytes`,
      );
    chunks.push(bytes);
  }
  return Buffer.concat(chunks, size);
}

/**
 * Reads the whole archive once into `incomingDir` (which must exist and be empty).
 * @throws StratoError INVALID_IMAGE (not a tar, unsafe or duplicate names, device entries), IMAGE_TOO_LARGE
 *   (an entry over limits.maxBlobBytes, more than limits.maxLayerEntries entries, or a gzipped archive
 *   expanding past limits.maxCompressionRatio)
 */
export async function readArchiveEntries(
  tarPath: string,
  incomingDir: string,
  limits: ImageLimits,
): Promise<ArchiveEntries> {
  const { gzip, size: archiveSize } = await isGzip(tarPath);
  const maxTotalBytes = gzip ? archiveSize * limits.maxCompressionRatio : archiveSize;
  const source = createReadStream(tarPath);
  const extract = tar.extract();
  const onSourceError = (error: unknown) =>
    extract.destroy(error instanceof Error ? error : new Error(String(error)));
  if (gzip) {
    const gunzip = createGunzip();
    source.on('error', onSourceError);
    gunzip.on('error', onSourceError);
    source.pipe(gunzip).pipe(extract);
  } else {
    source.on('error', onSourceError);
    source.pipe(extract);
  }
  const entries: ArchiveEntries = { files: new Map(), links: new Map(), metadata: new Map() };
  const seen = new Set<string>();
  let count = 0;
  let totalBytes = 0;
  try {
    for await (const entry of extract) {
      count += 1;
      if (count > limits.maxLayerEntries) {
        throw new StratoError(
          'IMAGE_TOO_LARGE',
          `the archive has more than ${limits.maxLayerEntries} entries`,
        );
      }
      const { header } = entry;
      // streamx entries are async iterables of Buffers; its typings do not say so.
      const bytes = entry as unknown as AsyncIterable<Uint8Array>;
      const name = normalizeEntryName(header.name);
      if (header.type === 'directory') {
        entry.resume();
        continue;
      }
      if (name === '' || seen.has(name)) {
        throw new StratoError(
          'INVALID_IMAGE',
          `the archive has a duplicate or empty entry name ${JSON.stringify(header.name.slice(0, 200))}`,
        );
      }
      seen.add(name);
      if (header.type === 'symlink' || header.type === 'link') {
        entries.links.set(name, linkTarget(name, header.linkname, header.type === 'symlink'));
        entry.resume();
        continue;
      }
      if (header.type !== 'file' && header.type !== 'contiguous-file') {
        throw new StratoError(
          'INVALID_IMAGE',
          `archive entry ${name} is a ${header.type}; an image archive holds files only`,
        );
      }
      totalBytes += header.size;
      if (totalBytes > maxTotalBytes) {
        throw new StratoError(
          'IMAGE_TOO_LARGE',
          'the gzipped archive expands past the compression-ratio limit',
        );
      }
      if (METADATA_NAMES.has(name)) {
        entries.metadata.set(name, await readSmall(bytes, name));
        continue;
      }
      const filePath = path.join(incomingDir, String(entries.files.size));
      const written = await writeHashedFile(
        bytes,
        filePath,
        limits.maxBlobBytes,
        () =>
          new StratoError(
            'IMAGE_TOO_LARGE',
            `archive entry ${name} is larger than ${limits.maxBlobBytes} bytes`,
          ),
      );
      entries.files.set(name, { filePath, ...written });
    }
  } catch (error) {
    source.destroy();
    if (isStratoError(error)) throw error;
    throw new StratoError(
      'INVALID_IMAGE',
      'the upload is not a readable tar archive (docker save or OCI layout)',
      { cause: error },
    );
  }
  return entries;
}

/** The regular entry `name` names, following links (a bounded number of hops). */
export function resolveEntry(entries: ArchiveEntries, name: string): ArchiveFile | undefined {
  let current = name;
  for (let hops = 0; hops < 16; hops += 1) {
    const file = entries.files.get(current);
    if (file !== undefined) return file;
    const target = entries.links.get(current);
    if (target === undefined) return undefined;
    current = target;
  }
  return undefined;
}
