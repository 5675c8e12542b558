import path from 'node:path';
import { StratoError } from '../core/strato-error.js';

// Linux limits: past them the file system fails with ENAMETOOLONG, which would read as our fault
// rather than the layer's.
const MAX_PATH_BYTES = 4095;
const MAX_SEGMENT_BYTES = 255;

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
/** aufs bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`): meaningless outside aufs; Docker skips it too. */
const AUFS_META_PREFIX = '.wh..wh.';

/** The error for a layer (or one of its entries, when `entry` is given) that is malformed or unsafe. */
export function invalidLayer(message: string, entry: string | null, cause?: unknown): StratoError {
  return new StratoError('INVALID_LAYER', message, { details: { entry }, cause });
}

/**
 * Turns a tar entry name (or a hardlink's target, which is an entry name too) into a normalised path
 * relative to the layer root, `''` being the root itself, or throws INVALID_LAYER. Absolute names and
 * any `..` component are refused outright rather than rebased: a layer that contains them was made by a
 * tool we should not trust to mean anything sensible.
 */
export function normaliseEntryPath(name: string): string {
  if (name.includes('\0')) throw invalidLayer('entry name contains a NUL byte', name);
  if (Buffer.byteLength(name) > MAX_PATH_BYTES) {
    throw invalidLayer(`entry name is longer than ${MAX_PATH_BYTES} bytes`, name);
  }
  if (name.startsWith('/')) throw invalidLayer(`entry name is an absolute path: ${name}`, name);
  const segments = name.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) throw invalidLayer(`entry name contains '..': ${name}`, name);
  if (segments.some((segment) => Buffer.byteLength(segment) > MAX_SEGMENT_BYTES)) {
    throw invalidLayer(`entry name has a component longer than ${MAX_SEGMENT_BYTES} bytes`, name);
  }
  return segments.join('/');
}

/** What an entry's base name says about it under the OCI whiteout convention. */
export type WhiteoutMarker =
  /** `<dir>/.wh.<name>`: delete `<dir>/<name>` from the layers below. */
  | { kind: 'whiteout'; hiddenPath: string }
  /** `<dir>/.wh..wh..opq`: hide everything the layers below have in `<dir>` (`''` for the root). */
  | { kind: 'opaque'; dir: string }
  | { kind: 'aufs-meta' }
  | { kind: 'none' };

/** Classifies a normalised entry path; whiteout entries are recorded, never written. */
export function whiteoutMarkerOf(relativePath: string): WhiteoutMarker {
  const dir = path.posix.dirname(relativePath);
  const parent = dir === '.' ? '' : dir;
  const base = path.posix.basename(relativePath);
  if (base === OPAQUE_MARKER) return { kind: 'opaque', dir: parent };
  if (base.startsWith(AUFS_META_PREFIX)) return { kind: 'aufs-meta' };
  if (!base.startsWith(WHITEOUT_PREFIX)) return { kind: 'none' };
  const hidden = base.slice(WHITEOUT_PREFIX.length);
  // `.wh.`, `.wh..` and `.wh...` would hide nothing, the directory itself, or its parent.
  if (hidden === '' || hidden === '.' || hidden === '..') {
    throw invalidLayer(`whiteout names no file: ${relativePath}`, relativePath);
  }
  return { kind: 'whiteout', hiddenPath: parent === '' ? hidden : `${parent}/${hidden}` };
}

/**
 * Judges a symlink's target. Absolute targets are stored as they are: the container resolves them inside
 * its own root, and the unpacker and the assembler never follow a link. A relative target that climbs
 * above the layer root (`../../x` from a top-level entry) is refused: inside the container the kernel
 * would clamp it at `/`, so no correct image needs one, and it is the classic shape of an escape when
 * some host-side tool does follow links. The check is lexical, which is what matters for a path that is
 * never resolved on the host.
 */
export function checkSymlinkTarget(entryPath: string, target: string): void {
  if (target === '') throw invalidLayer(`symlink has an empty target: ${entryPath}`, entryPath);
  if (target.includes('\0'))
    throw invalidLayer(`symlink target contains a NUL byte: ${entryPath}`, entryPath);
  if (Buffer.byteLength(target) > MAX_PATH_BYTES) {
    throw invalidLayer(`symlink target is longer than ${MAX_PATH_BYTES} bytes: ${entryPath}`, entryPath);
  }
  if (target.startsWith('/')) return;
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(entryPath), target));
  if (resolved === '..' || resolved.startsWith('../')) {
    throw invalidLayer(`symlink ${entryPath} -> ${target} points outside the layer`, entryPath);
  }
}
