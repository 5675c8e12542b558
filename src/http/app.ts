import { createServer } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { createInvokeGateway } from './invoke-gateway.js';
import { nextRequestId } from './request-id.js';
import type { Logger } from 'pino';
import type { Store } from '../core/store.js';
import { StratoError } from '../core/strato-error.js';
import type { FunctionService } from '../control/function-service.js';
import type { Invoker } from '../invoke/invoker.js';
import type { Scheduler } from '../scheduler/instance-pool.js';
import { sendError } from './errors.js';
import { registerAliasRoutes } from './routes/alias-routes.js';
import { registerFunctionRoutes } from './routes/functions-routes.js';
import { registerRecordRoutes } from './routes/records-routes.js';

export interface HttpDependencies {
  store: Store;
  functions: FunctionService;
  invoker: Invoker;
  scheduler: Scheduler;
  logger: Logger;
  maxPayloadBytes: number;
  maxBundleBytes: number;
}

/** The HTTP surface: control plane under /v1 (Fastify), the invoke gateway and the HTTP trigger under /fn. */
export function buildApp(deps: HttpDependencies): FastifyInstance {
  // Per-request access logs would cost more than an invoke; the platform logs at warn and above here.
  const httpLogger: FastifyBaseLogger = deps.logger.child(
    { component: 'http' },
    { level: deps.logger.levelVal > 40 ? deps.logger.level : 'warn' },
  );
  const invokeGateway = createInvokeGateway(deps.invoker, deps.maxPayloadBytes, deps.logger);
  const app: FastifyInstance = Fastify({
    loggerInstance: httpLogger,
    bodyLimit: deps.maxBundleBytes,
    genReqId: nextRequestId,
    // The data plane (invoke, HTTP trigger) is served before Fastify sees the request.
    serverFactory: (fastifyHandler) =>
      createServer((request, response) => {
        if (!invokeGateway(request, response)) fastifyHandler(request, response);
      }),
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });

  app.setErrorHandler((error, request, reply) => sendError(request, reply, error));
  app.setNotFoundHandler((request, reply) =>
    sendError(
      request,
      reply,
      new StratoError('ROUTE_NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`),
    ),
  );

  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async () => {
    await deps.store.getFunction('readiness-probe');
    return { status: 'ready' };
  });

  registerFunctionRoutes(app, deps.functions, deps.scheduler);
  registerAliasRoutes(app, deps.functions);
  registerRecordRoutes(app, deps.store);
  return app;
}
