import type { FastifyInstance } from 'fastify';
import { parseWith } from '../../config/parse-with.js';
import { createTriggerBodySchema, triggerIdSchema } from '../../triggers/trigger-schemas.js';
import { triggerNotFound, type TriggerService } from '../../triggers/trigger-service.js';
import { checkFunctionName } from '../function-name.js';

/**
 * The control-plane API for triggers (cron schedules that invoke a function through the async queue).
 * Changes take effect in this node's scheduler before the reply is sent.
 */
export function registerTriggerRoutes(app: FastifyInstance, triggers: TriggerService): void {
  app.post('/v1/functions/:name/triggers', async (request, reply) => {
    const name = checkFunctionName((request.params as { name?: unknown }).name);
    const body = parseWith(createTriggerBodySchema, request.body, 'trigger');
    return reply.code(201).send(await triggers.create(name, body));
  });

  app.get('/v1/functions/:name/triggers', async (request) => {
    const name = checkFunctionName((request.params as { name?: unknown }).name);
    return { triggers: await triggers.list(name) };
  });

  app.get('/v1/triggers/:id', async (request) => triggers.get(triggerIdOf(request.params)));

  app.delete('/v1/triggers/:id', async (request, reply) => {
    await triggers.delete(triggerIdOf(request.params));
    return reply.code(204).send();
  });
}

/** An id that cannot be one is simply not found, as an unknown one is. */
function triggerIdOf(params: unknown): string {
  const id = (params as { id?: unknown }).id;
  const parsed = triggerIdSchema.safeParse(id);
  if (!parsed.success) throw triggerNotFound(String(id));
  return parsed.data;
}
