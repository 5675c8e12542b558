import { chmod, chown, link, lstat, mkdir, readdir, rm, utimes } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { StratoError } from '../core/strato-error.js';

/** One unpacked layer as the assembler needs it. */
export interface AssemblyLayer {
  /** The unpacked layer directory (written by unpackLayer). */
  dir: string;
  /** What the layer deletes from the layers below it. */
  whiteouts: readonly string[];
  /** Directories whose contents below the layer are hidden. */
  opaqueDirs: readonly string[];
}

/**
 * Mount points the container tier needs in a root file system it mounts read-only (a read-only root cannot
 * grow them later). `tmp` gets its conventional mode; the tier mounts a private tmpfs over it anyway.
 */
const MOUNT_POINTS: ReadonlyArray<{ name: string; mode: number }> = [
  { name: 'proc', mode: 0o555 },
  { name: 'dev', mode: 0o755 },
  { name: 'sys', mode: 0o555 },
  { name: 'tmp', mode: 0o1777 },
];

/**
 * Builds a root file system in the empty directory `targetDir` by flattening layers bottom to top: for each
 * layer, its opaque directories are emptied and its whiteouts deleted from what the layers below produced,
 * then its entries are added, files and symlinks as hardlinks of the layer's own (no data is copied),
 * directories as new directories with the layer's metadata. An upper entry replaces whatever the lower
 * layers had at its path, except that two directories merge (overlayfs's rules).
 *
 * Nothing is ever followed: the walk descends only through directories it created or lstat()ed as
 * directories, and a whiteout below a non-directory has nothing to delete. Because rootfs files share
 * inodes with the layer files, a write through either would change both: the container tier must mount
 * the result read-only (it does), and nothing else may write to it.
 *
 * @param ownership copy directories' uid/gid (only root can)
 */
export async function flattenLayers(
  targetDir: string,
  layers: readonly AssemblyLayer[],
  ownership: boolean,
): Promise<void> {
  for (const layer of layers) {
    for (const dir of layer.opaqueDirs) await emptyDirectory(targetDir, dir);
    for (const hidden of layer.whiteouts) await removeEntry(targetDir, hidden);
    await mergeDirectory(layer.dir, targetDir, { fresh: false, ownership });
  }
  await addMountPoints(targetDir);
  if (ownership) await chown(targetDir, 0, 0);
  await chmod(targetDir, 0o755);
}

async function mergeDirectory(
  sourceDir: string,
  targetDir: string,
  options: { fresh: boolean; ownership: boolean },
): Promise<void> {
  for (const entry of await readdir(sourceDir, { withFileTypes: true })) {
    const source = path.join(sourceDir, entry.name);
    const target = path.join(targetDir, entry.name);
    // A directory this pass created has nothing in it yet: no need to look.
    const existing = options.fresh ? undefined : await lstatIfExists(target);
    if (entry.isDirectory()) {
      const merge = existing?.isDirectory() === true;
      if (!merge) {
        if (existing !== undefined) await rm(target, { recursive: true, force: true });
        await mkdir(target, { mode: 0o700 });
      }
      await mergeDirectory(source, target, { fresh: !merge, ownership: options.ownership });
      await copyDirectoryMetadata(source, target, options.ownership);
    } else if (entry.isFile() || entry.isSymbolicLink()) {
      if (existing !== undefined) await rm(target, { recursive: true, force: true });
      // link(2) on Linux links a symlink itself rather than what it points to.
      await link(source, target);
    } else {
      // unpackLayer writes nothing else; something else wrote into the layer cache.
      throw new StratoError('INTERNAL', `unexpected file type in a cached layer: ${source}`);
    }
  }
}

async function copyDirectoryMetadata(source: string, target: string, ownership: boolean): Promise<void> {
  const stats = await lstat(source);
  if (ownership) await chown(target, stats.uid, stats.gid);
  await chmod(target, stats.mode & 0o7777);
  await utimes(target, stats.atime, stats.mtime);
}

/** Removes `relativePath` if the path leads to it through directories only. */
async function removeEntry(root: string, relativePath: string): Promise<void> {
  const absolutePath = await reachablePath(root, relativePath);
  if (absolutePath !== undefined) await rm(absolutePath, { recursive: true, force: true });
}

/** Empties `relativePath` if it is a directory reached through directories only. */
async function emptyDirectory(root: string, relativePath: string): Promise<void> {
  const absolutePath = await reachablePath(root, relativePath);
  if (absolutePath === undefined || !(await lstat(absolutePath)).isDirectory()) return;
  for (const name of await readdir(absolutePath)) {
    await rm(path.join(absolutePath, name), { recursive: true, force: true });
  }
}

/**
 * The absolute path of an existing entry whose every parent is a real directory, else undefined: under a
 * symlink the lower layers have nothing for a whiteout to delete (the upper layer's directory replaces it).
 */
async function reachablePath(root: string, relativePath: string): Promise<string | undefined> {
  let current = root;
  for (const segment of relativePath === '' ? [] : relativePath.split('/')) {
    const stats = await lstatIfExists(current);
    if (stats?.isDirectory() !== true) return undefined;
    current = path.join(current, segment);
  }
  return (await lstatIfExists(current)) === undefined ? undefined : current;
}

async function addMountPoints(root: string): Promise<void> {
  for (const { name, mode } of MOUNT_POINTS) {
    const mountPoint = path.join(root, name);
    const existing = await lstatIfExists(mountPoint);
    if (existing?.isDirectory() === true) continue;
    // A symlink or file there (`tmp -> /var/tmp`) is replaced: the container tier mounts onto these paths.
    if (existing !== undefined) await rm(mountPoint, { recursive: true, force: true });
    await mkdir(mountPoint);
    await chmod(mountPoint, mode);
  }
}

async function lstatIfExists(target: string): Promise<Stats | undefined> {
  try {
    return await lstat(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
