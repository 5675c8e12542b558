import ivm from 'isolated-vm';
import { webHostBindings } from '../web-host-bindings.js';
import type { FunctionErrorInfo } from '../../../core/invocation.js';
import type { InvokeRequest, InvokeResult } from '../../../core/sandbox.js';
import type { CapturedLogs } from '../../../guest/console-capture.js';
import type { GuestInitConfig, GuestInitResult, GuestResult } from '../../../guest/protocol.js';
import { cleanGuestStack, type CompiledCode } from './compiled-code.js';

/**
 * A synchronous call into the isolate that ran longer than this marks the instance CPU-heavy: from then
 * on it runs on isolated-vm's thread pool (asynchronously) so it cannot stall the host's event loop,
 * paying ~50 µs per call instead of ~3 µs.
 */
const HEAVY_SYNC_CALL_MS = 20;
const MIN_ISOLATE_MEMORY_MB = 8;

export interface InstanceOptions {
  instanceId: string;
  runtime: CompiledCode;
  code: CompiledCode;
  config: GuestInitConfig;
  timeoutMs: number;
}

export interface InstanceEvents {
  /** The response is ready (settled: false while `waitUntil` work goes on). */
  onResult(invocationId: string, result: InvokeResult, settled: boolean): void;
  onSettled(invocationId: string, logs: CapturedLogs, durationMs: number): void;
  /** The instance died outside an invocation. */
  onDead(reason: FunctionErrorInfo): void;
}

interface RunningInvocation {
  invocationId: string;
  startedAt: number;
  /** Epoch ms. */
  deadline: number;
  deadlineTimer: NodeJS.Timeout;
  initDurationMs: number;
  initLogs: CapturedLogs | null;
  responded: boolean;
}

type GuestFunction = ivm.Reference<(arg: string | number) => void>;
type Outcome = 'timeout' | 'out_of_memory' | 'crashed';

/** One V8 isolate running one function version, inside an isolate host process. */
export class IsolateInstance {
  private isolate: ivm.Isolate | undefined;
  private invokeRef: ivm.Reference<(json: string) => void> | undefined;
  private fireTimerRef: ivm.Reference<(id: number) => void> | undefined;
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private running: RunningInvocation | undefined;
  private heavy = false;
  private dead = false;
  private pendingInit:
    { durationMs: number; logs: CapturedLogs; error: FunctionErrorInfo | null } | undefined;

  constructor(
    private readonly options: InstanceOptions,
    private readonly events: InstanceEvents,
  ) {}

  get isDead(): boolean {
    return this.dead;
  }

  /** Creates the isolate and loads the function; failures are reported on the first invocation. */
  async start(): Promise<void> {
    const startedAt = performance.now();
    const { config, runtime, code, timeoutMs } = this.options;
    try {
      const isolate = new ivm.Isolate({ memoryLimit: Math.max(MIN_ISOLATE_MEMORY_MB, config.memoryMb) });
      this.isolate = isolate;
      const context = isolate.createContextSync();
      context.evalClosureSync(
        'globalThis.__strato_host = { setTimer: $0, clearTimer: $1, randomBytes: $2, parseUrl: $3, complete: $4 };',
        [
          new ivm.Callback((id: number, delayMs: number) => this.setTimer(id, delayMs)),
          new ivm.Callback((id: number) => this.clearTimer(id)),
          new ivm.Callback(webHostBindings.randomBytes),
          new ivm.Callback(webHostBindings.parseUrl),
          new ivm.Callback((invocationId: string, resultJson: string) =>
            this.complete(invocationId, resultJson),
          ),
        ],
      );
      runtime.compile(isolate).runSync(context, { release: true });
      const runtimeRef = context.global.getSync('__strato_runtime', { reference: true }) as ivm.Reference<
        Record<string, unknown>
      >;
      const loadRef = runtimeRef.getSync('load', { reference: true }) as ivm.Reference<
        (json: string) => string
      >;
      this.invokeRef = runtimeRef.getSync('invoke', { reference: true }) as ivm.Reference<
        (json: string) => void
      >;
      this.fireTimerRef = runtimeRef.getSync('fireTimer', { reference: true }) as ivm.Reference<
        (id: number) => void
      >;
      runtimeRef.release();
      context.global.deleteSync('__strato_runtime');
      code.compile(isolate).runSync(context, { release: true, timeout: timeoutMs });
      // Module initialisation is user code of unknown cost: run it off the event loop.
      const initJson = await loadRef.apply(undefined, [JSON.stringify(config)], {
        timeout: timeoutMs,
        result: { copy: true },
      });
      loadRef.release();
      const init = JSON.parse(initJson) as GuestInitResult;
      this.pendingInit = {
        durationMs: performance.now() - startedAt,
        logs: init.logs,
        error: init.ok ? null : init.error,
      };
    } catch (error) {
      const outcome = this.classify(error);
      this.pendingInit = {
        durationMs: performance.now() - startedAt,
        logs: { lines: [], bytes: 0, truncated: false },
        error: describeFailure(outcome, error, this.options.timeoutMs),
      };
    }
  }

