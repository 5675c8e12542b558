import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Store } from '../../core/store.js';
import type { AsyncInvocations } from '../../invoke/async-invocations.js';
import { StratoError } from '../../core/strato-error.js';
import { parseWith } from '../../config/parse-with.js';
import { functionNameOf } from '../function-name.js';
import { pageQuerySchema, timeParam } from '../query.js';
import { ownedBy } from '../../core/namespace.js';
import { principalOf } from '../authentication.js';

const invocationQuerySchema = pageQuerySchema.extend({
  outcome: z.enum(['success', 'error', 'timeout', 'out_of_memory', 'crashed']).optional(),
  cold: z.enum(['true', 'false']).optional(),
  since: timeParam.optional(),
  until: timeParam.optional(),
});

const logQuerySchema = z.strictObject({
  invocationId: z.string().max(64).optional(),
  since: timeParam.optional(),
  until: timeParam.optional(),
  q: z.string().max(256).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
});

/** Invocation records and function logs. */
export function registerRecordRoutes(
  app: FastifyInstance,
  store: Store,
  asyncInvocations: AsyncInvocations,
): void {
  app.get('/v1/functions/:name/invocations', async (request) => {
    const name = functionNameOf(request);
    const query = parseWith(invocationQuerySchema, request.query, 'query');
    await requireFunction(store, name);
    const page = await store.listInvocations({
      functionName: name,
      limit: query.limit,
      cursor: query.cursor,
      outcome: query.outcome,
      cold: query.cold === undefined ? undefined : query.cold === 'true',
      since: query.since,
      until: query.until,
    });
    return { invocations: page.items, next: page.next };
  });

  app.get('/v1/invocations/:id', async (request) => {
    const { id } = parseWith(z.strictObject({ id: z.string().max(64) }), request.params, 'path');
    const namespace = principalOf(request).namespace;
    const invocation = await store.getInvocation(id);
    if (invocation === undefined) {
      // An async invocation's id names its queue record (status, attempts, result), not one run.
      const queued = await asyncInvocations.get(id);
      if (!ownedBy(namespace, queued.message.functionName)) throw invocationNotFound(id);
      return { async: queued };
    }
    // Another namespace's invocation does not exist for this caller.
    if (!ownedBy(namespace, invocation.functionName)) throw invocationNotFound(id);
    const logs = await store.listLogs({
      functionName: invocation.functionName,
      invocationId: id,
      limit: 10_000,
    });
    return { invocation, logs };
  });

  app.get('/v1/functions/:name/logs', async (request) => {
    const name = functionNameOf(request);
    const query = parseWith(logQuerySchema, request.query, 'query');
    await requireFunction(store, name);
    const logs = await store.listLogs({
      functionName: name,
      invocationId: query.invocationId,
      since: query.since,
      until: query.until,
      text: query.q,
      limit: query.limit,
    });
    return { logs };
  });
}

function invocationNotFound(id: string): StratoError {
  return new StratoError('INVOCATION_NOT_FOUND', `async invocation '${id}' does not exist`);
}

export async function requireFunction(store: Store, name: string): Promise<void> {
  if ((await store.getFunction(name)) === undefined) {
    throw new StratoError('FUNCTION_NOT_FOUND', `function '${name}' does not exist`);
  }
}
