import { chmod, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StratoError } from '../../core/strato-error.js';

/**
 * Extracts a deployment zip into an empty directory, refusing unsafe entries (build/zip-archive.ts's
 * `extractZip`). Injected by the composition root: the dependency rule keeps sandbox/ from importing build/.
 */
export type ZipExtractor = (zip: Buffer, targetDir: string) => Promise<unknown>;

const sha256Pattern = /^[0-9a-f]{64}$/;

/**
 * The node's extracted function code, one read-only directory per content address (`<root>/<sha256>`).
 * A zip is extracted once per node: into a temp dir first, then renamed into place, so a half-extracted
 * tree is never seen and a crash mid-extraction leaves only a temp dir behind.
 */
export class CodeCache {
  /** Extractions in progress, so concurrent cold starts of one version extract once. */
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(
    private readonly root: string,
    private readonly extractZip: ZipExtractor,
  ) {}

  /** The directory holding the code of `sha256`, extracting `loadZip()` first when it is not there yet. */
  ensure(sha256: string, loadZip: () => Promise<Uint8Array>): Promise<string> {
    if (!sha256Pattern.test(sha256)) {
      return Promise.reject(new StratoError('INTERNAL', `invalid code hash: ${sha256}`));
    }
    const running = this.inFlight.get(sha256);
    if (running !== undefined) return running;
    const extraction = this.extract(sha256, loadZip).finally(() => this.inFlight.delete(sha256));
    this.inFlight.set(sha256, extraction);
    return extraction;
  }

  private async extract(sha256: string, loadZip: () => Promise<Uint8Array>): Promise<string> {
    const target = join(this.root, sha256);
    if (await isDirectory(target)) return target;
    await mkdir(this.root, { recursive: true, mode: 0o755 });
    const temp = await mkdtemp(join(this.root, `.extract-${sha256.slice(0, 12)}-`));
    try {
      const zip = await loadZip();
      await this.extractZip(Buffer.from(zip.buffer, zip.byteOffset, zip.byteLength), temp);
      // mkdtemp makes 0700 dirs; the function runs as an unprivileged uid and must read its code.
      await chmod(temp, 0o755);
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { recursive: true, force: true });
      // Another gateway process on the same data dir may have won the race: its tree is as good as ours.
      if (await isDirectory(target)) return target;
      throw error;
    }
    return target;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
