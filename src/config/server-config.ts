import { isIP } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { StratoError } from '../core/strato-error.js';
import { byteSize, durationMs } from './duration.js';
import { NODE_RUNTIMES, nodeRuntimeEnvKey, nodeRuntimesSchema } from './node-runtimes.js';

const storeSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('sqlite') }),
  z.strictObject({ kind: z.literal('postgres'), url: z.string().min(1), schema: z.string().optional() }),
]);

/** A switch from a config file (true/false) or an env var ("true"/"false"). */
const booleanSetting = z.union([
  z.boolean(),
  z.enum(['true', 'false']).transform((value) => value === 'true'),
]);

const registryCredentialSchema = z.strictObject({
  username: z.string().min(1).max(256),
  password: z.string().min(1).max(4096),
});

const lambdaCredentialSchema = z.strictObject({
  accessKeyId: z.string().regex(/^[A-Za-z0-9]{16,128}$/, 'access key ids are 16-128 letters and digits'),
  secretAccessKey: z.string().min(16, 'secret access keys have at least 16 characters').max(128),
});

/** Everything the server can be configured with; every field has an embedded default. */
export const serverConfigSchema = z
  .strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.coerce.number().int().min(0).max(65535).default(8080),
    dataDir: z.string().min(1).default('.strato'),
    store: storeSchema.default({ kind: 'sqlite' }),
    /** Idle instances are disposed after this. */
    keepAlive: durationMs.default(600_000),
    /** Isolate host processes (each runs many isolates). */
    isolateHosts: z.coerce.number().int().min(1).max(64).default(2),
    /**
     * Isolates kept ready per memory size in each isolate host, with the guest runtime already evaluated
     * (stem cells); a cold start takes one. 0 creates every isolate on demand.
     */
    isolateStemCells: z.coerce.number().int().min(0).max(64).default(2),
    /**
     * Reuse V8 code cache data (produced by Strato, per host) when compiling the guest runtime and bundles.
     * false compiles every script from source (for measurements).
     */
    isolateCodeCache: booleanSetting.default(true),
    /** Largest request body accepted by invoke and HTTP triggers. */
    maxPayload: byteSize.default(6 * 1024 * 1024),
    /** Largest deploy body (bundle + source map). */
    maxBundle: byteSize.default(64 * 1024 * 1024),
    /** Console output kept per invocation; the rest is counted and dropped. */
    logLimitPerInvocation: byteSize.default(256 * 1024),
    /** Function log lines older than this are deleted by the retention sweep (every minute); 0 keeps them. */
    logRetention: durationMs.default(7 * 86_400_000),
    /**
     * Total function log bytes (UTF-8 message bytes over all functions) kept; past it the sweep deletes the
     * oldest lines first. 0: no cap.
     */
    logRetentionBytes: byteSize.default(1024 ** 3),
    /**
     * Log bytes one function may store per minute (a sliding window); past it its further lines are dropped
     * and counted, never slowing the function. 0: no bound.
     */
    logBytesPerFunctionPerMinute: byteSize.default(10 * 1024 ** 2),
    /** How long a request waits for a free instance when its function is at its concurrency. */
    maxQueueWait: durationMs.default(10_000),
    /** A client must have sent its request headers within this (slow clients get 408 and are cut off). */
    headersTimeout: durationMs.default(10_000),
    /** A client must have sent its whole request within this (a large deploy on a slow link needs time). */
    requestTimeout: durationMs.default(300_000),
    /** Largest request head (request line + headers); larger ones get 431. */
    maxHeaderSize: byteSize.default(16 * 1024),
    /** How long shutdown waits for in-flight invocations. */
    shutdownGrace: durationMs.default(30_000),
    /** Async invocations running at once on this node; the rest wait in the durable queue. */
    asyncConcurrency: z.coerce.number().int().min(1).max(1000).default(8),
    /** First retry delay of a failed async invocation (doubling, with jitter, up to 5 min). */
    asyncRetryBaseDelay: durationMs.default(1_000),
    /** Lease on a running async invocation, renewed while it runs; a crashed node's work reappears after it. */
    asyncLease: durationMs.default(30_000),
    /**
     * `fixed`: idle instances live `keepAlive` after their last call. `hybrid`: the ATC'20 histogram policy
     * learns each function's idle times, unloads instances it expects to idle long and pre-warms one shortly
     * before the next expected call (`keepAlive` is its fallback). See docs/keepalive.md.
     */
    keepAlivePolicy: z.enum(['fixed', 'hybrid']).default('fixed'),
    /** Concurrent executions on this node over all functions; reserved concurrency comes out of it. */
    totalConcurrency: z.coerce.number().int().min(1).max(100_000).default(1000),
    /**
     * Memory for function instances: a busy instance counts its memory limit, an idle isolate 1.5 MB.
     * @default three quarters of the machine's memory
     */
    instanceMemory: byteSize.default(Math.floor(os.totalmem() * 0.75)),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /**
     * Node binary per Lambda Node.js runtime (`{"nodejs22.x": "/opt/node22/bin/node"}`); a runtime not named
     * here runs on the Node Strato itself runs on. Each source (file, env, flags) overrides per runtime.
     */
    nodeRuntimes: nodeRuntimesSchema.default({}),
    /**
     * Process-tier sandboxes kept confined ahead of need, per pool (one for `provided.*` runtimes, one per Node
     * binary with Node already started); each cold start takes one. 0 starts every instance from scratch.
     */
    processPoolSize: z.coerce.number().int().min(0).max(32).default(2),
    /**
     * The node-local image cache of container-image functions (unpacked layers, root file systems). Apart from
     * dataDir: it holds nothing that cannot be fetched again (registry images are re-pulled by digest, archive
     * images come back from the store). @default `<dataDir>/images`
     */
    imageCacheDir: z.string().min(1).optional(),
    /** The built web console served at `/console` (Vite's output). @default the package's `dist/console` */
    consoleDir: z.string().min(1).optional(),
    /**
     * Credentials per registry host (`{"registry.example.com": {"username": "u", "password": "p"}}`), used for
     * every pull from that host: deploys that give none, and re-pulls by digest after the cache lost a layer.
     */
    registries: z.record(z.string().min(1), registryCredentialSchema).default({}),
    /** Registry hosts reached over plain http besides loopback ones (which always are). */
    insecureRegistries: z.array(z.string().min(1)).default([]),
    /**
     * Start one instance of a container-image version when it is deployed, so its first call is warm. false
     * leaves every first call cold (for the cold-start benchmark).
     */
    imageWarmUp: booleanSetting.default(true),
    /** Largest image tarball accepted by `POST /v1/images/archive` (`strato deploy --image-archive`). */
    maxImageArchive: byteSize.default(2 * 1024 ** 3),
    /**
     * Access key pairs the Lambda API (`/2015-03-31/...`, AWS Signature V4) accepts. Empty: the Lambda API
     * answers every request with 403 (it is never open). Until namespaced keys exist, one pair usually comes
     * from `STRATO_LAMBDA_ACCESS_KEY_ID` / `STRATO_LAMBDA_SECRET_ACCESS_KEY`.
     */
    lambdaCredentials: z.array(lambdaCredentialSchema).default([]),
    /**
     * The key that encrypts secrets at rest (32 bytes as base64 or 64 hex digits), usually from
     * `STRATO_MASTER_KEY`. Unset: the key in `masterKeyFile`, created with a random key on first start.
     */
    masterKey: z.string().min(1).optional(),
    /**
     * The admin API key, usually from `STRATO_ADMIN_KEY` (at least 32 printable characters), for automated
     * setups that name their key up front. Unset: on a store with no keys, the first start creates one and
     * prints it once.
     */
    adminKey: z.string().min(32).max(256).optional(),
    /** Where the master key lives when `masterKey` is unset (mode 0600; refused if others can read it). @default `<dataDir>/master.key` */
    masterKeyFile: z.string().min(1).optional(),
    /**
     * Private or loopback networks (CIDRs: `10.1.2.0/24`, `127.0.0.1/32`) the operator opens to functions'
     * egress (isolate `fetch`, the process and container tiers' egress proxy); a function still needs a
     * matching `egress` pattern. Comma-separated in the env.
     * @default none: loopback, private, link-local and metadata addresses are unreachable
     */
    egressAllowedNetworks: z
      .preprocess(
        (value) =>
          typeof value === 'string'
            ? value
                .split(',')
                .map((part) => part.trim())
                .filter(Boolean)
            : value,
        z.array(z.string().refine(isCidr, 'networks are CIDRs like 10.0.0.0/8 or fd00::/8')),
      )
      .default([]),
    /**
     * OpenTelemetry collector to export invocation spans to over OTLP/HTTP: its base URL
     * (`http://127.0.0.1:4318`, `/v1/traces` is appended) or a full URL ending in `/v1/traces`.
     * @default unset: nothing is exported and the invoke path does no OpenTelemetry work
     */
    otlpEndpoint: z
      .url({ protocol: /^https?$/ })
      .transform(otlpTracesUrl)
      .optional(),
    /**
     * How spans are encoded for `otlpEndpoint`: `http/json`, or `http/protobuf` (OTLP's own default, for
     * collectors that only take it). Both are encoded by hand off the invoke path and cost about the same
     * (docs/benchmarks.md); JSON stays the default, as it was.
     */
    otlpProtocol: z.enum(['http/protobuf', 'http/json']).default('http/json'),
    /**
     * Prometheus metrics (`GET /metrics`) and the counting on the invoke path behind them. Off: no metrics
     * route, nothing counted (a node nobody scrapes; the tracing bench's baseline).
     */
    metrics: z
      .preprocess((value) => (value === 'false' ? false : value === 'true' ? true : value), z.boolean())
      .default(true),
    /**
     * The share of new traces whose spans are exported to `otlpEndpoint` (0 to 1, by trace id). A caller's
     * traceparent decides for its own trace: sampled is exported, not sampled is not (parent-based).
     * @default 1
     */
    otlpSampleRatio: z.coerce.number().min(0).max(1).default(1),
  })
  // node:http refuses a headers timeout longer than the whole-request timeout.
  .refine((config) => config.headersTimeout <= config.requestTimeout, {
    message: 'headersTimeout must not be longer than requestTimeout',
    path: ['headersTimeout'],
  });

