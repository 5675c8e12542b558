import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  createBodySchema,
  deployBodySchema,
  functionSettingsSchema,
} from '../../config/function-manifest.js';
import type { FunctionService } from '../../control/function-service.js';
import type { Scheduler } from '../../scheduler/instance-pool.js';
import { parseWith } from '../../config/parse-with.js';
import { functionNameOf, inCallerNamespace } from '../function-name.js';
import { principalOf } from '../authentication.js';
import { inNamespace } from '../destinations-in-namespace.js';
import { pageQuerySchema } from '../query.js';

const versionParams = z.strictObject({ name: z.string(), version: z.coerce.number().int().min(1) });

/** The control-plane API for functions and their versions. */
export function registerFunctionRoutes(
  app: FastifyInstance,
  functions: FunctionService,
  scheduler: Scheduler,
): void {
  app.post('/v1/functions', async (request, reply) => {
    const body = inNamespace(request, parseWith(createBodySchema, request.body, 'function'));
    const view = await functions.deploy(inCallerNamespace(request, body.name), body, 'create');
    return reply.code(201).send({ function: view.function, version: view.latest });
  });

  app.put('/v1/functions/:name', async (request, reply) => {
    const name = functionNameOf(request);
    const body = inNamespace(request, parseWith(deployBodySchema, request.body, 'function'));
    const view = await functions.deploy(name, body, 'upsert');
    return reply.code(view.created ? 201 : 200).send({ function: view.function, version: view.latest });
  });

  app.patch('/v1/functions/:name', async (request) => {
    const name = functionNameOf(request);
    const settings = inNamespace(request, parseWith(functionSettingsSchema, request.body, 'settings'));
    const view = await functions.updateSettings(name, settings);
    return { function: view.function, version: view.latest };
  });

  app.get('/v1/functions', async (request) => {
    const { limit, cursor } = parseWith(pageQuerySchema, request.query, 'query');
    const page = await functions.list(principalOf(request).namespace, limit, cursor);
    return { functions: page.items, next: page.next };
  });

  app.get('/v1/functions/:name', async (request) => {
    const name = functionNameOf(request);
    const view = await functions.get(name);
    return { function: view.function, version: view.latest };
  });

  app.delete('/v1/functions/:name', async (request, reply) => {
    const name = functionNameOf(request);
    await functions.delete(name);
    return reply.code(204).send();
  });

  app.get('/v1/functions/:name/versions', async (request) => {
    const name = functionNameOf(request);
    const { limit, cursor } = parseWith(pageQuerySchema, request.query, 'query');
    const page = await functions.listVersions(name, limit, cursor);
    return { versions: page.items, next: page.next };
  });

  app.get('/v1/functions/:name/versions/:version', async (request) => {
    const { version } = parseWith(versionParams, request.params, 'path');
    const name = functionNameOf(request);
    return { version: await functions.getVersion(name, version) };
  });

  app.get('/v1/functions/:name/instances', async (request) => {
    const name = functionNameOf(request);
    await functions.get(name);
    return { instances: scheduler.list(name) };
  });
}
