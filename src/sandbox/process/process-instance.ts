import { formatTraceparent, toXRayTraceHeader } from '../../core/trace-context.js';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { FunctionErrorInfo } from '../../core/invocation.js';
import type { Logger } from 'pino';
import type {
  InstanceSpec,
  InvokeOptions,
  InvokeRequest,
  InvokeResult,
  SandboxInstance,
  SandboxTier,
} from '../../core/sandbox.js';
import type { RuntimeInvocationResult } from '../runtime-api/runtime-api-endpoint.js';
import type { ConfinedExit } from './confined-process.js';
import { fromApiGatewayResult, hostCodec, toApiGatewayEvent } from './api-gateway-event.js';
import {
  exitFailure,
  startRuntime,
  type RuntimeContext,
  type RunningRuntime,
  type StartOutcome,
} from './runtime-start.js';

/** How long an answered invocation waits for the runtime's next poll (or exit) before it is released anyway. */
const pollAfterAnswerMs = 500;

type InvokeRace =
  | { kind: 'answer'; answer: RuntimeInvocationResult }
  | { kind: 'lost'; message: string }
  | { kind: 'exit'; exit: ConfinedExit }
  | { kind: 'timeout' }
  | { kind: 'oom' };

/**
 * Starts an instance's runtime and waits for its first poll; never rejects (a failure is the first
 * invocation's result). The process tier's is {@link startRuntime}; the container tier brings its own.
 */
export type RuntimeStarter = (id: string, disposed: AbortSignal) => Promise<StartOutcome>;

/**
 * One instance of a Runtime API tier: a runtime, confined by the tier, that polls its own Runtime API
 * endpoint. Serves one invocation at a time; a timeout, OOM or exit kills it for good. What starts the
 * runtime is the tier's {@link RuntimeStarter}; everything from the first poll on is the same for every tier.
 */
export class RuntimeInstance implements SandboxInstance {
  readonly id = randomBytes(8).toString('hex');
  private isDead = false;
  private readonly started: Promise<StartOutcome>;
  private initReported = false;
  private teardown: Promise<void> | undefined;
  private busy = false;
  private readonly disposal = new AbortController();

  constructor(
    readonly tier: Exclude<SandboxTier, 'isolate'>,
    private readonly spec: InstanceSpec,
    start: RuntimeStarter,
    private readonly logger: Logger,
    private readonly onGone: (instance: RuntimeInstance) => void,
  ) {
    this.started = start(this.id, this.disposal.signal);
    // A runtime that exits between invocations is gone; during one, the invocation reports the exit.
    void this.started.then(async (start) => {
      if (start.kind !== 'ready') return;
      await start.runtime.exited.catch(() => undefined);
      if (!this.busy) this.markDead();
    });
  }

  get dead(): boolean {
    return this.isDead;
  }

  async invoke(request: InvokeRequest, options?: InvokeOptions): Promise<InvokeResult> {
    const waitStart = performance.now();
    const start = await this.started;
    if (start.kind === 'failed') {
      this.markDead();
      return start.result;
    }
    const runtime = start.runtime;
    if (this.isDead) return refusal('SandboxCrashed', 'the instance is gone');
    // The scheduler never does this; refusing keeps a bug there from killing the running invocation.
    if (this.busy) return refusal('SandboxBusy', 'an invocation is already running on this instance');
    // As on Lambda, the init phase does not count against the invocation's timeout.
    const deadline = request.deadline + (this.initReported ? 0 : performance.now() - waitStart);
    const initDurationMs = this.initReported ? 0 : runtime.initDurationMs;
    this.initReported = true;
    const began = performance.now();
    this.busy = true;
    try {
      const oomKillsBefore = await runtime.oomKills?.();
      const raced = await this.race(runtime, request, deadline);
      const durationMs = performance.now() - began;
      const goneAfterAnswer =
        raced.kind === 'answer' && (await this.untilPolledAgain(runtime, deadline)) === 'gone';
      // A process of the function was OOM-killed while its runtime lived on: that is the invocation's outcome,
      // and the instance, whose state is now unknown, is not reused (as Lambda resets a sandbox after an OOM).
      const oomKilled =
        raced.kind === 'answer' &&
        oomKillsBefore !== undefined &&
        ((await runtime.oomKills?.()) ?? oomKillsBefore) > oomKillsBefore;
      const outcome: InvokeRace = oomKilled ? { kind: 'oom' } : raced;
      if (outcome.kind !== 'answer' || goneAfterAnswer) this.markDead();
      await runtime.drainOutput(outcome.kind === 'exit' || goneAfterAnswer);
      const result = this.toResult(outcome, request.payload.kind, runtime, durationMs, initDurationMs);
      options?.onResponse?.(result);
      return result;
    } finally {
      this.busy = false;
    }
  }

