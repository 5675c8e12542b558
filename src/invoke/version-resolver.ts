import {
  ALIAS_NAME_PATTERN,
  LATEST,
  type AliasRecord,
  type FunctionRecord,
  type VersionRecord,
} from '../core/function.js';
import type { Store } from '../core/store.js';
import { StratoError } from '../core/strato-error.js';
import { pickVersion } from './alias-routing.js';

/**
 * How long a resolved `$LATEST` or alias is trusted before the store is asked again (other nodes may
 * deploy or move an alias).
 */
const LATEST_TTL_MS = 2_000;
const MAX_CACHED_VERSIONS = 10_000;
const MAX_CACHED_ALIASES = 10_000;
const VERSION_QUALIFIER_PATTERN = /^[1-9]\d{0,9}$/;

interface LatestEntry {
  fn: FunctionRecord;
  version: VersionRecord;
  expiresAt: number;
}

interface AliasEntry {
  alias: AliasRecord;
  expiresAt: number;
}

/** A resolved qualifier, and the alias it went through when it named one. */
export interface Resolution {
  version: VersionRecord;
  /** The alias name the qualifier was; undefined for `$LATEST` and version numbers. */
  alias: string | undefined;
}

/**
 * Resolves `name` + qualifier to an immutable version, from memory on the hot path. Versions never
 * change, so they are cached for good; `$LATEST` and aliases are cached briefly and dropped on any
 * change to the function. An alias is cached, not its pick: each request draws its own version.
 */
export class VersionResolver {
  private readonly latest = new Map<string, LatestEntry>();
  private readonly versions = new Map<string, VersionRecord>();
  /** By `functionName:aliasName` (function names cannot hold `:`). */
  private readonly aliases = new Map<string, AliasEntry>();

  constructor(private readonly store: Store) {}

  /**
   * The version a request with this qualifier runs: `$LATEST` (or none), a version number, or an alias
   * name, whose weights pick one of its versions per call. Throws FUNCTION_NOT_FOUND, VERSION_NOT_FOUND,
   * ALIAS_NOT_FOUND or INVALID_QUALIFIER.
   */
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
    if (VERSION_QUALIFIER_PATTERN.test(qualifier)) return this.getVersion(functionName, Number(qualifier));
    if (ALIAS_NAME_PATTERN.test(qualifier)) {
      const alias = await this.getAlias(functionName, qualifier);
      return this.getVersion(functionName, pickVersion(alias, Math.random));
    }
    throw new StratoError(
      'INVALID_QUALIFIER',
      `'${qualifier}' is not a version number, an alias name or $LATEST`,
    );
  }

  /** {@link resolve}, also saying which alias (if any) the qualifier named. */
  async resolveQualified(functionName: string, qualifier: string | undefined): Promise<Resolution> {
    const version = await this.resolve(functionName, qualifier);
    // resolve() accepted it, so a qualifier that is neither $LATEST nor a number was an alias.
    const alias =
      qualifier === undefined || qualifier === LATEST || VERSION_QUALIFIER_PATTERN.test(qualifier)
        ? undefined
        : qualifier;
    return { version, alias };
  }

  /** Forgets what is cached for a function (after a deploy, a config or alias change, or a delete). */
  invalidate(functionName: string): void {
    this.latest.delete(functionName);
    const prefix = `${functionName}:`;
    for (const key of this.versions.keys()) if (key.startsWith(prefix)) this.versions.delete(key);
    for (const key of this.aliases.keys()) if (key.startsWith(prefix)) this.aliases.delete(key);
  }

  private async getAlias(functionName: string, aliasName: string): Promise<AliasRecord> {
    const key = `${functionName}:${aliasName}`;
    const cached = this.aliases.get(key);
    if (cached !== undefined && cached.expiresAt > Date.now()) return cached.alias;
    const alias = await this.store.getAlias(functionName, aliasName);
    if (alias === undefined) {
      if ((await this.store.getFunction(functionName)) === undefined) throw notFound(functionName);
      throw new StratoError('ALIAS_NOT_FOUND', `function '${functionName}' has no alias '${aliasName}'`);
    }
    if (this.aliases.size >= MAX_CACHED_ALIASES) this.aliases.clear();
    this.aliases.set(key, { alias, expiresAt: Date.now() + LATEST_TTL_MS });
    return alias;
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
