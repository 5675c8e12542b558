/**
 * Composition root: config → store → sandbox → scheduler → invoker → http. The only place (besides
 * test helpers) where concrete backends are chosen and wired together.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ServerConfig } from './config/server-config.js';
import type { Store } from './core/store.js';
import { FunctionService } from './control/function-service.js';
import { buildApp } from './http/app.js';
import { LambdaApi } from './lambda/lambda-api.js';
import { runtimeDescriber } from './lambda/runtime-description.js';
import { AsyncDestinations } from './invoke/async-destinations.js';
import { EgressPolicy } from './sandbox/egress/egress-policy.js';
import { AsyncDispatcher } from './invoke/async-dispatcher.js';
import { AsyncInvocations } from './invoke/async-invocations.js';
import { Invoker } from './invoke/invoker.js';
import { Provisioner } from './invoke/provisioner.js';
import { HybridKeepAlivePolicy } from './keepalive/hybrid-policy.js';
import { StackMapper } from './invoke/stack-mapper.js';
import { VersionResolver } from './invoke/version-resolver.js';
import { systemClock, type Clock } from './core/clock.js';
import { InvocationRecorder } from './observe/invocation-recorder.js';
import { LogFloodBound } from './observe/log-flood-bound.js';
import { LogRetention } from './observe/log-retention.js';
import { PlatformMetrics } from './observe/metrics.js';
import { idOnlyTracer } from './observe/invocation-tracer.js';
import { createOtlpTracer } from './observe/otlp-tracer.js';
import { createLogger } from './observe/logger.js';
import { checkZip, extractZip } from './build/zip-archive.js';
import { IsolateSandbox } from './sandbox/isolate/isolate-sandbox.js';
import { ProcessSandbox } from './sandbox/process/index.js';
import { ContainerSandbox } from './sandbox/container/index.js';
import { TieredSandbox, type TierOrReason } from './sandbox/tiered-sandbox.js';
import { ImageService } from './image/image-service.js';
import { Scheduler } from './scheduler/instance-pool.js';
import { openPostgresStore, openSqliteStore } from './store/index.js';
import { openSqliteQueue } from './queue/sqlite-queue.js';
import { CronScheduler } from './triggers/cron-scheduler.js';
import { TriggerService } from './triggers/trigger-service.js';
import { loadMasterKey } from './secrets/master-key.js';
import { SecretCipher } from './secrets/secret-cipher.js';
import { SecretService } from './secrets/secret-service.js';
import { KeyService, type Bootstrap } from './auth/key-service.js';
import { Gatekeeper } from './http/gatekeeper.js';

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  store: Store;
  scheduler: Scheduler;
  sandbox: IsolateSandbox;
  logger: Logger;
  /**
   * What the first start did about the admin key; `generated` carries the new key's token, which the
   * caller shows once (the CLI prints it and stores it in its config). It is never logged.
   */
  adminKey: Bootstrap;
  /** The function-log retention sweep (every minute); tests call `sweep()` themselves. */
  logRetention: LogRetention;
  /** Graceful: stops accepting, finishes in-flight invocations (up to the grace period), flushes records. */
  close(): Promise<void>;
}

/** What a server takes besides its config: the parts tests replace. */
export interface ServerOptions {
  /** Time for the log retention sweep and the log flood windows. @default systemClock */
  clock?: Clock;
}

