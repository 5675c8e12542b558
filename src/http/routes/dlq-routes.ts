import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseWith } from '../../config/parse-with.js';
import type { AsyncInvocations } from '../../invoke/async-invocations.js';
import { functionNameOf } from '../function-name.js';
import { pageQuerySchema } from '../query.js';

const idParams = z.object({ id: z.string().min(1).max(64) });
const redriveBody = z.strictObject({ id: z.string().min(1).max(64).optional() }).default({});

/** A function's async queue depth and its dead-letter queue: failed async invocations with their attempts, to inspect and redrive. */
export function registerDlqRoutes(app: FastifyInstance, asyncInvocations: AsyncInvocations): void {
  app.get('/v1/functions/:name/dlq', async (request) => {
    const name = functionNameOf(request);
    const { limit, cursor } = parseWith(pageQuerySchema, request.query, 'query');
    const page = await asyncInvocations.listDead(name, { limit, cursor });
    return { invocations: page.items, next: page.next };
  });

  app.get('/v1/functions/:name/queue', async (request) => {
    const name = functionNameOf(request);
    return { depth: await asyncInvocations.depth(name) };
  });

  app.get('/v1/functions/:name/dlq/:id', async (request) => {
    const name = functionNameOf(request);
    const { id } = parseWith(idParams, request.params, 'path');
    return { invocation: await asyncInvocations.getDead(name, id) };
  });

  app.post('/v1/functions/:name/dlq/redrive', async (request) => {
    const name = functionNameOf(request);
    const { id } = parseWith(redriveBody, request.body ?? {}, 'body');
    return { redriven: await asyncInvocations.redrive(name, id) };
  });

  app.delete('/v1/functions/:name/dlq', async (request) => {
    const name = functionNameOf(request);
    return { purged: await asyncInvocations.purgeDead(name) };
  });
}
