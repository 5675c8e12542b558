import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { VersionRecord } from '../core/function.js';
import type { InvocationRecord, InvocationTrigger, LogLine } from '../core/invocation.js';
import type { PreparedImage } from '../core/container-image.js';
import type { InstanceSpec, InvocationTrace, InvokePayload, InvokeResult } from '../core/sandbox.js';
import type { Store } from '../core/store.js';
import { isStratoError, StratoError } from '../core/strato-error.js';
import type { Lease, Scheduler } from '../scheduler/instance-pool.js';
import type { InvocationRecorder } from '../observe/invocation-recorder.js';
import type { InvocationMetrics } from '../observe/metrics.js';
import { idOnlyTracer, type InvocationTracer } from '../observe/invocation-tracer.js';
import type { TraceParent } from '../core/trace-context.js';
import type { VersionResolver } from './version-resolver.js';
import type { StackMapper } from './stack-mapper.js';
import { bucketParamsOf, RateLimiter, rateLimitKey } from '../ratelimit/rate-limiter.js';
import type { FunctionSecrets } from '../secrets/secret-service.js';
import { redactResult } from './redact-result.js';
import { InFlightCounter } from './in-flight-counter.js';

export interface InvokeInput {
  functionName: string;
  /** `$LATEST` (default) or a version number. */
  qualifier: string | undefined;
  payload: InvokePayload;
  trigger: InvocationTrigger;
  /** The caller's W3C trace context; without one the invocation starts a new trace. */
  traceParent?: TraceParent | undefined;
}

/** What the caller gets back: as soon as the response is ready (recording happens when it settles). */
export interface InvocationResponse {
  invocationId: string;
  version: VersionRecord;
  cold: boolean;
  result: InvokeResult;
  /** The invocation's span: the caller gets it back as `traceparent`. */
  trace: InvocationTrace;
}

export interface InvokerDependencies {
  store: Store;
  scheduler: Scheduler;
  resolver: VersionResolver;
  recorder: InvocationRecorder;
  stackMapper: StackMapper;
  logger: Logger;
  /** Per-function invocation rate limits (node-local buckets). @default a new RateLimiter */
  rateLimiter?: RateLimiter;
  /** Prometheus counters of outcomes, durations, cold starts and throttles. @default none recorded */
  metrics?: InvocationMetrics;
  /** Makes each invocation's span (ids always; OpenTelemetry export when configured). @default idOnlyTracer */
  tracer?: InvocationTracer;
  /**
   * Makes a container-image version's root file system ready on this node (image/image-service.ts), by the
   * version's `codeSha256` (its stored image descriptor). @default image functions fail to start
   */
  prepareImage?: (codeSha256: string) => Promise<PreparedImage>;
  /**
   * Each function's decrypted secrets (secrets/secret-service.ts): merged into the environment of new
   * instances, and redacted from the logs and errors of every invocation. @default no secrets
   */
  secrets?: { secretsOf(functionName: string): FunctionSecrets | undefined };
}

/**
 * The invoke path: resolve the version, lease an instance, run, release, record. Every invocation is
 * recorded with its logs, whatever its outcome.
 */
export class Invoker {
  private accepting = true;

  private readonly rateLimiter: RateLimiter;
  /** The spec of each resolved version, made once per secrets generation (not per request). */
  private readonly specs = new WeakMap<VersionRecord, InstanceSpec>();

  /** For the usage rollup's peak concurrency (metering): counted here, never written per request. */
  private readonly inFlight = new InFlightCounter();

  private readonly tracer: InvocationTracer;

  constructor(private readonly deps: InvokerDependencies) {
    this.rateLimiter = deps.rateLimiter ?? new RateLimiter();
    this.tracer = deps.tracer ?? idOnlyTracer;
  }

  /**
   * Resolves once the metrics and records of every invocation settled so far are handed on: that happens a
   * turn after each reply (setImmediate callbacks run in order), so shutdown waits for it before the last flush.
   */
  accounted(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }

  /** Refuses new invocations (graceful shutdown); in-flight ones finish. */
  stopAccepting(): void {
    this.accepting = false;
  }