export async function startServer(
  config: ServerConfig,
  logger: Logger = createLogger(config.logLevel),
  options: ServerOptions = {},
): Promise<RunningServer> {
  const clock = options.clock ?? systemClock;
  const store = await openStore(config);
  const sandbox = await IsolateSandbox.create({
    hosts: config.isolateHosts,
    stemCells: config.isolateStemCells,
    codeCache: config.isolateCodeCache,
    egressAllowedNetworks: config.egressAllowedNetworks,
    logLimitBytes: config.logLimitPerInvocation,
    logger,
  });
  const processTier = await startProcessTier(config, logger);
  const containerTier = await startContainerTier(config, logger);
  const images = await ImageService.open({
    store,
    cacheDir: imageCacheDirOf(config),
    registries: config.registries,
    insecureRegistries: config.insecureRegistries,
    logger,
  });
  // Layers no version pins go once an hour (and on `POST /v1/images/gc`).
  const imageGc = setInterval(() => {
    images.collectGarbage().catch((error: unknown) => logger.error({ err: error }, 'image GC failed'));
  }, 3_600_000);
  imageGc.unref();
  const tiers = new TieredSandbox(sandbox, processTier, containerTier);
  const scheduler = new Scheduler(tiers, {
    keepAliveMs: config.keepAlive,
    maxQueueWaitMs: config.maxQueueWait,
    maxQueuedPerFunction: 1000,
    totalConcurrency: config.totalConcurrency,
    memoryBudgetMb: Math.floor(config.instanceMemory / (1024 * 1024)),
    ...(config.keepAlivePolicy === 'hybrid'
      ? { keepAlivePolicy: new HybridKeepAlivePolicy({ fallbackKeepAliveMs: config.keepAlive }) }
      : {}),
  });
  const resolver = new VersionResolver(store);
  const keys = new KeyService(store);
  const adminKey = await keys.bootstrap(config.adminKey);
  const secrets = await openSecrets(config, store, logger, (name) => {
    // Idle instances hold the old values; new ones start with the new ones.
    scheduler.evictIdle(name);
    provisioner.refresh(name);
  });
  // Gauges read the scheduler and the queue at scrape time; `queue` is opened below, before any scrape.
  const metrics = config.metrics
    ? new PlatformMetrics({
        instances: () => scheduler.list(),
        memoryUsedMb: () => scheduler.capacity.memoryUsed,
        memoryBudgetMb: () => scheduler.capacity.memoryBudgetMb,
        queueDepth: () => queue.depth(),
      })
    : undefined;
  const recorder = new InvocationRecorder(store, logger, {
    floodBound: new LogFloodBound({
      bytesPerWindow: config.logBytesPerFunctionPerMinute,
      now: () => clock.now(),
    }),
    metrics,
  });
  const logRetention = new LogRetention({
    store,
    maxAgeMs: config.logRetention,
    maxBytes: config.logRetentionBytes,
    logger,
    metrics,
    clock,
  });
  logRetention.start();
  // Without an endpoint no OpenTelemetry object is ever made: the invoke path only draws ids.
  const tracer =
    config.otlpEndpoint === undefined
      ? idOnlyTracer
      : createOtlpTracer({
          url: config.otlpEndpoint,
          protocol: config.otlpProtocol,
          sampleRatio: config.otlpSampleRatio,
          onDropped: (reason, spans, detail) => {
            metrics?.traceSpansDropped(reason, spans);
            logger.warn({ reason, spans, detail }, 'invocation spans dropped, not exported');
          },
        });
  const invoker = new Invoker({
    ...(metrics === undefined ? {} : { metrics }),
    tracer,
    store,
    scheduler,
    resolver,
    recorder,
    stackMapper: new StackMapper(store),
    logger,
    prepareImage: (codeSha256) => images.prepare(codeSha256),
    secrets,
  });
  // The async queue is node-local SQLite (its own file, full durability) until cluster mode brings NATS.
  const queue = openSqliteQueue({ file: path.join(config.dataDir, 'queue.db') });
  const asyncInvocations = new AsyncInvocations(queue, resolver, () => dispatcher.notify());
  const destinationPolicy = EgressPolicy.anyPublicHost(config.egressAllowedNetworks);
  const destinations = new AsyncDestinations({
    enqueue: (input) => asyncInvocations.enqueue(input),
    logger,
    vet: (url) => destinationPolicy.vet(url),
  });
  const dispatcher = new AsyncDispatcher(queue, invoker, resolver, destinations, logger, {
    concurrency: config.asyncConcurrency,
    leaseMs: config.asyncLease,
    idlePollMs: 200,
    backoff: { baseMs: config.asyncRetryBaseDelay, maxMs: 300_000 },
  });
  dispatcher.start();
  // Cron slots go through the same durable queue as every async invocation.
  const cronScheduler = new CronScheduler({
    triggers: store,
    enqueue: (input) => asyncInvocations.enqueue(input),
    logger,
  });
  const provisioner = new Provisioner(store, scheduler, (version) => invoker.specOf(version), logger);
  await provisioner.loadAll();
  const functions = new FunctionService(store, {
    checkZip: (zip) => checkZip(zip),
    validate: (name, functionConfig) => provisioner.validate(name, functionConfig),
    // The version is not published yet: the probe loads its code as version 0, with the function's secrets.
    inspectHandler: ({ functionName, codeSha256, config: versionConfig }) =>
      sandbox.inspectHandler(
        invoker.specOf({
          functionName,
          version: 0,
          codeSha256,
          codeSize: 0,
          sourceMapSha256: null,
          config: versionConfig,
          description: '',
          createdAt: '',
        }),
      ),
    onChanged: (name) => {
      resolver.invalidate(name);
      scheduler.evictIdle(name);
      provisioner.refresh(name);
      // A deleted function's triggers are gone from the store; stop their timers here too.
      cronScheduler.functionChanged(name);
      // And its secrets: drop the decrypted copies.
      secrets
        .reloadFunction(name)
        .catch((error: unknown) =>
          logger.error({ err: error, functionName: name }, 'reloading secrets failed'),
        );
    },
    // The first call of a new version should cost a cold start, not store reads: resolve $LATEST into the
    // resolver's cache (from the store, so a concurrent deploy's newer version wins) and ship the bundle.
    onPublished: async (version) => {
      try {
        const latest = await resolver.resolve(version.functionName, undefined);
        await tiers.prepare(invoker.specOf(latest));
      } catch (error) {
        logger.warn({ err: error, functionName: version.functionName }, 'preparing the new version failed');
      }
    },
    images,
    // The image is on the node now; a warm-up instance makes the first real call a warm one.
    onImageDeployed: (version) => {
      if (config.imageWarmUp) scheduler.warm(invoker.specOf(version));
    },
  });
  const lambdaApi = new LambdaApi({
    functions,
    invoker,
    logger,
    credentials: config.lambdaCredentials,
    maxPayloadBytes: config.maxPayload,
    // A base64 zip in JSON is 4/3 of the zip, plus the other members.
    maxRequestBytes: Math.ceil((config.maxBundle * 4) / 3) + 64 * 1024,
    maxAsyncPayloadBytes: Math.min(config.maxPayload, 1024 * 1024),
    enqueueEvent: (input) => asyncInvocations.enqueue(input),
    describeRuntime: runtimeDescriber(config),
  });
  const triggers = new TriggerService({
    store,
    scheduler: cronScheduler,
    checkTarget: (name, qualifier) => resolver.resolve(name, qualifier),
  });
  await cronScheduler.start();
  const app = buildApp({
    triggers,
    lambdaApi,
    store,
    functions,
    invoker,
    asyncInvocations,
    scheduler,
    logger,
    maxPayloadBytes: config.maxPayload,
    maxBundleBytes: config.maxBundle,
    ...(metrics === undefined ? {} : { metrics }),
    recorder,
    images: { service: images, maxArchiveBytes: config.maxImageArchive },
    secrets,
    consoleDir: config.consoleDir,
    access: {
      gate: new Gatekeeper(keys),
      triggerAuth: async (name, qualifier) =>
        (await resolver.resolve(name, qualifier)).config.httpAuth ?? 'public',
    },
    edge: {
      headersTimeoutMs: config.headersTimeout,
      requestTimeoutMs: config.requestTimeout,
      maxHeaderBytes: config.maxHeaderSize,
    },
  });
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      // First, so no slot is enqueued into a queue that is closing.
      await cronScheduler.stop();
      await logRetention.stop();
      clearInterval(imageGc);
      invoker.stopAccepting();
      // Keep-alive connections that finish their last request while we close would otherwise hold the
      // server open until their idle timeout: close them as they become idle.
      const idleCloser = setInterval(() => app.server.closeIdleConnections(), 25);
      const httpClosed = app.close();
      const graceOver = new Promise<false>((resolve) =>
        setTimeout(() => resolve(false), config.shutdownGrace).unref(),
      );
      const drained = await Promise.race([
        Promise.all([httpClosed, dispatcher.stop(), scheduler.drain()]).then(() => true),
        graceOver,
      ]);
      if (!drained) {
        logger.warn({ busy: scheduler.busyCount() }, 'shutdown grace period over; stopping busy instances');
      }
      // Invocations still running now end as crashed; their callers get a 502 before connections close.
      scheduler.close();
      await sandbox.close();
      if (processTier instanceof ProcessSandbox) await processTier.close();
      if (containerTier instanceof ContainerSandbox) await containerTier.close();
      await Promise.race([httpClosed, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      app.server.closeAllConnections();
      clearInterval(idleCloser);
      secrets.close();
      await invoker.accounted();
      await recorder.close();
      // The spans of the invocations that just ended are still in the batch: send them before exiting.
      await tracer
        .shutdown()
        .catch((error: unknown) => logger.warn({ err: error }, 'flushing spans to the collector failed'));
      await queue.close();
      await store.close();
    })();
    return closing;
  };
  return {
    url: `http://${host}:${port}`,
    port,
    store,
    scheduler,
    sandbox,
    logger,
    logRetention,
    adminKey,
    close,
  };
}

