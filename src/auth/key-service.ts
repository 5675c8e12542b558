import {
  allows,
  DEFAULT_NAMESPACE,
  type ApiKeyRecord,
  type ApiKeyScope,
  type Principal,
} from '../core/api-key.js';
import type { RateLimitPolicy } from '../core/function.js';
import type { Store } from '../core/store.js';
import { StratoError } from '../core/strato-error.js';
import { checkToken, newKeyId, newToken, tokenSha256 } from './api-key-token.js';

export interface KeyServiceOptions {
  /**
   * How long a verified key is trusted without asking the store again. A key revoked through another node
   * stops working within this; through this node, at once. @default 2000
   */
  cacheMs?: number;
  now?: () => number;
}

interface CacheEntry {
  principal: Principal | undefined;
  expiresAt: number;
}

const MAX_CACHED = 10_000;

/** What the first start did about the admin key. */
export type Bootstrap =
  | { kind: 'existing' }
  /** From STRATO_ADMIN_KEY, created now. */
  | { kind: 'from-env'; key: ApiKeyRecord }
  /** A new random admin key: shown once, never again. */
  | { kind: 'generated'; key: ApiKeyRecord; token: string };

/** Creates, lists, revokes and verifies API keys; the store sees only their hashes. */
export class KeyService {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly cacheMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    options: KeyServiceOptions = {},
  ) {
    this.cacheMs = options.cacheMs ?? 2_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * On a store with no keys, creates the admin key: `adminToken` (STRATO_ADMIN_KEY) when given, else a new
   * random one returned to be shown once. A given token missing from a store that has keys is added as
   * an admin key too (automated setups name their key up front); a revoked one stays revoked.
   */
  async bootstrap(adminToken: string | undefined): Promise<Bootstrap> {
    if (adminToken !== undefined) {
      checkToken(adminToken);
      if ((await this.store.findApiKey(tokenSha256(adminToken))) !== undefined) return { kind: 'existing' };
      const key = await this.insert(adminToken, {
        namespace: DEFAULT_NAMESPACE,
        scopes: ['admin'],
        description: 'admin key (STRATO_ADMIN_KEY)',
      });
      return { kind: 'from-env', key };
    }
    if ((await this.store.countApiKeys()) > 0) return { kind: 'existing' };
    const token = newToken();
    const key = await this.insert(token, {
      namespace: DEFAULT_NAMESPACE,
      scopes: ['admin'],
      description: 'admin key (created at first start)',
    });
    return { kind: 'generated', key, token };
  }

  /** A new key; its token is returned here once and never again. */
  async create(input: {
    namespace: string;
    scopes: ApiKeyScope[];
    description: string;
    rateLimit?: RateLimitPolicy | undefined;
  }): Promise<{ key: ApiKeyRecord; token: string }> {
    const token = newToken();
    return { key: await this.insert(token, input), token };
  }

  list(namespace: string | undefined): Promise<ApiKeyRecord[]> {
    return this.store.listApiKeys({ namespace });
  }

  /** KEY_NOT_FOUND when there is no such valid key in the namespace. */
  async revoke(id: string, namespace: string | undefined): Promise<void> {
    if (!(await this.store.revokeApiKey(id, new Date(this.now()).toISOString(), namespace))) {
      throw new StratoError('KEY_NOT_FOUND', `there is no valid key '${id}'`);
    }
    for (const [hash, entry] of this.cache) if (entry.principal?.keyId === id) this.cache.delete(hash);
  }

  /**
   * Who presents this `Authorization` header: UNAUTHORIZED for a missing, malformed, unknown or revoked
   * key (one message for all, so the answer tells an attacker nothing).
   */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    const token = bearerToken(authorization);
    const hash = tokenSha256(token);
    const now = this.now();
    const cached = this.cache.get(hash);
    let principal: Principal | undefined;
    if (cached !== undefined && cached.expiresAt > now) {
      principal = cached.principal;
    } else {
      const stored = await this.store.findApiKey(hash);
      principal =
        stored === undefined || stored.revokedAt !== null
          ? undefined
          : {
              keyId: stored.id,
              namespace: stored.namespace,
              scopes: stored.scopes,
              rateLimit: stored.rateLimit,
            };
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      this.cache.set(hash, { principal, expiresAt: now + this.cacheMs });
    }
    if (principal === undefined) throw unauthorized();
    return principal;
  }

  /** FORBIDDEN unless the principal's scopes allow `needed`. */
  static authorize(principal: Principal, needed: ApiKeyScope): void {
    if (!allows(principal.scopes, needed)) {
      throw new StratoError(
        'FORBIDDEN',
        `this key (${principal.scopes.join(', ')}) may not do this: it needs the '${needed}' scope`,
      );
    }
  }

  private insert(
    token: string,
    input: {
      namespace: string;
      scopes: ApiKeyScope[];
      description: string;
      rateLimit?: RateLimitPolicy | undefined;
    },
  ): Promise<ApiKeyRecord> {
    return this.store.createApiKey({
      id: newKeyId(),
      namespace: input.namespace,
      scopes: [...new Set(input.scopes)],
      description: input.description,
      createdAt: new Date(this.now()).toISOString(),
      revokedAt: null,
      rateLimit: input.rateLimit ?? null,
      tokenSha256: tokenSha256(token),
    });
  }
}

function bearerToken(authorization: string | undefined): string {
  const match = authorization === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  if (match === null) throw unauthorized();
  try {
    checkToken(match[1]!);
  } catch {
    throw unauthorized();
  }
  return match[1]!;
}

function unauthorized(): StratoError {
  return new StratoError('UNAUTHORIZED', 'a valid API key is required: send `Authorization: Bearer <key>`');
}
