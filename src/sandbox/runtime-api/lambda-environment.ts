import { randomBytes } from 'node:crypto';

/** What the environment of one instance of a function describes. */
export interface LambdaEnvironmentMeta {
  functionName: string;
  /** `$LATEST` or a version number, as Lambda reports it in `AWS_LAMBDA_FUNCTION_VERSION`. */
  version: number | string;
  memoryMb: number;
  /** The function's handler setting (`_HANDLER`); left unset when the function has none (Lambda's custom runtimes read it only if they want to). */
  handler?: string;
  /** Directory holding the function's code (Lambda: `/var/task`). The process tier's working directory. */
  taskRoot: string;
  /** `host:port` of the instance's `RuntimeApiEndpoint`, as the runtime must reach it. */
  runtimeApi: string;
  /** @default 'us-east-1' */
  region?: string;
  /** @default `/aws/lambda/${functionName}` */
  logGroup?: string;
  /** @default a new `YYYY/MM/DD/[version]<32 hex>` name, as Lambda names one stream per instance */
  logStream?: string;
  /** @default 'on-demand' */
  initializationType?: 'on-demand' | 'provisioned-concurrency';
  /**
   * A managed runtime identifier (`nodejs20.x`, `python3.12`), which makes `AWS_EXECUTION_ENV`
   * `AWS_Lambda_<runtime>`. Lambda leaves `AWS_EXECUTION_ENV` unset for OS-only (`provided`) runtimes,
   * and so do we when this is absent: SDKs and tools read it to tell which managed runtime they are in.
   */
  runtime?: string;
  /** Where the runtime's own files live (Lambda: `/var/runtime`). @default taskRoot, where a custom runtime's `bootstrap` is */
  runtimeDir?: string;
  /**
   * Lambda's `LANG`. This Debian machine only has the `C.UTF-8` locale generated, so glibc falls back to `C`
   * for `en_US.UTF-8` (and perl warns on stderr); a tier may pass `C.UTF-8` on such hosts.
   * @default 'en_US.UTF-8'
   */
  lang?: string;
}

/**
 * The standard environment of a Lambda execution environment, for a runtime started by a non-isolate tier
 * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
 * The result is the whole environment: a tier spawns the runtime with exactly this (plus the function's own
 * variables), never with the gateway's `process.env`. Credentials (`AWS_ACCESS_KEY_ID`, ...) are not set:
 * Strato has no IAM role to hand out.
 */
export function lambdaEnvironment(meta: LambdaEnvironmentMeta): Record<string, string> {
  const region = meta.region ?? 'us-east-1';
  const version = String(meta.version);
  const runtimeDir = meta.runtimeDir ?? meta.taskRoot;
  const env: Record<string, string> = {
    AWS_LAMBDA_RUNTIME_API: meta.runtimeApi,
    LAMBDA_TASK_ROOT: meta.taskRoot,
    LAMBDA_RUNTIME_DIR: runtimeDir,
    AWS_LAMBDA_FUNCTION_NAME: meta.functionName,
    AWS_LAMBDA_FUNCTION_VERSION: version,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(meta.memoryMb),
    AWS_LAMBDA_LOG_GROUP_NAME: meta.logGroup ?? `/aws/lambda/${meta.functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: meta.logStream ?? lambdaLogStreamName(version),
    // Lambda sets both: the SDKs of some languages read one, some the other.
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_LAMBDA_INITIALIZATION_TYPE: meta.initializationType ?? 'on-demand',
    // Lambda's values: every execution environment runs in UTC, with a UTF-8 locale.
    TZ: ':UTC',
    LANG: meta.lang ?? 'en_US.UTF-8',
    // Lambda's is `/usr/local/bin:/usr/bin/:/bin:/opt/bin`. Debian is usr-merged, so these three cover the
    // system; `/opt/bin` is where Lambda mounts layers, which Strato does not have (on this machine /opt
    // holds unrelated software a function must not pick up by accident).
    PATH: '/usr/local/bin:/usr/bin:/bin',
    // Lambda's is `/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:
    // /opt/lib`. The first three are its language and system dirs, which Debian's loader already searches
    // (multiarch, ld.so.conf); what remains is that shared objects shipped with the function or its runtime
    // are found, as on Lambda.
    LD_LIBRARY_PATH: uniqueJoin([runtimeDir, `${runtimeDir}/lib`, meta.taskRoot, `${meta.taskRoot}/lib`]),
  };
  if (meta.handler !== undefined) env._HANDLER = meta.handler;
  if (meta.runtime !== undefined) env.AWS_EXECUTION_ENV = `AWS_Lambda_${meta.runtime}`;
  return env;
}

/** Lambda's log stream name for a new instance: `2024/05/01/[$LATEST]0123456789abcdef0123456789abcdef`. */
export function lambdaLogStreamName(version: string, now: Date = new Date()): string {
  const day = now.toISOString().slice(0, 10).replaceAll('-', '/');
  return `${day}/[${version}]${randomBytes(16).toString('hex')}`;
}

function uniqueJoin(paths: string[]): string {
  return [...new Set(paths)].join(':');
}