export type ServerConfigInput = z.input<typeof serverConfigSchema>;
export type ServerConfig = z.output<typeof serverConfigSchema>;

/** Env variables the server reads (config/ is the only reader of process.env). */
const ENV_KEYS: Record<string, keyof ServerConfigInput> = {
  STRATO_HOST: 'host',
  STRATO_PORT: 'port',
  STRATO_DATA_DIR: 'dataDir',
  STRATO_KEEP_ALIVE: 'keepAlive',
  STRATO_ISOLATE_HOSTS: 'isolateHosts',
  STRATO_ISOLATE_STEM_CELLS: 'isolateStemCells',
  STRATO_ISOLATE_CODE_CACHE: 'isolateCodeCache',
  STRATO_PROCESS_POOL_SIZE: 'processPoolSize',
  STRATO_LOG_LEVEL: 'logLevel',
  STRATO_LOG_RETENTION: 'logRetention',
  STRATO_LOG_RETENTION_BYTES: 'logRetentionBytes',
  STRATO_LOG_BYTES_PER_FUNCTION_PER_MINUTE: 'logBytesPerFunctionPerMinute',
  STRATO_IMAGE_CACHE_DIR: 'imageCacheDir',
  STRATO_IMAGE_WARM_UP: 'imageWarmUp',
  STRATO_MASTER_KEY: 'masterKey',
  STRATO_ADMIN_KEY: 'adminKey',
  STRATO_MASTER_KEY_FILE: 'masterKeyFile',
  STRATO_CONSOLE_DIR: 'consoleDir',
  STRATO_OTLP_ENDPOINT: 'otlpEndpoint',
  STRATO_OTLP_PROTOCOL: 'otlpProtocol',
  STRATO_METRICS: 'metrics',
  STRATO_OTLP_SAMPLE_RATIO: 'otlpSampleRatio',
  STRATO_EGRESS_ALLOWED_NETWORKS: 'egressAllowedNetworks',
};

