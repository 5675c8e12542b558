import { mkdir, mkdtemp, open, readdir, realpath, rm, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fromBuffer, type Entry, type ZipFile } from 'yauzl';
import { StratoError, isStratoError } from '../core/strato-error.js';
import { invalidZip, resolveEntryTarget, type EntryTarget } from './zip-entry-path.js';

/** Limits an uploaded zip must stay within. Sizes are of the decompressed data, counted while streaming. */
export interface ZipLimits {
  /** @default 10_000 */
  maxEntries: number;
  /** Lambda's unzipped deployment package limit. @default 250 MiB */
  maxTotalBytes: number;
  /** @default 250 MiB */
  maxEntryBytes: number;
  /** Uncompressed/compressed, per entry, only checked once an entry passes 1 MiB. @default 100 */
  maxCompressionRatio: number;
  /** Bytes of an entry's UTF-8 name. @default 1024 */
  maxPathLength: number;
}

export const defaultZipLimits: Readonly<ZipLimits> = Object.freeze({
  maxEntries: 10_000,
  maxTotalBytes: 250 * 1024 * 1024,
  maxEntryBytes: 250 * 1024 * 1024,
  maxCompressionRatio: 100,
  maxPathLength: 1024,
});

// Small files (minified JS, JSON, source maps) legitimately compress far beyond 100:1.
const RATIO_CHECK_THRESHOLD_BYTES = 1024 * 1024;
const STORED = 0;
const DEFLATED = 8;

export interface ExtractedFile {
  /** POSIX path relative to the target directory. */
  path: string;
  size: number;
  executable: boolean;
}

export interface ExtractedZip {
  /** Regular files written, in archive order; directories are not listed. */
  files: ExtractedFile[];
  totalBytes: number;
}

/**
 * Checks a zip by extracting it into a scratch directory that is removed again: a deploy refuses exactly
 * what an instance start would (the same rules, counted on the bytes actually decompressed).
 */
export async function checkZip(zip: Buffer, limits: Partial<ZipLimits> = {}): Promise<void> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'strato-zip-check-'));
  try {
    await extractZip(zip, scratch, limits);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Extracts a user-uploaded zip (Lambda's `ZipFile`) into `targetDir`, which must exist and be empty.
 * Rejects unsafe entries (escaping paths, symlinks, special files, duplicates) with INVALID_ZIP and
 * limit breaches with ZIP_TOO_LARGE, both with `details: { entry }`. Sizes are enforced on the bytes
 * actually decompressed, never on header claims. On failure the directory is emptied again.
 */
export async function extractZip(
  zip: Buffer,
  targetDir: string,
  limits: Partial<ZipLimits> = {},
): Promise<ExtractedZip> {
  // Drop explicit `undefined`s so they do not override the defaults.
  const given = Object.entries(limits).filter(([, value]) => value !== undefined);
  const effective: ZipLimits = { ...defaultZipLimits, ...(Object.fromEntries(given) as Partial<ZipLimits>) };
  // Containment checks compare against the real path, so a symlinked targetDir cannot confuse them.
  const root = await realpath(targetDir);
  // Checked before touching anything: cleanup on failure must never delete files we did not write.
  if ((await readdir(root)).length > 0) {
    throw new StratoError('INTERNAL', `zip extraction target is not empty: ${targetDir}`);
  }
  try {
    return await extractInto(zip, root, effective);
  } catch (error) {
    try {
      await emptyDirectory(root);
    } catch (cleanupError) {
      throw new StratoError('INTERNAL', `could not clean up ${targetDir} after a failed extraction`, {
        cause: new AggregateError([error, cleanupError]),
      });
    }
    throw error;
  }
}

async function extractInto(zip: Buffer, root: string, limits: ZipLimits): Promise<ExtractedZip> {
  const zipfile = await openZip(zip);
  const state: ExtractionState = { files: [], seen: new Set(), totalBytes: 0 };
  let entryCount = 0;
  try {
    // The end record's count is what yauzl will iterate over, so failing on it early is sound.
    if (zipfile.entryCount > limits.maxEntries) {
      throw tooLarge(`zip has ${zipfile.entryCount} entries; the limit is ${limits.maxEntries}`, null);
    }
    for await (const entry of zipfile.eachEntry()) {
      if (++entryCount > limits.maxEntries) {
        throw tooLarge(`zip has more than ${limits.maxEntries} entries`, entry.fileName);
      }
      try {
        await extractEntry(zipfile, entry, root, limits, state);
      } catch (error) {
        throw asZipError(error, entry.fileName);
      }
    }
    return { files: state.files, totalBytes: state.totalBytes };
  } catch (error) {
    // Errors from iterating (a corrupt central directory, a name yauzl refused) belong to no entry we saw.
    throw asZipError(error, null);
  } finally {
    zipfile.close();
  }
}

interface ExtractionState {
  files: ExtractedFile[];
  /** Normalised paths already extracted, to refuse duplicates. */
  seen: Set<string>;
  totalBytes: number;
}

async function extractEntry(
  zipfile: ZipFile,
  entry: Entry,
  root: string,
  limits: ZipLimits,
  state: ExtractionState,
): Promise<void> {
  const name = entry.fileName;
  const target = resolveEntryTarget(root, name, entry.externalFileAttributes, limits.maxPathLength);
  if (state.seen.has(target.relativePath)) throw invalidZip(`duplicate entry: ${name}`, name);
  state.seen.add(target.relativePath);
  if (target.kind === 'directory') {
    await mkdir(target.absolutePath, { recursive: true });
    return;
  }
  if (entry.isEncrypted()) throw invalidZip(`encrypted entries are not supported: ${name}`, name);
  if (entry.compressionMethod !== STORED && entry.compressionMethod !== DEFLATED) {
    throw invalidZip(`unsupported compression method ${entry.compressionMethod}: ${name}`, name);
  }
  const size = await writeEntry(zipfile, entry, target, limits, state);
  state.files.push({ path: target.relativePath, size, executable: target.executable });
}

// yauzl's own safety nets stay on: byte counts checked against headers, names checked for `..` and roots.
const YAUZL_OPTIONS = { lazyEntries: true, validateEntrySizes: true, decodeStrings: true } as const;

function openZip(zip: Buffer): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    fromBuffer(zip, YAUZL_OPTIONS, (error, zipfile) =>
      error ? reject(asZipError(error, null)) : resolve(zipfile),
    );
  });
}

