import { LATEST, type FunctionRecord, type VersionRecord } from '../core/function.js';
import type { Store } from '../core/store.js';
import { StratoError } from '../core/strato-error.js';

/** How long a resolved `$LATEST` is trusted before the store is asked again (other nodes may deploy). */
const LATEST_TTL_MS = 2_000;
const MAX_CACHED_VERSIONS = 10_000;

interface LatestEntry {
  fn: FunctionRecord;
  version: VersionRecord;
  expiresAt: number;
}

/**
 * Resolves `name` + qualifier to an immutable version, from memory on the hot path. Versions never
 * change, so they are cached for good; `$LATEST` is cached briefly and dropped on deploy or delete.
 */
export class VersionResolver {
  private readonly latest = new Map<string, LatestEntry>();
  private readonly versions = new Map<string, VersionRecord>();

  constructor(private readonly store: Store) {}

  async resolve(functionName: string, qualifier: string | undefined): Promise<VersionRecord> {
    if (qualifier === undefined || qualifier === LATEST) {
      const cached = this.latest.get(functionName);
      if (cached !== undefined && cached.expiresAt > Date.now()) return cached.version;
      const fn = await this.store.getFunction(functionName);
      if (fn === undefined) throw notFound(functionName);
      const version = await this.getVersion(functionName, fn.latestVersion);
      this.latest.set(functionName, { fn, version, expiresAt: Date.now() + LATEST_TTL_MS });
      return version;
    }
    if (!/^[1-9]\d{0,9}$/.test(qualifier)) {
      throw new StratoError('INVALID_QUALIFIER', `'${qualifier}' is not a version number or $LATEST`);
    }
    return this.getVersion(functionName, Number(qualifier));
  }

  /** Forgets what is cached for a function (after a deploy, a config change or a delete). */
  invalidate(functionName: string): void {
    this.latest.delete(functionName);
    for (const key of this.versions.keys()) if (key.startsWith(`${functionName}:`)) this.versions.delete(key);
  }

  private async getVersion(functionName: string, number: number): Promise<VersionRecord> {
    const key = `${functionName}:${number}`;
    const cached = this.versions.get(key);
    if (cached !== undefined) return cached;
    const version = await this.store.getVersion(functionName, number);
    if (version === undefined) {
      if ((await this.store.getFunction(functionName)) === undefined) throw notFound(functionName);
      throw new StratoError('VERSION_NOT_FOUND', `function '${functionName}' has no version ${number}`);
    }
    if (this.versions.size >= MAX_CACHED_VERSIONS) this.versions.clear();
    this.versions.set(key, version);
    return version;
  }
}

function notFound(functionName: string): StratoError {
  return new StratoError('FUNCTION_NOT_FOUND', `function '${functionName}' does not exist`);
}
