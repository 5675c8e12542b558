import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ownedBy } from '../../core/namespace.js';
import { principalOf } from '../authentication.js';
import { parseWith } from '../../config/parse-with.js';
import { createTriggerBodySchema, triggerIdSchema } from '../../triggers/trigger-schemas.js';
import { triggerNotFound, type TriggerService } from '../../triggers/trigger-service.js';
import { functionNameOf } from '../function-name.js';

/**
 * The control-plane API for triggers (cron schedules that invoke a function through the async queue).
 * Changes take effect in this node's scheduler before the reply is sent.
 */
export function registerTriggerRoutes(app: FastifyInstance, triggers: TriggerService): void {
  app.post('/v1/functions/:name/triggers', async (request, reply) => {
    const name = functionNameOf(request);
    const body = parseWith(createTriggerBodySchema, request.body, 'trigger');
    return reply.code(201).send(await triggers.create(name, body));
  });

  app.get('/v1/functions/:name/triggers', async (request) => {
    const name = functionNameOf(request);
    return { triggers: await triggers.list(name) };
  });

  app.get('/v1/triggers/:id', async (request) => ownTrigger(request, triggers));

  app.delete('/v1/triggers/:id', async (request, reply) => {
    await triggers.delete((await ownTrigger(request, triggers)).trigger.id);
    return reply.code(204).send();
  });
}

/** The trigger a `:id` names, when its function is in the caller's namespace; not found otherwise. */
async function ownTrigger(
  request: FastifyRequest,
  triggers: TriggerService,
): Promise<Awaited<ReturnType<TriggerService['get']>>> {
  const id = triggerIdOf(request.params);
  const found = await triggers.get(id);
  if (!ownedBy(principalOf(request).namespace, found.trigger.functionName)) throw triggerNotFound(id);
  return found;
}

/** An id that cannot be one is simply not found, as an unknown one is. */
function triggerIdOf(params: unknown): string {
  const id = (params as { id?: unknown }).id;
  const parsed = triggerIdSchema.safeParse(id);
  if (!parsed.success) throw triggerNotFound(String(id));
  return parsed.data;
}
