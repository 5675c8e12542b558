import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { API_KEY_SCOPES } from '../../core/api-key.js';
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
});

const keyIdSchema = z.string().regex(/^key_[0-9a-f]{16}$/);

/**
 * API keys of the caller's namespace: create (the token is in this reply only), list (never tokens) and
 * revoke. Admin scope only. A revoked key stops working on this node at once, on others within the
 * key cache's 2 s.
 */
export function registerKeyRoutes(app: FastifyInstance, keys: KeyService): void {
  const admin = { config: { scope: 'admin' as const } };

  app.post('/v1/keys', admin, async (request, reply) => {
    const body = parseWith(createKeyBodySchema, request.body, 'key');
    const created = await keys.create({ namespace: principalOf(request).namespace, ...body });
    return reply.code(201).send({ key: created.key, token: created.token });
  });

  app.get('/v1/keys', admin, async (request) => ({
    keys: await keys.list(principalOf(request).namespace),
  }));

  app.delete('/v1/keys/:id', admin, async (request, reply) => {
    const id = (request.params as { id?: unknown }).id;
    const parsed = keyIdSchema.safeParse(id);
    if (!parsed.success) throw new StratoError('KEY_NOT_FOUND', `there is no valid key '${String(id)}'`);
    await keys.revoke(parsed.data, principalOf(request).namespace);
    return reply.code(204).send();
  });
}
