import { createServer } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { createInvokeGateway, type InvokeAccess } from './invoke-gateway.js';
import { registerAuthentication } from './authentication.js';
import { registerLocalNames } from './local-names.js';
import { registerKeyRoutes } from './routes/key-routes.js';
import { createLambdaGateway } from './lambda-gateway.js';
import type { LambdaApi } from '../lambda/lambda-api.js';
import { nextRequestId } from './request-id.js';
import type { Logger } from 'pino';
import type { Store } from '../core/store.js';
import { StratoError } from '../core/strato-error.js';
import type { FunctionService } from '../control/function-service.js';
import type { AsyncInvocations } from '../invoke/async-invocations.js';
import type { Invoker } from '../invoke/invoker.js';
import type { PlatformMetrics } from '../observe/metrics.js';
import type { Scheduler } from '../scheduler/instance-pool.js';
import { sendError } from './errors.js';
import { registerAliasRoutes } from './routes/alias-routes.js';
import { registerCostRoutes } from './routes/cost-routes.js';
import { registerDlqRoutes } from './routes/dlq-routes.js';
import { registerLogFollowRoute } from './routes/log-follow-route.js';
import type { InvocationRecorder } from '../observe/invocation-recorder.js';
import { registerFunctionRoutes } from './routes/functions-routes.js';
import { registerMetricsRoutes } from './routes/metrics-routes.js';
import { registerRecordRoutes } from './routes/records-routes.js';
import { registerStatsRoutes } from './routes/stats-routes.js';
import { registerTriggerRoutes } from './routes/trigger-routes.js';
import type { TriggerService } from '../triggers/trigger-service.js';
import type { ImageService } from '../image/image-service.js';
import { registerImageRoutes } from './routes/image-routes.js';
import type { SecretService } from '../secrets/secret-service.js';
import { registerSecretRoutes } from './routes/secret-routes.js';
import { registerConsoleRoutes } from './routes/console-routes.js';
import { registerJsonBodyParser } from './json-body-parser.js';

export interface HttpDependencies {
  store: Store;
  functions: FunctionService;
  invoker: Invoker;
  asyncInvocations: AsyncInvocations;
  scheduler: Scheduler;
  logger: Logger;
  maxPayloadBytes: number;
  maxBundleBytes: number;
  /** The AWS Lambda REST API, served beside the native one. */
  lambdaApi: LambdaApi;
  /** Cron triggers (src/triggers/). */
  triggers: TriggerService;
  /** Served as `GET /metrics` (Prometheus). @default no metrics route */
  metrics?: PlatformMetrics;
  /** Live log lines for `GET /v1/functions/:name/logs/follow`. @default no follow route */
  recorder?: InvocationRecorder;
  /** Limits on slow or oversized request heads (slowloris, header floods). @default Node's own */
  edge?: EdgeLimits;
  /** The built web console served at `/console`. @default the package's `dist/console` */
  consoleDir?: string | undefined;
  /** Container images (`/v1/images/...`). @default no image routes */
  images?: { service: ImageService; maxArchiveBytes: number };
  /** Function secrets (`/v1/functions/:name/secrets`). @default no secret routes */
  secrets?: SecretService;
  /** API keys: every control-plane request and every invoke is authenticated with them. */
  access: InvokeAccess;
}

/** How long a client may take to send its headers and its whole request, and how large the head may be. */
export interface EdgeLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** Larger heads are refused with 431 before any route runs. */
  maxHeaderBytes: number;
}

/**
 * The HTTP surface: control plane under /v1 (Fastify), the invoke gateway and the HTTP trigger under /fn,
 * and the AWS Lambda REST API under /2015-03-31 (both on raw node:http, before Fastify).
 */
export function buildApp(deps: HttpDependencies): FastifyInstance {
  // Per-request access logs would cost more than an invoke; the platform logs at warn and above here.
  const httpLogger: FastifyBaseLogger = deps.logger.child(
    { component: 'http' },
    { level: deps.logger.levelVal > 40 ? deps.logger.level : 'warn' },
  );
  const invokeGateway = createInvokeGateway(
    deps.invoker,
    deps.asyncInvocations,
    deps.maxPayloadBytes,
    deps.logger,
    deps.access,
  );
  const lambdaGateway = createLambdaGateway(deps.lambdaApi);
  const app: FastifyInstance = Fastify({
    loggerInstance: httpLogger,
    bodyLimit: deps.maxBundleBytes,
    genReqId: nextRequestId,
    // The data plane (invoke, HTTP trigger) is served before Fastify sees the request.
    serverFactory: (fastifyHandler) =>
      createServer(
        deps.edge === undefined
          ? {}
          : {
              headersTimeout: deps.edge.headersTimeoutMs,
              requestTimeout: deps.edge.requestTimeoutMs,
              maxHeaderSize: deps.edge.maxHeaderBytes,
              // Node checks those timeouts on this interval (30 s by default): check often enough to honour them.
              connectionsCheckingInterval: Math.max(100, Math.min(1000, deps.edge.headersTimeoutMs / 2)),
            },
        (request, response) => {
          if (!invokeGateway(request, response) && !lambdaGateway(request, response)) {
            fastifyHandler(request, response);
          }
        },
      ),
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });

  registerJsonBodyParser(app);
  registerAuthentication(app, deps.access.gate);
  registerLocalNames(app);
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
    await deps.asyncInvocations.checkReady();
    return { status: 'ready' };
  });

  registerFunctionRoutes(app, deps.functions, deps.scheduler);
  registerAliasRoutes(app, deps.functions);
  registerRecordRoutes(app, deps.store, deps.asyncInvocations);
  registerStatsRoutes(app, deps.store);
  registerCostRoutes(app, deps.store);
  registerTriggerRoutes(app, deps.triggers);
  registerDlqRoutes(app, deps.asyncInvocations);
  if (deps.recorder !== undefined) registerLogFollowRoute(app, deps.store, deps.recorder);
  if (deps.metrics !== undefined) registerMetricsRoutes(app, deps.metrics);
  if (deps.images !== undefined) registerImageRoutes(app, deps.images.service, deps.images.maxArchiveBytes);
  if (deps.secrets !== undefined) registerSecretRoutes(app, deps.secrets);
  registerKeyRoutes(app, deps.access.gate.keys);
  registerConsoleRoutes(app, deps.consoleDir);
  return app;
}