  async invoke(input: InvokeInput): Promise<InvocationResponse> {
    if (!this.accepting) throw new StratoError('SHUTTING_DOWN', 'the server is shutting down');
    const version = await this.deps.resolver.resolve(input.functionName, input.qualifier);
    this.checkRateLimit(version);
    const secrets = this.deps.secrets?.secretsOf(version.functionName);
    let lease: Lease;
    try {
      lease = await this.deps.scheduler.acquire(this.specWith(version, secrets));
    } catch (error) {
      if (isStratoError(error) && error.code === 'TOO_MANY_REQUESTS') {
        this.deps.metrics?.throttle(version.functionName, 'concurrency');
      }
      throw error;
    }
    const invocationId = randomUUID();
    const startedAt = new Date();
    const running = this.inFlight.enter(version.functionName);
    const inFlight = running.count;
    const span = this.tracer.start(input.traceParent, {
      functionName: version.functionName,
      version: version.version,
      trigger: input.trigger,
      invocationId,
      startedAt: startedAt.getTime(),
    });
    const trace = span.trace;
    const request = {
      invocationId,
      payload: input.payload,
      deadline: startedAt.getTime() + version.config.timeoutMs,
      trace,
    };
    let left = false;
    const release = () => {
      lease.release();
      // Once: the catch below also runs when recording throws after the release.
      if (!left) this.inFlight.leave(running);
      left = true;
    };
    return new Promise<InvocationResponse>((resolve, reject) => {
      let responded = false;
      const respond = (result: InvokeResult) => {
        responded = true;
        resolve({
          invocationId,
          version,
          cold: lease.cold,
          result: redactResult(result, secrets?.redactor),
          trace,
        });
      };
      lease.instance
        .invoke(request, { onResponse: respond })
        .then(async (settled) => {
          release();
          const result = redactResult(await this.mapStack(settled, version), secrets?.redactor);
          if (!responded) respond(result);
          span.end({
            outcome: result.outcome,
            cold: lease.cold,
            errorMessage: result.outcome === 'success' ? undefined : result.error.message,
          });
          // The caller's reply is written in this turn's ticks; counting and recording need not delay it.
          setImmediate(() => {
            try {
              this.deps.metrics?.invocation({
                functionName: version.functionName,
                version: version.version,
                trigger: input.trigger,
                outcome: result.outcome,
                tier: lease.instance.tier,
                cold: lease.cold,
                durationMs: result.durationMs,
                initDurationMs: result.initDurationMs,
              });
              this.record(
                invocationId,
                input.trigger,
                version,
                { startedAt, inFlight, cold: lease.cold },
                result,
                trace,
              );
            } catch (error) {
              this.deps.logger.error(
                { err: error, invocationId, functionName: version.functionName },
                'recording the invocation failed',
              );
            }
          });
        })
        .catch((error: unknown) => {
          release();
          span.end({ outcome: 'crashed', cold: lease.cold, errorMessage: 'the invocation failed' });
          this.deps.logger.error(
            { err: error, invocationId, functionName: version.functionName },
            'invoke failed',
          );
          if (!responded)
            reject(
              error instanceof StratoError
                ? error
                : new StratoError('INTERNAL', 'the invocation failed', { cause: error }),
            );
        });
    });
  }

  /**
   * RATE_LIMITED when the function's bucket is empty. Checked before an instance is acquired, so a
   * refused call costs no instance and waits for nothing. The key is the function, not the version: all
   * versions and aliases share one budget, with the parameters of the version being invoked.
   */
  private checkRateLimit(version: VersionRecord): void {
    const key = rateLimitKey.function(version.functionName);
    const policy = version.config.rateLimit;
    if (policy === undefined) {
      this.rateLimiter.forget(key);
      return;
    }
    const consumed = this.rateLimiter.tryConsume(key, bucketParamsOf(policy));
    if (consumed.ok) return;
    this.deps.metrics?.throttle(version.functionName, 'rate');
    const retryAfterSeconds = Math.max(1, Math.ceil(consumed.retryAfterMs / 1000));
    throw new StratoError(
      'RATE_LIMITED',
      `function '${version.functionName}' is over its rate limit of ${policy.ratePerSecond}/s (burst ${policy.burst})`,
      { details: { retryAfterSeconds, scope: 'function' } },
    );
  }