/**
 * The process tier, where the host can confine processes; otherwise the reason it cannot, which its
 * functions then fail with (never run unconfined).
 */
async function startProcessTier(
  config: ServerConfig,
  logger: Logger,
): Promise<ProcessSandbox | { unavailable: string }> {
  try {
    return await ProcessSandbox.create({
      dataDir: path.join(config.dataDir, 'process'),
      logger,
      logLimitBytes: config.logLimitPerInvocation,
      extractZip,
      nodeRuntimes: config.nodeRuntimes,
      poolSize: config.processPoolSize,
      egressAllowedNetworks: config.egressAllowedNetworks,
      // The host's root is visible read-only in this tier: the store, the queue and the image cache are not.
      hidePaths: [config.dataDir, imageCacheDirOf(config), masterKeyFileOf(config)],
    });
  } catch (error) {
    const unavailable = error instanceof Error ? error.message : String(error);
    logger.warn({ reason: unavailable }, 'process tier unavailable; custom-runtime functions will fail');
    return { unavailable };
  }
}

function masterKeyFileOf(config: ServerConfig): string {
  return config.masterKeyFile ?? path.join(config.dataDir, 'master.key');
}

/** The master key (from the env, or its file, made on first start) and every function's secrets, decrypted. */
async function openSecrets(
  config: ServerConfig,
  store: Store,
  logger: Logger,
  onChanged: (functionName: string) => void,
): Promise<SecretService> {
  const file = masterKeyFileOf(config);
  const { key, created } = await loadMasterKey({ value: config.masterKey, file });
  if (created) {
    logger.warn(
      { file },
      'created the master key that encrypts secrets; back it up: secrets are lost without it',
    );
  }
  return SecretService.open({
    store,
    cipher: new SecretCipher(key),
    logger,
    onChanged,
    // Other nodes of a cluster change secrets too; one node sees every change itself.
    refreshMs: store.kind === 'postgres' ? 5_000 : 0,
  });
}

function imageCacheDirOf(config: ServerConfig): string {
  return config.imageCacheDir ?? path.join(config.dataDir, 'images');
}

/** The container tier, where an OCI runtime works on this host; otherwise the reason, as for the process tier. */
async function startContainerTier(config: ServerConfig, logger: Logger): Promise<TierOrReason> {
  try {
    return await ContainerSandbox.create({
      dataDir: path.join(config.dataDir, 'containers'),
      logger,
      logLimitBytes: config.logLimitPerInvocation,
      egressAllowedNetworks: config.egressAllowedNetworks,
    });
  } catch (error) {
    const unavailable = error instanceof Error ? error.message : String(error);
    logger.warn({ reason: unavailable }, 'container tier unavailable; container-image functions will fail');
    return { unavailable };
  }
}

async function openStore(config: ServerConfig): Promise<Store> {
  switch (config.store.kind) {
    case 'sqlite': {
      mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
      return openSqliteStore({ file: path.join(config.dataDir, 'strato.db') });
    }
    case 'postgres':
      return openPostgresStore({ connectionString: config.store.url, schema: config.store.schema });
    default: {
      const unknownStore: never = config.store;
      throw new Error(`unknown store ${JSON.stringify(unknownStore)}`);
    }
  }
}
