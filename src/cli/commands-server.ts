import type { Command } from 'commander';
import { loadServerConfig } from '../config/server-config.js';
import type { Bootstrap } from '../auth/key-service.js';
import { storeApiKey } from './cli-credentials.js';
import { fail } from './output.js';

export function registerServerCommand(program: Command): void {
  program
    .command('server')
    .description('start Strato (HTTP API, invoke gateway, isolate sandboxes) with embedded defaults')
    .option('--host <host>', 'address to listen on (STRATO_HOST)', undefined)
    .option('--port <port>', 'port; 0 picks a free one (STRATO_PORT)', undefined)
    .option('--data-dir <dir>', 'where the embedded store lives (STRATO_DATA_DIR)', undefined)
    .option('--config <file>', 'JSON config file (STRATO_CONFIG; ./strato.config.json if present)')
    .option('--keep-alive <duration>', 'idle instances are reaped after this (STRATO_KEEP_ALIVE)', undefined)
    .option(
      '--log-retention <duration>',
      'function logs are kept this long (STRATO_LOG_RETENTION)',
      undefined,
    )
    .action(
      async (options: {
        host?: string;
        port?: string;
        dataDir?: string;
        config?: string;
        keepAlive?: string;
        logRetention?: string;
      }) => {
        try {
          const config = loadServerConfig({
            host: options.host,
            port: options.port === undefined ? undefined : Number(options.port),
            dataDir: options.dataDir,
            keepAlive: options.keepAlive,
            logRetention: options.logRetention,
            config: options.config,
          });
          // Loaded on demand: the other commands should not pay for the server's modules.
          const { startServer } = await import('../server.js');
          const server = await startServer(config);
          console.log(
            `Strato listening on ${server.url} (store: ${server.store.kind}, data: ${config.dataDir})`,
          );
          announceAdminKey(server.url, server.adminKey);
          let stopping = false;
          const stop = (signal: string) => {
            if (stopping) return;
            stopping = true;
            console.log(`${signal}: finishing in-flight invocations…`);
            server.close().then(
              () => process.exit(0),
              (error: unknown) => fail(error),
            );
          };
          process.on('SIGINT', () => stop('SIGINT'));
          process.on('SIGTERM', () => stop('SIGTERM'));
        } catch (error) {
          fail(error);
        }
      },
    );
}

/** The admin key made at first start is shown here once, and kept in the CLI's config for this server. */
function announceAdminKey(url: string, bootstrap: Bootstrap): void {
  if (bootstrap.kind !== 'generated') return;
  let stored: string;
  try {
    stored = `stored for ${url} in ${storeApiKey(url, bootstrap.token)}`;
  } catch (error) {
    stored = `not stored (${error instanceof Error ? error.message : String(error)})`;
  }
  console.log(
    [
      'Created the admin API key. It is shown this once; keep it (it is ' + stored + '):',
      `  ${bootstrap.token}`,
      'Use it as `Authorization: Bearer <key>`, or STRATO_API_KEY for the CLI; `strato keys create` makes narrower ones.',
    ].join('\n'),
  );
}
