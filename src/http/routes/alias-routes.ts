import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  aliasCreateBodySchema,
  aliasNameSchema,
  aliasUpdateBodySchema,
} from '../../config/function-manifest.js';
import type { FunctionService } from '../../control/function-service.js';
import { parseWith } from '../../config/parse-with.js';
import { functionNameOf } from '../function-name.js';

/** The function name is checked separately, so a bad one is INVALID_NAME as on every other route. */
const aliasParams = z.strictObject({ name: z.unknown(), alias: aliasNameSchema });

/**
 * The control-plane API for aliases: named pointers to a version, optionally splitting traffic with a
 * second one. Invoking `?version=<alias>` or `/fn/<name>@<alias>` runs what the alias points at.
 */
export function registerAliasRoutes(app: FastifyInstance, functions: FunctionService): void {
  app.post('/v1/functions/:name/aliases', async (request, reply) => {
    const name = functionNameOf(request);
    const body = parseWith(aliasCreateBodySchema, request.body, 'alias');
    const alias = await functions.createAlias(name, body);
    return reply.code(201).send({ alias });
  });

  app.get('/v1/functions/:name/aliases', async (request) => {
    const name = functionNameOf(request);
    return { aliases: await functions.listAliases(name) };
  });

  app.get('/v1/functions/:name/aliases/:alias', async (request) => {
    const name = functionNameOf(request);
    const { alias } = parseWith(aliasParams, request.params, 'path');
    return { alias: await functions.getAlias(name, alias) };
  });

  app.put('/v1/functions/:name/aliases/:alias', async (request) => {
    const name = functionNameOf(request);
    const { alias } = parseWith(aliasParams, request.params, 'path');
    const patch = parseWith(aliasUpdateBodySchema, request.body, 'alias');
    return { alias: await functions.updateAlias(name, alias, patch) };
  });

  app.delete('/v1/functions/:name/aliases/:alias', async (request, reply) => {
    const name = functionNameOf(request);
    const { alias } = parseWith(aliasParams, request.params, 'path');
    await functions.deleteAlias(name, alias);
    return reply.code(204).send();
  });
}
