import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar, { type Extract } from 'tar-stream';
import { StratoError, isStratoError } from '../core/strato-error.js';
import { DEFAULT_IMAGE_LIMITS, type Digest, type ImageLimits } from './image-types.js';
import { COMPRESSION_MAGIC_BYTES, layerCompression } from './layer-compression.js';
import { invalidLayer, normaliseEntryPath, whiteoutMarkerOf } from './layer-entry-path.js';
import { LayerEntryWriter } from './layer-entry-writer.js';
import { LayerMeter } from './layer-meter.js';

/** What unpacking a layer found, beyond the files it wrote. */
export interface UnpackedLayer {
  /** Tar entries read, whiteouts included. */
  entries: number;
  /** Bytes of the uncompressed tar. */
  bytes: number;
  /** Paths (relative to the root) the layer deletes from the layers below it. Not written to disk. */
  whiteouts: string[];
  /** Directories whose contents in the layers below are hidden (`''` is the root). Not written to disk. */
  opaqueDirs: string[];
}

/**
 * Unpacks a layer blob (plain or gzip tar) into `targetDir`, which must not exist or be empty, and checks
 * that the sha256 of the uncompressed tar is `expectedDiffId`.
 *
 * Refuses unsafe entries with INVALID_LAYER (`details.entry`): absolute names, `..`, device files and
 * FIFOs, hardlinks to anything but an earlier file of the layer, relative symlinks climbing out of the
 * root, and entries written through a symlink. Limits (`maxBlobBytes`, `maxLayerBytes`,
 * `maxLayerEntries`, `maxCompressionRatio`) are enforced while streaming, with IMAGE_TOO_LARGE, so a
 * bomb is stopped after a small prefix. Whiteouts (`.wh.<name>`, `.wh..wh..opq`) are returned, not
 * written. Mode bits are kept except setuid/setgid; mtime always, uid/gid when running as root.
 * On any failure `targetDir` is removed.
 *
 * @param limits @default DEFAULT_IMAGE_LIMITS
 */
export async function unpackLayer(
  blobPath: string,
  mediaType: string,
  targetDir: string,
  expectedDiffId: Digest,
  limits: ImageLimits = DEFAULT_IMAGE_LIMITS,
): Promise<UnpackedLayer> {
  const compression = layerCompression(mediaType, await readMagic(blobPath));
  await mkdir(targetDir, { recursive: true, mode: 0o700 });
  // Checked before writing anything: the cleanup below must never delete files we did not write.
  if ((await readdir(targetDir)).length > 0) {
    throw new StratoError('INTERNAL', `layer unpack target is not empty: ${targetDir}`);
  }
  try {
    const meter = new LayerMeter(limits, compression === 'gzip');
    const unpacked = await streamEntries(blobPath, compression === 'gzip', meter, targetDir);
    const actualDiffId = meter.digest();
    if (actualDiffId !== expectedDiffId) {
      throw new StratoError('INVALID_LAYER', `layer content does not match its diff_id ${expectedDiffId}`, {
        details: { entry: null, expectedDiffId, actualDiffId },
      });
    }
    return unpacked;
  } catch (error) {
    await rm(targetDir, { recursive: true, force: true });
    throw error;
  }
}

async function streamEntries(
  blobPath: string,
  gzip: boolean,
  meter: LayerMeter,
  targetDir: string,
): Promise<UnpackedLayer> {
  const extract = tar.extract();
  // tar-stream's streams are streamx streams: they work with node's pipeline, but are not typed as such.
  const sink = extract as unknown as NodeJS.WritableStream;
  const blob = createReadStream(blobPath);
  const streaming = gzip
    ? pipeline(blob, meter.compressedSide(), createGunzip(), meter.uncompressedSide(), sink)
    : pipeline(blob, meter.compressedSide(), meter.uncompressedSide(), sink);
  const consuming = consumeEntries(extract, meter, new LayerEntryWriter(targetDir, isRoot()));
  // Both settle whichever fails first: a limit breach upstream also ends the entry loop, and an unsafe
  // entry ends the stream ("premature close"). The error worth reporting is ours when there is one.
  const [streamed, consumed] = await Promise.allSettled([streaming, consuming]);
  if (streamed.status === 'fulfilled' && consumed.status === 'fulfilled') return consumed.value;
  const errors = [streamed, consumed].flatMap((result): unknown[] =>
    result.status === 'rejected' ? [result.reason] : [],
  );
  throw asLayerError(errors.find(isStratoError) ?? errors[0]);
}

async function consumeEntries(
  extract: Extract,
  meter: LayerMeter,
  writer: LayerEntryWriter,
): Promise<UnpackedLayer> {
  const whiteouts: string[] = [];
  const opaqueDirs: string[] = [];
  for await (const entry of extract) {
    const { header } = entry;
    meter.countEntry(header.name);
    const relativePath = normaliseEntryPath(header.name);
    const marker = whiteoutMarkerOf(relativePath);
    switch (marker.kind) {
      case 'whiteout':
        whiteouts.push(marker.hiddenPath);
        break;
      case 'opaque':
        opaqueDirs.push(marker.dir);
        break;
      case 'aufs-meta':
        break;
      case 'none':
        if (relativePath === '' && header.type !== 'directory') {
          throw invalidLayer(`non-directory entry for the layer root: ${header.name}`, header.name);
        }
        await writer.write(relativePath, header, chunksOf(entry));
        break;
    }
    // tar-stream moves to the next entry only once this one's data has been read.
    for await (const chunk of chunksOf(entry)) void chunk;
  }
  await writer.finish();
  return { entries: meter.entries, bytes: meter.bytes, whiteouts, opaqueDirs };
}

type EntrySource = Extract extends AsyncIterable<infer S> ? S : never;

/** An entry's data; streamx readables are async iterable at run time, their types just do not say so. */
function chunksOf(entry: EntrySource): AsyncIterable<Buffer> {
  return entry as unknown as AsyncIterable<Buffer>;
}

async function readMagic(blobPath: string): Promise<Uint8Array> {
  const handle = await open(blobPath, 'r');
  try {
    const magic = Buffer.alloc(COMPRESSION_MAGIC_BYTES);
    const { bytesRead } = await handle.read(magic, 0, magic.length, 0);
    return magic.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * Our own errors pass through, and so do system errors (disk full, permissions: ours, not the image's);
 * anything else came from zlib or the tar parser reading a corrupt layer.
 */
function asLayerError(error: unknown): unknown {
  if (isStratoError(error)) return error;
  if (error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string') return error;
  const reason = error instanceof Error ? error.message : String(error);
  return invalidLayer(`invalid layer: ${reason}`, null, error);
}
