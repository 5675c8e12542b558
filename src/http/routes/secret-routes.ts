import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseWith } from '../../config/parse-with.js';
import type { SecretService } from '../../secrets/secret-service.js';
import { functionNameOf } from '../function-name.js';

const putSecretBodySchema = z.strictObject({ value: z.string() });

/**
 * A function's secrets: set, list (names and times, never values) and delete. A change reaches the
 * function's new instances at once on this node; its idle instances, which hold the old values, are
 * disposed of.
 */
export function registerSecretRoutes(app: FastifyInstance, secrets: SecretService): void {
  app.get('/v1/functions/:name/secrets', async (request) => {
    const name = functionNameOf(request);
    return { secrets: await secrets.list(name) };
  });

  app.put('/v1/functions/:name/secrets/:secret', async (request, reply) => {
    const { name, secret } = paramsOf(request);
    const { value } = parseWith(putSecretBodySchema, request.body, 'secret');
    const result = await secrets.set(name, secret, value);
    return reply.code(result.created ? 201 : 200).send(result.secret);
  });

  app.delete('/v1/functions/:name/secrets/:secret', async (request, reply) => {
    const { name, secret } = paramsOf(request);
    await secrets.delete(name, secret);
    return reply.code(204).send();
  });
}

function paramsOf(request: FastifyRequest): { name: string; secret: string } {
  const { secret } = request.params as { secret?: unknown };
  // The service checks the secret name (INVALID_NAME) along with its other rules.
  return { name: functionNameOf(request), secret: typeof secret === 'string' ? secret : '' };
}
