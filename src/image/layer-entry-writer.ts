import { constants } from 'node:fs';
import { chmod, chown, lchown, link, lutimes, mkdir, open, rm, symlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { Header } from 'tar-stream';
import { checkSymlinkTarget, invalidLayer, normaliseEntryPath } from './layer-entry-path.js';

type NodeKind = 'directory' | 'file' | 'symlink';

interface EntryMetadata {
  mode: number;
  uid: number;
  gid: number;
  /** Unset for directories the layer never named (implicit parents). */
  mtime: Date | undefined;
}

// Permission bits and the sticky bit; setuid (0o4000) and setgid (0o2000) are dropped. Nothing in a
// function's root file system needs them: the container runs with no_new_privs, which makes the kernel
// ignore them anyway, and not storing them means a bug elsewhere can never turn them back on.
const KEPT_MODE_BITS = 0o1777;
// Fails on anything already at the path, a symlink included, instead of writing through it.
const CREATE_EXCLUSIVE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Writes the entries of one layer into an empty directory without ever following a symlink.
 *
 * The directory starts empty and nothing else writes to it, so the writer's own record of what each path
 * is (`kinds`) is the truth about the tree: a parent is created only where nothing is, and an entry whose
 * parent is a symlink or a file the layer made earlier (`a -> /etc`, then `a/passwd`) is refused, never
 * written through. Files are created with O_EXCL|O_NOFOLLOW as a second line of defence.
 */
export class LayerEntryWriter {
  private readonly kinds = new Map<string, NodeKind>([['', 'directory']]);
  /** Applied by {@link finish}: adding children would change a directory's mtime, and a 0o555 dir is in the way. */
  private readonly directoryMetadata = new Map<string, EntryMetadata>();

  /**
   * @param root absolute path of the empty layer directory
   * @param ownership whether to chown to the entries' uid/gid (only root can)
   */
  constructor(
    private readonly root: string,
    private readonly ownership: boolean,
  ) {}

  /** Writes one (non-whiteout) entry at its normalised path; `content` is read for regular files only. */
  async write(relativePath: string, header: Header, content: AsyncIterable<Buffer>): Promise<void> {
    switch (header.type) {
      case 'file':
      case 'contiguous-file':
        return this.writeFile(relativePath, header, content);
      case 'directory':
        return this.writeDirectory(relativePath, header);
      case 'symlink':
        return this.writeSymlink(relativePath, header);
      case 'link':
        return this.writeHardlink(relativePath, header);
      case 'character-device':
      case 'block-device':
      case 'fifo':
        // Refused, not skipped: an image that needs a device node would fail later in a confusing way.
        throw invalidLayer(`${header.type} entries are not allowed in a layer: ${header.name}`, header.name);
      default:
        throw invalidLayer(`unsupported tar entry type ${String(header.type)}: ${header.name}`, header.name);
    }
  }

  /** Applies directory metadata, deepest first so that a read-only directory does not block its children. */
  async finish(): Promise<void> {
    const deepestFirst = [...this.directoryMetadata.entries()].sort(
      ([a], [b]) => b.split('/').length - a.split('/').length,
    );
    for (const [relativePath, metadata] of deepestFirst) {
      const absolutePath = this.absolute(relativePath);
      if (this.ownership) await chown(absolutePath, metadata.uid, metadata.gid);
      await chmod(absolutePath, metadata.mode);
      if (metadata.mtime !== undefined) await utimes(absolutePath, metadata.mtime, metadata.mtime);
    }
    // The layer root's own entry (`./`) is not kept: a root file system's `/` is always 0755 root:root.
    await chmod(this.root, 0o755);
  }

  private async writeFile(
    relativePath: string,
    header: Header,
    content: AsyncIterable<Buffer>,
  ): Promise<void> {
    const metadata = metadataOf(header, 0o644);
    await this.prepareParents(relativePath);
    await this.clear(relativePath, false);
    const handle = await open(this.absolute(relativePath), CREATE_EXCLUSIVE, 0o600);
    this.kinds.set(relativePath, 'file');
    try {
      for await (const chunk of content) {
        for (let written = 0; written < chunk.length;) {
          written += (await handle.write(chunk, written)).bytesWritten;
        }
      }
      // chown before chmod: chown clears setuid/setgid, and the mode must be exactly the one we chose.
      if (this.ownership) await handle.chown(metadata.uid, metadata.gid);
      await handle.chmod(metadata.mode);
      if (metadata.mtime !== undefined) await handle.utimes(metadata.mtime, metadata.mtime);
    } finally {
      await handle.close();
    }
  }

  private async writeDirectory(relativePath: string, header: Header): Promise<void> {
    if (relativePath === '') return;
    await this.prepareParents(relativePath);
    if ((await this.clear(relativePath, true)) === 'absent') {
      await mkdir(this.absolute(relativePath), { mode: 0o700 });
      this.kinds.set(relativePath, 'directory');
    }
    this.directoryMetadata.set(relativePath, metadataOf(header, 0o755));
  }

  private async writeSymlink(relativePath: string, header: Header): Promise<void> {
    const target = linkTargetOf(header);
    checkSymlinkTarget(relativePath, target);
    const metadata = metadataOf(header, 0o777);
    await this.prepareParents(relativePath);
    await this.clear(relativePath, false);
    const absolutePath = this.absolute(relativePath);
    await symlink(target, absolutePath);
    this.kinds.set(relativePath, 'symlink');
    if (this.ownership) await lchown(absolutePath, metadata.uid, metadata.gid);
    if (metadata.mtime !== undefined) await lutimes(absolutePath, metadata.mtime, metadata.mtime);
  }

  private async writeHardlink(relativePath: string, header: Header): Promise<void> {
    let targetPath: string;
    try {
      targetPath = normaliseEntryPath(linkTargetOf(header));
    } catch (error) {
      throw invalidLayer(
        `hardlink ${header.name} has an unsafe target: ${header.linkname}`,
        header.name,
        error,
      );
    }
    // Only a regular file this layer already wrote: that rules out links to the host, to directories,
    // to later entries, and to other layers (which do not exist yet in this directory).
    if (targetPath === relativePath || this.kinds.get(targetPath) !== 'file') {
      throw invalidLayer(
        `hardlink ${header.name} -> ${header.linkname} does not name an earlier regular file of this layer`,
        header.name,
      );
    }
    await this.prepareParents(relativePath);
    await this.clear(relativePath, false);
    // link(2) on Linux does not follow a symlink at the source, and the source is a regular file anyway.
    await link(this.absolute(targetPath), this.absolute(relativePath));
    this.kinds.set(relativePath, 'file');
  }

  /** Creates the missing parents of `relativePath` as directories, refusing to pass through anything else. */
  private async prepareParents(relativePath: string): Promise<void> {
    const segments = relativePath.split('/');
    for (let depth = 1; depth < segments.length; depth++) {
      const parent = segments.slice(0, depth).join('/');
      const kind = this.kinds.get(parent);
      if (kind === 'directory') continue;
      if (kind === 'symlink') {
        throw invalidLayer(`${relativePath} would be written through the symlink ${parent}`, relativePath);
      }
      if (kind === 'file') throw invalidLayer(`${relativePath}: ${parent} is not a directory`, relativePath);
      // Non-recursive: fails rather than reuse anything we did not create.
      await mkdir(this.absolute(parent), { mode: 0o700 });
      this.kinds.set(parent, 'directory');
      this.directoryMetadata.set(parent, { mode: 0o755, uid: 0, gid: 0, mtime: undefined });
    }
  }

  /**
   * Makes room for an entry at a path an earlier entry of the same layer used (tar's rule: the last one
   * wins). A directory asked to stay a directory is kept, so its earlier children survive.
   */
  private async clear(relativePath: string, keepDirectory: boolean): Promise<'absent' | 'directory'> {
    const existing = this.kinds.get(relativePath);
    if (existing === undefined) return 'absent';
    if (existing === 'directory' && keepDirectory) return 'directory';
    // rm never follows symlinks, and the path's parents were checked to be our own directories.
    await rm(this.absolute(relativePath), { recursive: true, force: true });
    const below = `${relativePath}/`;
    for (const key of [...this.kinds.keys()]) {
      if (key === relativePath || key.startsWith(below)) {
        this.kinds.delete(key);
        this.directoryMetadata.delete(key);
      }
    }
    return 'absent';
  }

  private absolute(relativePath: string): string {
    return relativePath === '' ? this.root : path.join(this.root, relativePath);
  }
}

/** tar-stream's types say string, but it decodes an empty link name field as null. */
function linkTargetOf(header: Header): string {
  const linkname: string | null | undefined = header.linkname;
  return linkname ?? '';
}

function metadataOf(header: Header, defaultMode: number): EntryMetadata {
  return {
    mode: (header.mode ?? defaultMode) & KEPT_MODE_BITS,
    uid: header.uid ?? 0,
    gid: header.gid ?? 0,
    mtime: header.mtime,
  };
}
