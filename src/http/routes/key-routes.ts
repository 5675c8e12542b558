import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { API_KEY_SCOPES, DEFAULT_NAMESPACE } from '../../core/api-key.js';
import { checkNamespace } from '../../core/namespace.js';
import { StratoError } from '../../core/strato-error.js';
import { parseWith } from '../../config/parse-with.js';
import { rateLimitSchema } from '../../config/function-manifest.js';
import type { KeyService } from '../../auth/key-service.js';
import { principalOf } from '../authentication.js';

const createKeyBodySchema = z.strictObject({
  scopes: z.array(z.enum(API_KEY_SCOPES)).min(1).max(API_KEY_SCOPES.length),
  description: z.string().max(256).default(''),
  /** Requests per second for this key, as a token bucket (`{ rate, burst?, initialBurst? }`). */
  rateLimit: rateLimitSchema.optional(),
  /** The key's namespace (made by its first key). Only the default namespace's admins name another one. */
  namespace: z.string().optional(),
});

const keyListQuerySchema = z.strictObject({ namespace: z.string().optional() });

/**
 * The namespace a key request acts on: the caller's own, or, for an admin of the default namespace (the
 * platform's operator, who creates tenants by giving them their first key), the one it names.
 */
function targetNamespace(request: FastifyRequest, named: string | undefined): string {
  const own = principalOf(request).namespace;
  if (named === undefined || named === own) return own;
  const namespace = checkNamespace(named);
  if (own !== DEFAULT_NAMESPACE) {
    throw new StratoError('FORBIDDEN', `a key of namespace '${own}' manages only that namespace's keys`);
  }
  return namespace;
}

const keyIdSchema = z.string().regex(/^key_[0-9a-f]{16}$/);

/**
 * API keys of the caller's namespace (or, for the platform's admins, of any): create (the token is in
 * this reply only), list (never tokens) and revoke. Admin scope only. A revoked key stops working on this node at once, on others within the
 * key cache's 2 s.
 */
export function registerKeyRoutes(app: FastifyInstance, keys: KeyService): void {
  const admin = { config: { scope: 'admin' as const } };

  app.post('/v1/keys', admin, async (request, reply) => {
    const { namespace, ...body } = parseWith(createKeyBodySchema, request.body, 'key');
    const created = await keys.create({ namespace: targetNamespace(request, namespace), ...body });
    return reply.code(201).send({ key: created.key, token: created.token });
  });

  app.get('/v1/keys', admin, async (request) => {
    const { namespace } = parseWith(keyListQuerySchema, request.query, 'query');
    return { keys: await keys.list(targetNamespace(request, namespace)) };
  });

  app.delete('/v1/keys/:id', admin, async (request, reply) => {
    const id = (request.params as { id?: unknown }).id;
    const parsed = keyIdSchema.safeParse(id);
    if (!parsed.success) throw new StratoError('KEY_NOT_FOUND', `there is no valid key '${String(id)}'`);
    // The platform's admins (the default namespace) revoke any key; a tenant's admins their own.
    const own = principalOf(request).namespace;
    await keys.revoke(parsed.data, own === DEFAULT_NAMESPACE ? undefined : own);
    return reply.code(204).send();
  });
}