  invoke(request: InvokeRequest): void {
    const init = this.pendingInit;
    this.pendingInit = undefined;
    const startedAt = performance.now();
    const remainingMs = Math.max(1, request.deadline - Date.now());
    const running: RunningInvocation = {
      invocationId: request.invocationId,
      startedAt,
      deadline: request.deadline,
      deadlineTimer: setTimeout(() => this.kill(request.invocationId, 'timeout'), remainingMs),
      initDurationMs: init?.durationMs ?? 0,
      initLogs: init?.logs ?? null,
      responded: false,
    };
    this.running = running;
    if (init?.error) {
      this.dead = true;
      const outcome =
        init.error.type === 'OutOfMemory'
          ? 'out_of_memory'
          : init.error.type === 'Timeout'
            ? 'timeout'
            : 'error';
      this.finish(running, {
        outcome,
        error: init.error,
        phase: 'init',
        logs: { lines: [], bytes: 0, truncated: false },
      });
      this.dispose();
      return;
    }
    if (this.dead) {
      const error = describeFailure('crashed', new Error('the instance is gone'), this.options.timeoutMs);
      this.finish(running, { outcome: 'crashed', error, logs: { lines: [], bytes: 0, truncated: false } });
      return;
    }
    this.callIn(this.invokeRef, JSON.stringify(request), remainingMs);
  }

  dispose(): void {
    this.dead = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    if (this.isolate !== undefined && !this.isolate.isDisposed) this.isolate.dispose();
  }

  /** Calls into the guest; synchronous unless the instance has proven CPU-heavy. */
  private callIn(
    ref: ivm.Reference<(arg: never) => void> | undefined,
    arg: string | number,
    timeoutMs: number,
  ): void {
    if (ref === undefined || this.dead) return;
    if (this.heavy) {
      (ref as GuestFunction)
        .apply(undefined, [arg], { timeout: timeoutMs })
        .catch((error: unknown) => this.onCallFailure(error));
      return;
    }
    const startedAt = performance.now();
    try {
      (ref as GuestFunction).applySync(undefined, [arg], { timeout: timeoutMs });
    } catch (error) {
      this.onCallFailure(error);
    }
    if (performance.now() - startedAt > HEAVY_SYNC_CALL_MS) this.heavy = true;
  }

  private onCallFailure(error: unknown): void {
    const outcome = this.classify(error);
    const running = this.running;
    if (running !== undefined) {
      this.kill(running.invocationId, outcome);
      return;
    }
    this.dispose();
    this.events.onDead(describeFailure(outcome, error, this.options.timeoutMs));
  }

  private classify(error: unknown): Outcome {
    const message = error instanceof Error ? error.message : String(error);
    if (/memory limit/i.test(message)) return 'out_of_memory';
    if (/timed out/i.test(message)) return 'timeout';
    if (this.isolate?.isDisposed === true) return 'out_of_memory';
    return 'crashed';
  }

  /** Ends the running invocation by force: the isolate is disposed, its state cannot be trusted. */
  private kill(invocationId: string, outcome: Outcome): void {
    const running = this.running;
    if (running === undefined || running.invocationId !== invocationId) return;
    this.dispose();
    const error = describeFailure(outcome, undefined, this.options.timeoutMs);
    if (running.responded) {
      this.running = undefined;
      clearTimeout(running.deadlineTimer);
      this.events.onSettled(
        invocationId,
        { lines: [], bytes: 0, truncated: false },
        performance.now() - running.startedAt,
      );
      return;
    }
    this.finish(running, { outcome, error, logs: { lines: [], bytes: 0, truncated: false } });
  }

