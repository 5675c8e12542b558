import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Store } from '../core/store.js';
import { StratoError } from '../core/strato-error.js';
import type { FunctionService } from '../control/function-service.js';
import type { Invoker } from '../invoke/invoker.js';
import type { Scheduler } from '../scheduler/instance-pool.js';
import { sendError } from './errors.js';
import { registerFunctionRoutes } from './routes/functions-routes.js';
import { registerInvokeRoutes } from './routes/invoke-routes.js';
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

let requestCounter = 0;

/** The HTTP surface: control plane under /v1, the invoke gateway, the HTTP trigger under /fn. */
export async function buildApp(deps: HttpDependencies): Promise<FastifyInstance> {
  // Per-request access logs would cost more than an invoke; the platform logs at warn and above here.
  const httpLogger: FastifyBaseLogger = deps.logger.child(
    { component: 'http' },
    { level: deps.logger.levelVal > 40 ? deps.logger.level : 'warn' },
  );
  const app: FastifyInstance = Fastify({
    loggerInstance: httpLogger,
    bodyLimit: deps.maxBundleBytes,
    // Cheap, unique per process: request ids only correlate logs with responses.
    genReqId: () => `req-${(++requestCounter).toString(36)}`,
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
  registerRecordRoutes(app, deps.store);
  await registerInvokeRoutes(app, deps.invoker, deps.maxPayloadBytes);
  return app;
}