  /**
   * What a sandbox needs to start an instance of this version, with the function's current secrets in its
   * environment (also used to provision instances). Throws SECRET_DECRYPT_FAILED.
   */
  specOf(version: VersionRecord): InstanceSpec {
    return this.specWith(version, this.deps.secrets?.secretsOf(version.functionName));
  }

  private specWith(version: VersionRecord, secrets: FunctionSecrets | undefined): InstanceSpec {
    const generation = secrets?.generation ?? 0;
    const cached = this.specs.get(version);
    if (cached !== undefined && (cached.secretsGeneration ?? 0) === generation) return cached;
    const spec: InstanceSpec = {
      functionName: version.functionName,
      version: version.version,
      codeSha256: version.codeSha256,
      loadCode: () => this.loadCode(version.codeSha256),
      loadArtifact: () => this.loadArtifact(version.codeSha256),
      // Secrets win over `env` of the same name: they are the newer, deliberate setting.
      config:
        secrets === undefined
          ? version.config
          : { ...version.config, env: { ...version.config.env, ...secrets.values } },
      ...(secrets === undefined ? {} : { secretsGeneration: generation }),
      ...(version.config.runtime === undefined ? {} : { runtime: version.config.runtime }),
      ...(version.config.handler === undefined ? {} : { handler: version.config.handler }),
      ...(version.config.image === undefined ? {} : { prepareImage: () => this.prepareImage(version) }),
    };
    this.specs.set(version, spec);
    return spec;
  }

  private prepareImage(version: VersionRecord): Promise<PreparedImage> {
    const prepare = this.deps.prepareImage;
    if (prepare === undefined) {
      return Promise.reject(
        new StratoError('UNSUPPORTED_IMAGE', 'this server does not run container images'),
      );
    }
    return prepare(version.codeSha256);
  }

  private async loadCode(sha256: string): Promise<string> {
    const bytes = await this.loadArtifact(sha256);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  }

  private async loadArtifact(sha256: string): Promise<Uint8Array> {
    const bytes = await this.deps.store.getArtifact(sha256);
    if (bytes === undefined) {
      throw new StratoError('ARTIFACT_NOT_FOUND', `artifact ${sha256} is missing from the store`);
    }
    return bytes;
  }

  private async mapStack(result: InvokeResult, version: VersionRecord): Promise<InvokeResult> {
    if (result.outcome !== 'error' || result.error.stack === undefined) return result;
    try {
      const stack = await this.deps.stackMapper.map(result.error.stack, version.sourceMapSha256);
      return { ...result, error: { ...result.error, stack } };
    } catch {
      return result;
    }
  }

  private record(
    invocationId: string,
    trigger: InvocationTrigger,
    version: VersionRecord,
    start: { startedAt: Date; inFlight: number; cold: boolean },
    result: InvokeResult,
    trace: InvocationTrace,
  ): void {
    const { startedAt, inFlight, cold } = start;
    const record: InvocationRecord = {
      id: invocationId,
      functionName: version.functionName,
      version: version.version,
      trigger,
      startedAt: startedAt.toISOString(),
      durationMs: result.durationMs,
      initDurationMs: result.initDurationMs,
      cold,
      outcome: result.outcome,
      error: result.outcome === 'success' ? null : result.error,
      memoryMb: version.config.memoryMb,
      billedMs: Math.max(1, Math.ceil(result.durationMs)),
      inFlight,
      logBytes: result.logBytes,
      logTruncated: result.logTruncated,
      traceId: trace.traceId,
      spanId: trace.spanId,
    };
    const logs: LogLine[] = result.logs.map((line, seq) => ({
      invocationId,
      functionName: version.functionName,
      seq,
      ts: line.ts,
      level: line.level,
      message: line.message,
    }));
    this.deps.recorder.add(record, logs);
  }
}