  private complete(invocationId: string, resultJson: string): void {
    const running = this.running;
    if (running === undefined || running.invocationId !== invocationId) return;
    const result = JSON.parse(resultJson) as GuestResult;
    switch (result.outcome) {
      case 'success':
        if (!result.settled) {
          running.responded = true;
          this.events.onResult(
            invocationId,
            this.toResult(running, { outcome: 'success', response: result.response, logs: result.logs }),
            false,
          );
          return;
        }
        this.finish(running, { outcome: 'success', response: result.response, logs: result.logs });
        return;
      case 'error':
        this.finish(running, { outcome: 'error', error: result.error, phase: 'invoke', logs: result.logs });
        return;
      case 'late':
        this.running = undefined;
        clearTimeout(running.deadlineTimer);
        this.events.onSettled(invocationId, result.logs, performance.now() - running.startedAt);
        return;
      default: {
        const unknownResult: never = result;
        throw new Error(`unknown guest result ${JSON.stringify(unknownResult)}`);
      }
    }
  }

  private finish(running: RunningInvocation, partial: FinishInput): void {
    this.running = undefined;
    clearTimeout(running.deadlineTimer);
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.events.onResult(running.invocationId, this.toResult(running, partial), true);
  }

  private toResult(running: RunningInvocation, partial: FinishInput): InvokeResult {
    const logs = running.initLogs === null ? partial.logs : mergeLogs(running.initLogs, partial.logs);
    running.initLogs = null;
    const base = {
      logs: logs.lines,
      logBytes: logs.bytes,
      logTruncated: logs.truncated,
      durationMs: performance.now() - running.startedAt,
      initDurationMs: running.initDurationMs,
    };
    switch (partial.outcome) {
      case 'success':
        return { ...base, outcome: 'success', response: partial.response };
      case 'error':
        return {
          ...base,
          outcome: 'error',
          error: { ...partial.error, stack: cleanGuestStack(partial.error.stack) },
          phase: partial.phase,
        };
      case 'timeout':
      case 'out_of_memory':
      case 'crashed':
        return { ...base, outcome: partial.outcome, error: partial.error };
      default: {
        const unknownOutcome: never = partial;
        throw new Error(`unknown outcome ${JSON.stringify(unknownOutcome)}`);
      }
    }
  }

  private setTimer(id: number, delayMs: number): void {
    if (this.dead || typeof id !== 'number') return;
    const existing = this.timers.get(id);
    if (existing !== undefined) clearTimeout(existing);
    const timer = setTimeout(
      () => {
        this.timers.delete(id);
        const running = this.running;
        const timeoutMs =
          running === undefined ? this.options.timeoutMs : Math.max(1, running.deadline - Date.now());
        this.callIn(this.fireTimerRef, id, timeoutMs);
      },
      Math.max(0, Math.min(Number(delayMs) || 0, 2_147_483_647)),
    );
    this.timers.set(id, timer);
  }

  private clearTimer(id: number): void {
    const timer = this.timers.get(id);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.timers.delete(id);
  }
}

type FinishInput =
  | {
      outcome: 'success';
      response: Extract<InvokeResult, { outcome: 'success' }>['response'];
      logs: CapturedLogs;
    }
  | { outcome: 'error'; error: FunctionErrorInfo; phase: 'init' | 'invoke'; logs: CapturedLogs }
  | { outcome: Outcome; error: FunctionErrorInfo; logs: CapturedLogs };

function mergeLogs(first: CapturedLogs, second: CapturedLogs): CapturedLogs {
  return {
    lines: [...first.lines, ...second.lines],
    bytes: first.bytes + second.bytes,
    truncated: first.truncated || second.truncated,
  };
}

function describeFailure(outcome: Outcome, error: unknown, timeoutMs: number): FunctionErrorInfo {
  switch (outcome) {
    case 'timeout':
      return {
        type: 'Timeout',
        message: `the function did not finish within its timeout of ${timeoutMs} ms`,
        stack: undefined,
      };
    case 'out_of_memory':
      return { type: 'OutOfMemory', message: 'the function exceeded its memory limit', stack: undefined };
    case 'crashed':
      return {
        type: 'SandboxCrashed',
        message: `the sandbox failed: ${error instanceof Error ? error.message : String(error)}`,
        stack: undefined,
      };
    default: {
      const unknownOutcome: never = outcome;
      throw new Error(`unknown outcome ${String(unknownOutcome)}`);
    }
  }
}
