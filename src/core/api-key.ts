/**
 * API keys: what a caller of the control plane (and of functions whose trigger is `key`) presents as
 * `Authorization: Bearer <key>`. A key is bound to a namespace and carries scopes; only its SHA-256 is stored.
 */

/**
 * `admin`: everything, including keys. `deploy`: create, change and delete functions and what belongs to them
 * (versions, aliases, triggers, secrets, images), read them and invoke them. `invoke`: invoke only. `read`:
 * read functions, records and logs, never secret values (nothing returns those).
 */
export type ApiKeyScope = 'admin' | 'deploy' | 'invoke' | 'read';

export const API_KEY_SCOPES = ['admin', 'deploy', 'invoke', 'read'] as const satisfies readonly ApiKeyScope[];

/** The namespace every key and function belongs to until namespaces can be created. */
export const DEFAULT_NAMESPACE = 'default';

import type { RateLimitPolicy } from './function.js';

export interface ApiKeyRecord {
  /** Public id (`key_…`), for listing and revoking; not the secret. */
  id: string;
  namespace: string;
  scopes: ApiKeyScope[];
  description: string;
  createdAt: string;
  /** Null while the key is valid. */
  revokedAt: string | null;
  /** Requests per second this key may make (a token bucket per key, on each node); null: no limit. */
  rateLimit: RateLimitPolicy | null;
}

/** A key as the store keeps it: the token only as its SHA-256. */
export interface StoredApiKey extends ApiKeyRecord {
  tokenSha256: string;
}

/** Who made a request: the key's id, namespace and scopes. */
export interface Principal {
  keyId: string;
  namespace: string;
  scopes: readonly ApiKeyScope[];
  rateLimit: RateLimitPolicy | null;
}

/** True when a key with `scopes` may do what needs `needed`. */
export function allows(scopes: readonly ApiKeyScope[], needed: ApiKeyScope): boolean {
  if (scopes.includes('admin')) return true;
  if (needed === 'admin') return false;
  if (scopes.includes(needed)) return true;
  // A deploy key may also read and invoke what it deploys (a CI job checks its deploy).
  return scopes.includes('deploy') && (needed === 'read' || needed === 'invoke');
}
