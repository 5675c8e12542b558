import path from 'node:path';
import { StratoError } from '../core/strato-error.js';

/** Where one zip entry lands, once its name and mode have been judged safe. */
export interface EntryTarget {
  kind: 'file' | 'directory';
  /** Normalised POSIX path relative to the extraction root; `''` is the root itself. */
  relativePath: string;
  /** Absolute path inside the root. */
  absolutePath: string;
  /** Any execute bit in the entry's Unix mode: Lambda `provided` runtimes need an executable `bootstrap`. */
  executable: boolean;
}

// File-type bits of a Unix st_mode, as zip tools store it in the high 16 bits of the external attributes.
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const MAX_SEGMENT_BYTES = 255;

/** The error for an entry (or archive, when `entry` is null) that is malformed or unsafe. */
export function invalidZip(message: string, entry: string | null, cause?: unknown): StratoError {
  return new StratoError('INVALID_ZIP', message, { details: { entry }, cause });
}

/**
 * Turns an entry name into a path relative to the extraction root, or throws INVALID_ZIP. yauzl already
 * rejects `..` and absolute names; this repeats every check so safety does not hang on a dependency's
 * option or version. Backslashes count as separators because zips made on Windows use them that way.
 */
export function normaliseEntryPath(fileName: string, maxPathLength: number): string {
  if (Buffer.byteLength(fileName) > maxPathLength) {
    throw invalidZip(`entry name is longer than ${maxPathLength} bytes`, fileName);
  }
  if (fileName.includes('\0')) throw invalidZip('entry name contains a NUL byte', fileName);
  const slashed = fileName.replaceAll('\\', '/');
  // A drive letter is absolute on Windows and a UNC `\\server` became `//server` above.
  if (slashed.startsWith('/') || /^[a-zA-Z]:/.test(slashed)) {
    throw invalidZip(`entry name is an absolute path: ${fileName}`, fileName);
  }
  const segments = slashed.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) throw invalidZip(`entry name contains '..': ${fileName}`, fileName);
  // Past NAME_MAX the filesystem fails with ENAMETOOLONG, which would read as our fault rather than the zip's.
  if (segments.some((segment) => Buffer.byteLength(segment) > MAX_SEGMENT_BYTES)) {
    throw invalidZip(`entry name has a component longer than ${MAX_SEGMENT_BYTES} bytes`, fileName);
  }
  return segments.join('/');
}

/**
 * Decides what an entry becomes on disk. Only regular files and directories are allowed: a symlink could
 * point a later entry (or the function at run time) outside the root, and device files, FIFOs and sockets
 * have no business in a deployment package.
 */
export function resolveEntryTarget(
  root: string,
  fileName: string,
  externalFileAttributes: number,
  maxPathLength: number,
): EntryTarget {
  const mode = (externalFileAttributes >>> 16) & 0xffff;
  const fileType = mode & S_IFMT;
  if (fileType === S_IFLNK) throw invalidZip(`symbolic links are not allowed: ${fileName}`, fileName);
  // Type 0 means the archiver recorded no Unix mode (MS-DOS host): a plain file or directory.
  if (fileType !== 0 && fileType !== S_IFREG && fileType !== S_IFDIR) {
    throw invalidZip(`only regular files and directories are allowed: ${fileName}`, fileName);
  }
  const isDirectory = fileName.endsWith('/') || fileName.endsWith('\\');
  // A directory mode on a name without the trailing slash is ambiguous: refuse rather than guess.
  if (fileType === S_IFDIR && !isDirectory) {
    throw invalidZip(`directory entry without a trailing slash: ${fileName}`, fileName);
  }
  const relativePath = normaliseEntryPath(fileName, maxPathLength);
  if (relativePath === '' && !isDirectory) throw invalidZip(`file entry has an empty path`, fileName);

  const absolutePath = path.resolve(root, relativePath);
  const fromRoot = path.relative(root, absolutePath);
  // Belt and braces after normalisation: whatever the name was, the result must stay under the root.
  if (fromRoot === '..' || fromRoot.startsWith(`..${path.sep}`) || path.isAbsolute(fromRoot)) {
    throw invalidZip(`entry resolves outside the target directory: ${fileName}`, fileName);
  }
  return {
    kind: isDirectory ? 'directory' : 'file',
    relativePath,
    absolutePath,
    executable: (mode & 0o111) !== 0,
  };
}