  /**
   * An answered instance is idle again only once its runtime polls for the next invocation. A runtime may
   * answer and then exit (AWS's Node client does after an uncaught exception); were the instance released
   * at the answer, the caller's next request could reach it before the exit is noticed and fail as a
   * crash. Waiting for the poll costs a well-behaved runtime one local round trip, which the next
   * invocation would otherwise wait for. A runtime that neither polls nor exits soon is released as before.
   */
  private async untilPolledAgain(
    runtime: RunningRuntime,
    deadline: number,
  ): Promise<'polled' | 'gone' | 'late'> {
    let timer: NodeJS.Timeout | undefined;
    const waitMs = Math.max(1, Math.min(pollAfterAnswerMs, deadline - Date.now()));
    return await Promise.race([
      runtime.endpoint.nextPoll().then(
        () => 'polled' as const,
        () => 'gone' as const,
      ),
      runtime.exited.then(() => 'gone' as const),
      new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), waitMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  async dispose(): Promise<void> {
    this.markDead();
    await this.teardown;
  }

  private markDead(): void {
    if (this.isDead) return;
    this.isDead = true;
    this.disposal.abort();
    this.teardown = this.started
      .then((start) => (start.kind === 'ready' ? start.runtime.stop() : undefined))
      .catch((error: unknown) =>
        this.logger.error({ err: error, instanceId: this.id }, `${this.tier} instance teardown failed`),
      )
      .finally(() => this.onGone(this));
  }

  private async race(runtime: RunningRuntime, request: InvokeRequest, deadline: number): Promise<InvokeRace> {
    const payload =
      request.payload.kind === 'event'
        ? Buffer.from(request.payload.eventJson)
        : Buffer.from(
            JSON.stringify(
              toApiGatewayEvent(
                request.payload.request,
                { requestId: request.invocationId, functionName: this.spec.functionName },
                hostCodec,
              ),
            ),
          );
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race<InvokeRace>([
        runtime.endpoint
          .invoke({ invocationId: request.invocationId, payload, deadline, ...traceHeaders(request) })
          .then(
            (answer) => ({ kind: 'answer', answer }) as const,
            (error: unknown) => ({ kind: 'lost', message: (error as Error).message }) as const,
          ),
        runtime.exited.then((exit) => ({ kind: 'exit', exit }) as const),
        new Promise<InvokeRace>((resolve) => {
          timer = setTimeout(() => resolve({ kind: 'timeout' }), Math.max(1, deadline - Date.now()));
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private toResult(
    outcome: InvokeRace,
    payloadKind: InvokeRequest['payload']['kind'],
    runtime: RunningRuntime,
    durationMs: number,
    initDurationMs: number,
  ): InvokeResult {
    const logs = runtime.capture.take();
    const base = {
      logs: logs.lines,
      logBytes: logs.bytes,
      logTruncated: logs.truncated,
      durationMs,
      initDurationMs,
    };
    switch (outcome.kind) {
      case 'timeout':
        return {
          ...base,
          outcome: 'timeout',
          error: errorInfo(
            'Timeout',
            `the function did not finish within its timeout of ${this.spec.config.timeoutMs} ms`,
          ),
        };
      case 'exit':
        return { ...base, ...exitFailure(outcome.exit, 'while it handled the invocation') };
      case 'oom':
        return {
          ...base,
          outcome: 'out_of_memory',
          error: errorInfo(
            'OutOfMemory',
            'a process of the function was killed for exceeding its memory limit',
          ),
        };
      case 'lost':
        return { ...base, outcome: 'crashed', error: errorInfo('SandboxCrashed', outcome.message) };
      case 'answer':
        break;
    }
    const answer = outcome.answer;
    if (answer.outcome === 'error')
      return { ...base, outcome: 'error', error: answer.error, phase: 'invoke' };
    if (payloadKind === 'http') {
      const mapped = fromApiGatewayResult(answer.body);
      if (typeof mapped === 'string') {
        return {
          ...base,
          outcome: 'error',
          error: errorInfo('Runtime.InvalidResponse', mapped),
          phase: 'invoke',
        };
      }
      return { ...base, outcome: 'success', response: { kind: 'http', response: mapped } };
    }
    return { ...base, outcome: 'success', response: { kind: 'json', json: asJson(answer.body) } };
  }
}

/** The process tier's instance: a Lambda runtime confined by {@link startRuntime}. */
export class ProcessInstance extends RuntimeInstance {
  constructor(spec: InstanceSpec, context: RuntimeContext, onGone: (instance: RuntimeInstance) => void) {
    super(
      'process',
      spec,
      (id, disposed) => startRuntime(id, spec, context, disposed),
      context.logger,
      onGone,
    );
  }
}

/** The runtime's body as JSON text: a body that is not JSON becomes a JSON string of its text. */
function asJson(body: Buffer): string {
  const text = body.toString('utf8');
  if (text.trim() === '') return 'null';
  try {
    JSON.parse(text);
    return text;
  } catch {
    return JSON.stringify(text);
  }
}

function errorInfo(type: string, message: string): FunctionErrorInfo {
  return { type, message, stack: undefined };
}

/** A refusal that never reached the runtime: its logs stay for the invocation they belong to. */
function refusal(type: string, message: string): InvokeResult {
  return {
    outcome: 'crashed',
    error: errorInfo(type, message),
    logs: [],
    logBytes: 0,
    logTruncated: false,
    durationMs: 0,
    initDurationMs: 0,
  };
}

/**
 * The invocation's span for a Lambda runtime: X-Ray's form (`Lambda-Runtime-Trace-Id`, which runtime
 * clients put in `_X_AMZN_TRACE_ID`) and the W3C form (`Lambda-Runtime-Traceparent`, Strato's own).
 */
function traceHeaders(request: InvokeRequest): { traceId?: string; traceparent?: string } {
  if (request.trace === undefined) return {};
  return { traceId: toXRayTraceHeader(request.trace), traceparent: formatTraceparent(request.trace) };
}