async function writeEntry(
  zipfile: ZipFile,
  entry: Entry,
  target: EntryTarget,
  limits: ZipLimits,
  budget: { totalBytes: number },
): Promise<number> {
  await mkdir(path.dirname(target.absolutePath), { recursive: true });
  const mode = target.executable ? 0o755 : 0o644;
  // `wx` fails on anything already there, symlinks included. Opening before the pipeline means the file
  // exists before any failure (cleanup cannot race a late open), and the handle stays ours to close.
  const handle = await open(target.absolutePath, 'wx', mode);
  try {
    // open()'s mode is masked by the umask; Lambda needs exactly 0o755 on `bootstrap`.
    await handle.chmod(mode);
    const source = await zipfile.openReadStreamPromise(entry);
    const counter = countingLimiter(entry, limits, budget);
    await pipeline(source, counter.stream, async (chunks: AsyncIterable<Buffer>) => {
      for await (const chunk of chunks) await writeFully(handle, chunk);
    });
    return counter.bytes();
  } finally {
    await handle.close();
  }
}

async function writeFully(handle: FileHandle, chunk: Buffer): Promise<void> {
  for (let written = 0; written < chunk.length;) {
    written += (await handle.write(chunk, written)).bytesWritten;
  }
}

/** Counts decompressed bytes as they flow and fails the stream the moment a limit is crossed. */
function countingLimiter(entry: Entry, limits: ZipLimits, budget: { totalBytes: number }) {
  const name = entry.fileName;
  let entryBytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      entryBytes += chunk.length;
      budget.totalBytes += chunk.length;
      if (entryBytes > limits.maxEntryBytes) {
        return callback(tooLarge(`${name} is larger than ${limits.maxEntryBytes} bytes uncompressed`, name));
      }
      if (budget.totalBytes > limits.maxTotalBytes) {
        return callback(tooLarge(`zip is larger than ${limits.maxTotalBytes} bytes uncompressed`, name));
      }
      // Bytes so far over the whole compressed size only grows, so this never fails an entry early
      // that would pass at the end; a zero compressed size producing data is infinitely suspicious.
      const ratio = entryBytes / Math.max(entry.compressedSize, 1);
      if (entryBytes > RATIO_CHECK_THRESHOLD_BYTES && ratio > limits.maxCompressionRatio) {
        return callback(tooLarge(`${name} compresses more than ${limits.maxCompressionRatio}:1`, name));
      }
      callback(null, chunk);
    },
  });
  return { stream, bytes: () => entryBytes };
}

function tooLarge(message: string, entry: string | null): StratoError {
  return new StratoError('ZIP_TOO_LARGE', message, { details: { entry } });
}

const CONFLICT_CODES = new Set(['EEXIST', 'ENOTDIR', 'EISDIR']);

/**
 * Our own errors pass through; a file/directory clash is the archive's fault; other system errors
 * (disk full, permissions) are ours and stay as they are; everything else came from yauzl or zlib
 * reading a corrupt archive.
 */
function asZipError(error: unknown, entry: string | null): Error {
  if (isStratoError(error)) return error;
  if (error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string') {
    const { code } = error as NodeJS.ErrnoException;
    if (code !== undefined && CONFLICT_CODES.has(code)) {
      return invalidZip(`entry conflicts with another entry: ${entry ?? ''}`, entry, error);
    }
    return error;
  }
  const reason = error instanceof Error ? error.message : String(error);
  return invalidZip(`invalid zip: ${reason}`, entry, error);
}

async function emptyDirectory(root: string): Promise<void> {
  // rm does not follow symlinks, and we never create any.
  for (const name of await readdir(root)) await rm(path.join(root, name), { recursive: true, force: true });
}
