import type { FastifyInstance } from 'fastify';
import { DEFAULT_NAMESPACE } from '../core/api-key.js';
import { namespacePrefix } from '../core/namespace.js';

/** Fields that hold a function's name (records, versions, triggers, secrets, destinations, cost rows). */
const NAME_FIELDS = new Set(['name', 'functionName', 'function', 'onSuccess', 'onFailure']);

/**
 * Replies speak the caller's own names: a function `team-a.hello` is `hello` to a key of `team-a`. The
 * reply is copied, never changed in place (it may be a cached record).
 */
export function registerLocalNames(app: FastifyInstance): void {
  app.addHook('preSerialization', async (request, _reply, payload) => {
    const namespace = request.principal?.namespace;
    if (namespace === undefined || namespace === DEFAULT_NAMESPACE) return payload;
    return withLocalNames(payload, namespacePrefix(namespace));
  });
}

/** `value` with the namespace prefix taken off every function-name field. */
export function withLocalNames(value: unknown, prefix: string): unknown {
  if (Array.isArray(value)) return value.map((item) => withLocalNames(item, prefix));
  if (value === null || typeof value !== 'object') return value;
  const copy: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    copy[key] =
      typeof field === 'string'
        ? NAME_FIELDS.has(key) && field.startsWith(prefix)
          ? field.slice(prefix.length)
          : field
        : withLocalNames(field, prefix);
  }
  return copy;
}
