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
import { Invoker } from './invoke/invoker.js';
import { StackMapper } from './invoke/stack-mapper.js';
import { VersionResolver } from './invoke/version-resolver.js';
import { InvocationRecorder } from './observe/invocation-recorder.js';
import { createLogger } from './observe/logger.js';
import { extractZip } from './build/zip-archive.js';
import { IsolateSandbox } from './sandbox/isolate/isolate-sandbox.js';
import { ProcessSandbox } from './sandbox/process/index.js';
import { TieredSandbox } from './sandbox/tiered-sandbox.js';
import { Scheduler } from './scheduler/instance-pool.js';
import { openPostgresStore, openSqliteStore } from './store/index.js';

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  store: Store;
  scheduler: Scheduler;
  sandbox: IsolateSandbox;
  logger: Logger;
  /** Graceful: stops accepting, finishes in-flight invocations (up to the grace period), flushes records. */
  close(): Promise<void>;
}

export async function startServer(
  config: ServerConfig,
  logger: Logger = createLogger(config.logLevel),
): Promise<RunningServer> {
  const store = await openStore(config);
  const sandbox = await IsolateSandbox.create({
    hosts: config.isolateHosts,
    logLimitBytes: config.logLimitPerInvocation,
    logger,
  });
  const processTier = await startProcessTier(config, logger);
  const scheduler = new Scheduler(new TieredSandbox(sandbox, processTier), {
    keepAliveMs: config.keepAlive,
    maxQueueWaitMs: config.maxQueueWait,
    maxQueuedPerFunction: 1000,
  });
  const resolver = new VersionResolver(store);
  const recorder = new InvocationRecorder(store, logger);
  const invoker = new Invoker({
    store,
    scheduler,
    resolver,
    recorder,
    stackMapper: new StackMapper(store),
    logger,
  });
  const functions = new FunctionService(store, {
    onChanged: (name) => {
      resolver.invalidate(name);
      scheduler.evictIdle(name);
    },
  });
  const app = buildApp({
    store,
    functions,
    invoker,
    scheduler,
    logger,
    maxPayloadBytes: config.maxPayload,
    maxBundleBytes: config.maxBundle,
  });
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      invoker.stopAccepting();
      // Keep-alive connections that finish their last request while we close would otherwise hold the
      // server open until their idle timeout: close them as they become idle.
      const idleCloser = setInterval(() => app.server.closeIdleConnections(), 25);
      const httpClosed = app.close();
      const graceOver = new Promise<false>((resolve) =>
        setTimeout(() => resolve(false), config.shutdownGrace).unref(),
      );
      const drained = await Promise.race([
        Promise.all([httpClosed, scheduler.drain()]).then(() => true),
        graceOver,
      ]);
      if (!drained) {
        logger.warn({ busy: scheduler.busyCount() }, 'shutdown grace period over; stopping busy instances');
      }
      // Invocations still running now end as crashed; their callers get a 502 before connections close.
      scheduler.close();
      await sandbox.close();
      if (processTier instanceof ProcessSandbox) await processTier.close();
      await Promise.race([httpClosed, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      app.server.closeAllConnections();
      clearInterval(idleCloser);
      await recorder.close();
      await store.close();
    })();
    return closing;
  };
  return { url: `http://${host}:${port}`, port, store, scheduler, sandbox, logger, close };
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
    });
  } catch (error) {
    const unavailable = error instanceof Error ? error.message : String(error);
    logger.warn({ reason: unavailable }, 'process tier unavailable; custom-runtime functions will fail');
    return { unavailable };
  }
}

async function openStore(config: ServerConfig): Promise<Store> {
  switch (config.store.kind) {
    case 'sqlite': {
      mkdirSync(config.dataDir, { recursive: true });
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