/** OTLP's rule for a base endpoint: the signal's path is appended (OTEL_EXPORTER_OTLP_ENDPOINT). */
function otlpTracesUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (!url.pathname.endsWith('/v1/traces')) url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/traces`;
  return url.href;
}

/**
 * Resolves the server config: defaults < config file (`--config`, `STRATO_CONFIG`, or
 * `./strato.config.json` when present) < `STRATO_*` env < command-line flags.
 */
export function loadServerConfig(
  flags: Partial<ServerConfigInput> & { config?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): ServerConfig {
  const { config: configPath, ...flagValues } = flags;
  const file =
    configPath ??
    env['STRATO_CONFIG'] ??
    (existsSync(path.join(cwd, 'strato.config.json')) ? 'strato.config.json' : undefined);
  const fromFile = file === undefined ? {} : readConfigFile(path.resolve(cwd, file));
  const fromEnv: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(ENV_KEYS)) {
    const value = env[key];
    if (value !== undefined && value !== '') fromEnv[field] = value;
  }
  if (env['STRATO_DATABASE_URL']) {
    // Keep a schema named in the config file; the env var only says where the database is.
    const fileStore = fromFile['store'] as { schema?: unknown } | undefined;
    fromEnv['store'] = {
      kind: 'postgres',
      url: env['STRATO_DATABASE_URL'],
      ...(typeof fileStore?.schema === 'string' ? { schema: fileStore.schema } : {}),
    };
  }
  const accessKeyId = env['STRATO_LAMBDA_ACCESS_KEY_ID'];
  const secretAccessKey = env['STRATO_LAMBDA_SECRET_ACCESS_KEY'];
  if (accessKeyId || secretAccessKey) {
    // The env pair comes first; pairs from the config file stay valid beside it.
    const fileCredentials = Array.isArray(fromFile['lambdaCredentials']) ? fromFile['lambdaCredentials'] : [];
    fromEnv['lambdaCredentials'] = [{ accessKeyId, secretAccessKey }, ...(fileCredentials as unknown[])];
  }
  const definedFlags = Object.fromEntries(
    Object.entries(flagValues).filter(([, value]) => value !== undefined),
  );
  const nodeRuntimes = mergeNodeRuntimes(fromFile['nodeRuntimes'], env, definedFlags['nodeRuntimes']);
  return parseServerConfig({ ...fromFile, ...fromEnv, ...definedFlags, nodeRuntimes });
}

/**
 * `nodeRuntimes` merged per runtime (file < `STRATO_NODE_NODEJS22_X`-style env < flags), so setting one
 * runtime's binary in the env keeps the others from the file. A layer that is not an object is left for the
 * schema to reject.
 */
function mergeNodeRuntimes(fromFile: unknown, env: NodeJS.ProcessEnv, fromFlags: unknown): unknown {
  const fromEnv: Record<string, string> = {};
  for (const runtime of NODE_RUNTIMES) {
    const value = env[nodeRuntimeEnvKey(runtime)];
    if (value !== undefined && value !== '') fromEnv[runtime] = value;
  }
  const layers = [fromFile, fromEnv, fromFlags].filter((layer) => layer !== undefined);
  if (layers.every((layer) => typeof layer === 'object' && layer !== null && !Array.isArray(layer))) {
    return Object.assign({}, ...layers) as unknown;
  }
  return fromFlags ?? fromFile;
}

export function parseServerConfig(input: unknown): ServerConfig {
  const parsed = serverConfigSchema.safeParse(input);
  if (!parsed.success) {
    throw new StratoError('VALIDATION_FAILED', `invalid server config: ${z.prettifyError(parsed.error)}`, {
      details: parsed.error.issues,
    });
  }
  return parsed.data;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new StratoError(
      'VALIDATION_FAILED',
      `cannot read config file ${file}: ${(error as Error).message}`,
    );
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new StratoError(
      'VALIDATION_FAILED',
      `config file ${file} is not a JSON object: ${(error as Error).message}`,
    );
  }
}

/** `address/prefix` with a valid IP and a prefix that fits its family. */
function isCidr(value: string): boolean {
  const [address, prefix, extra] = value.split('/');
  if (address === undefined || prefix === undefined || extra !== undefined || !/^\d{1,3}$/.test(prefix))
    return false;
  const family = isIP(address);
  return family !== 0 && Number(prefix) <= (family === 6 ? 128 : 32);
}
