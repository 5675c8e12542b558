import type { EgressPolicy } from './egress-policy.js';
import type ivm from 'isolated-vm';
import type { FunctionErrorInfo } from '../../../core/invocation.js';
import type {
  GuestCompletionStatus,
  GuestInitConfig,
  GuestInitResult,
  GuestResponseKind,
} from '../../../guest/protocol.js';
import type { GatewayToHost, HostCompletion, HostCompletionStatus } from '../host-protocol.js';
import { cleanGuestStack, type CompiledCode } from './compiled-code.js';
import type { GuestRuntimeImage } from './guest-runtime-image.js';
import {
  createStemCell,
  type CellOwner,
  type GuestInvoke,
  type GuestSettleFetch,
  type StemCellPool,
} from './stem-cell.js';
import { performFetch, type FetchAnswer } from './outbound-fetch.js';

type InvokeMessage = Extract<GatewayToHost, { t: 'invoke' }>;

/**
 * A synchronous call into the isolate that used more CPU than this marks the instance CPU-heavy: from
 * then on it runs on isolated-vm's thread pool (asynchronously) so it cannot stall the host's event
 * loop, paying ~50 µs per call instead of ~3 µs. CPU time, not wall time: a host that is merely
 * descheduled under load must not demote its instances.
 */
const HEAVY_SYNC_CALL_NS = 20_000_000n;

export interface InstanceOptions {
  instanceId: string;
  runtime: GuestRuntimeImage;
  stemCells: StemCellPool;
  code: CompiledCode;
  config: GuestInitConfig;
  timeoutMs: number;
  /** The guest's fetch may reach the network. */
  /** Where the guest's fetch may go; undefined: it rejects (egress denied). */
  egress: EgressPolicy | undefined;
  /** An earlier instance of this code proved CPU-heavy: call it asynchronously from the start. */
  startsHeavy: boolean;
}

/** Reports invocation outcomes and deaths outside invocations. */
export interface InstanceEvents {
  onCompletion(completion: HostCompletion): void;
  onDead(): void;
  /** A synchronous call used more than HEAVY_SYNC_CALL_NS: remember it for this code's next instances. */
  onCpuHeavy(): void;
}

interface RunningInvocation {
  invocationId: string;
  startedAt: number;
  deadline: number;
  deadlineTimer: NodeJS.Timeout;
  initDurationMs: number;
  initLogsJson: string;
  responded: boolean;
}

type HostVerdict = 'timeout' | 'out_of_memory' | 'crashed';

/** One V8 isolate running one function version, inside an isolate host process. */
export class IsolateInstance implements CellOwner {
  private isolate: ivm.Isolate | undefined;
  private invokeRef: ivm.Reference<GuestInvoke> | undefined;
  private fireTimerRef: ivm.Reference<(id: number) => void> | undefined;
  private readonly timers = new Map<number, NodeJS.Timeout>();
  /** Outbound requests in flight, aborted when their invocation ends (as timers are cleared). */
  private readonly fetches = new Map<number, AbortController>();
  private settleFetchRef: ivm.Reference<GuestSettleFetch> | undefined;
  private running: RunningInvocation | undefined;
  private heavy = false;
  private dead = false;
  private init:
    | { durationMs: number; logsJson: string; error: FunctionErrorInfo | null; verdict: HostVerdict | null }
    | undefined;

  constructor(
    private readonly options: InstanceOptions,
    private readonly events: InstanceEvents,
  ) {
    this.heavy = options.startsHeavy;
  }

  get isDead(): boolean {
    return this.dead;
  }

  /**
   * Takes a stem cell (an isolate with the guest runtime loaded) or makes one, then loads the
   * function into it; failures are reported on the first invocation.
   */
  start(): void {
    const startedAt = performance.now();
    const { config, code, timeoutMs, stemCells, runtime } = this.options;
    try {
      const cell = stemCells.take(config.memoryMb) ?? createStemCell(runtime, config.memoryMb);
      cell.owner = this;
      this.isolate = cell.isolate;
      this.invokeRef = cell.invokeRef;
      this.fireTimerRef = cell.fireTimerRef;
      this.settleFetchRef = cell.settleFetchRef;
      code.compile(cell.isolate).runSync(cell.context, { release: true, timeout: timeoutMs });
      // Synchronously, like invocations: an async call's first hop onto isolated-vm's thread pool cost
      // ~2.5 ms here against ~0.3 ms for the whole load. A module whose load burns CPU marks the
      // instance heavy, so its invocations then run off the event loop.
      const cpuBefore = cell.isolate.cpuTime;
      const initJson = cell.loadRef.applySync(undefined, [JSON.stringify(config)], {
        timeout: timeoutMs,
        result: { copy: true },
      });
      if (cell.isolate.cpuTime - cpuBefore > HEAVY_SYNC_CALL_NS) this.markHeavy();
      cell.loadRef.release();
      const init = JSON.parse(initJson) as GuestInitResult;
      if (init.ok && code.wantsCache) this.scheduleCacheProduction();
      this.init = {
        durationMs: performance.now() - startedAt,
        logsJson: init.logsJson,
        error: init.ok ? null : { ...init.error, stack: cleanGuestStack(init.error.stack) },
        verdict: null,
      };
    } catch (error) {
      const verdict = this.classify(error);
      this.init = {
        durationMs: performance.now() - startedAt,
        logsJson: '',
        error: describeVerdict(verdict, error, timeoutMs),
        verdict,
      };
    }
  }

  /**
   * On a timer: timers run after the current turn's setImmediate work, so the first invocation's result
   * is sent before the cache is made. A heavy instance may be running on isolated-vm's thread pool (a
   * synchronous compile would wait for it); the next instance makes the cache instead.
   */
  private scheduleCacheProduction(): void {
    setTimeout(() => {
      const isolate = this.isolate;
      if (this.dead || this.heavy || isolate === undefined) return;
      try {
        this.options.code.produceCacheFrom(isolate);
      } catch {
        // No cache this time (memory limit, say): a later instance tries again.
      }
    }, 0);
  }

  /** The runtime's cache with its load and invoke paths compiled (once per host), after results are out. */
  private scheduleRuntimeCache(): void {
    setTimeout(() => {
      const isolate = this.isolate;
      if (this.dead || this.heavy || this.running !== undefined || isolate === undefined) return;
      try {
        this.options.runtime.learnFrom(isolate);
      } catch {
        // Keep the cache made from evaluation.
      }
    }, 0);
  }

  invoke(message: InvokeMessage): void {
    const { invocationId, kind, payload, deadline, traceparent } = message;
    const init = this.init;
    this.init = undefined;
    const remainingMs = Math.max(1, deadline - Date.now());
    const running: RunningInvocation = {
      invocationId,
      startedAt: performance.now(),
      deadline,
      deadlineTimer: setTimeout(() => this.kill(invocationId, 'timeout'), remainingMs),
      initDurationMs: init?.durationMs ?? 0,
      initLogsJson: init?.logsJson ?? '',
      responded: false,
    };
    this.running = running;
    if (init?.error) {
      this.dead = true;
      this.finish(running, init.verdict ?? 'error', '', JSON.stringify(init.error), '', true);
      this.dispose();
      return;
    }
    if (this.dead) {
      this.finish(
        running,
        'crashed',
        '',
        JSON.stringify(describeVerdict('crashed', new Error('the instance is gone'), 0)),
        '',
      );
      return;
    }
    this.callIn(() => this.invokeRef!, [invocationId, kind, payload, deadline, traceparent], remainingMs);
  }

  dispose(): void {
    this.dead = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.abortFetches();
    if (this.isolate !== undefined && !this.isolate.isDisposed) this.isolate.dispose();
  }

  /** Calls into the guest; synchronous unless the instance has proven CPU-heavy. */
  private callIn(
    ref: () => ivm.Reference<(...args: never[]) => void>,
    args: unknown[],
    timeoutMs: number,
  ): void {
    if (this.dead || this.isolate === undefined) return;
    const target = ref() as ivm.Reference<(...args: unknown[]) => void>;
    if (this.heavy) {
      target
        .apply(undefined, args as never[], { timeout: timeoutMs })
        .catch((error: unknown) => this.onCallFailure(error));
      return;
    }
    const isolate = this.isolate;
    const cpuBefore = isolate.cpuTime;
    try {
      target.applySync(undefined, args as never[], { timeout: timeoutMs });
    } catch (error) {
      // A busy loop ends here, on its timeout: the next instance of this code must not run it inline.
      if (!isolate.isDisposed && isolate.cpuTime - cpuBefore > HEAVY_SYNC_CALL_NS) this.markHeavy();
      this.onCallFailure(error);
      return;
    }
    if (isolate.cpuTime - cpuBefore > HEAVY_SYNC_CALL_NS) this.markHeavy();
  }

  private markHeavy(): void {
    if (!this.heavy) this.events.onCpuHeavy();
    this.heavy = true;
  }

  private onCallFailure(error: unknown): void {
    const verdict = this.classify(error);
    const running = this.running;
    if (running !== undefined) {
      this.kill(running.invocationId, verdict, error);
      return;
    }
    this.dispose();
    this.events.onDead();
  }

  private classify(error: unknown): HostVerdict {
    const message = error instanceof Error ? error.message : String(error);
    if (/memory limit/i.test(message)) return 'out_of_memory';
    if (/timed out/i.test(message)) return 'timeout';
    if (this.isolate?.isDisposed === true) return 'out_of_memory';
    return 'crashed';
  }

  /** Ends the running invocation by force: the isolate is disposed, its state cannot be trusted. */
  private kill(invocationId: string, verdict: HostVerdict, cause?: unknown): void {
    const running = this.running;
    if (running === undefined || running.invocationId !== invocationId) return;
    this.dispose();
    if (running.responded) {
      this.finish(running, 'late', '', '', '');
      return;
    }
    this.finish(
      running,
      verdict,
      '',
      JSON.stringify(describeVerdict(verdict, cause, this.options.timeoutMs)),
      '',
    );
  }

  complete(
    invocationId: string,
    status: GuestCompletionStatus,
    kind: GuestResponseKind,
    body: string,
    logsJson: string,
  ): void {
    const running = this.running;
    if (running === undefined || running.invocationId !== invocationId) return;
    if (status === 'ok-pending') {
      running.responded = true;
      this.report(running, status, kind, body, logsJson, false);
      return;
    }
    this.finish(running, status, kind, status === 'error' ? cleanErrorJson(body) : body, logsJson);
  }

  private finish(
    running: RunningInvocation,
    status: HostCompletionStatus,
    kind: GuestResponseKind,
    body: string,
    logsJson: string,
    initFailed = false,
  ): void {
    this.running = undefined;
    if (status === 'ok' && this.options.runtime.wantsServedCache) this.scheduleRuntimeCache();
    clearTimeout(running.deadlineTimer);
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.abortFetches();
    this.report(running, status, kind, body, logsJson, initFailed);
  }

  private report(
    running: RunningInvocation,
    status: HostCompletionStatus,
    kind: GuestResponseKind,
    body: string,
    logsJson: string,
    initFailed: boolean,
  ): void {
    this.events.onCompletion({
      t: 'result',
      invocationId: running.invocationId,
      instanceId: this.options.instanceId,
      status,
      responseKind: kind,
      body,
      logsJson,
      initLogsJson: running.initLogsJson,
      durationMs: performance.now() - running.startedAt,
      initDurationMs: running.initDurationMs,
      initFailed,
      instanceDead: this.dead,
    });
    running.initLogsJson = '';
  }

  setTimer(id: number, delayMs: number): void {
    if (this.dead || typeof id !== 'number') return;
    const existing = this.timers.get(id);
    if (existing !== undefined) clearTimeout(existing);
    const timer = setTimeout(
      () => {
        this.timers.delete(id);
        const running = this.running;
        const timeoutMs =
          running === undefined ? this.options.timeoutMs : Math.max(1, running.deadline - Date.now());
        this.callIn(() => this.fireTimerRef!, [id], timeoutMs);
      },
      Math.max(0, Math.min(Number(delayMs) || 0, 2_147_483_647)),
    );
    this.timers.set(id, timer);
  }

  startFetch(id: number, method: unknown, url: unknown, headersJson: unknown, bodyBase64: unknown): void {
    if (this.dead || typeof id !== 'number') return;
    const controller = new AbortController();
    this.fetches.set(id, controller);
    const policy = this.options.egress;
    const answer: Promise<FetchAnswer> =
      policy !== undefined
        ? performFetch(method, url, headersJson, bodyBase64, controller.signal, policy)
        : Promise.resolve({
            ok: false,
            error:
              'outbound network is not enabled for this function (EGRESS_DENIED: egress is denied by default; allow hosts with its egress setting)',
          });
    void answer.then((settled) => {
      // Aborted: the invocation that asked ended, and its guest has forgotten the request.
      if (this.fetches.get(id) !== controller) return;
      this.fetches.delete(id);
      const running = this.running;
      const timeoutMs =
        running === undefined ? this.options.timeoutMs : Math.max(1, running.deadline - Date.now());
      const args = settled.ok
        ? [id, settled.status, settled.statusText, settled.headersJson, settled.bodyBase64, '']
        : [id, 0, '', '', '', settled.error];
      this.callIn(() => this.settleFetchRef!, args, timeoutMs);
    });
  }

  private abortFetches(): void {
    for (const controller of this.fetches.values()) controller.abort();
    this.fetches.clear();
  }

  clearTimer(id: number): void {
    const timer = this.timers.get(id);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.timers.delete(id);
  }
}

/** The stack of a guest error, about the user's bundle only (only on the error path). */
function cleanErrorJson(body: string): string {
  try {
    const error = JSON.parse(body) as FunctionErrorInfo;
    return JSON.stringify({ ...error, stack: cleanGuestStack(error.stack) });
  } catch {
    return body;
  }
}

function describeVerdict(verdict: HostVerdict, error: unknown, timeoutMs: number): FunctionErrorInfo {
  switch (verdict) {
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
      const unknownVerdict: never = verdict;
      throw new Error(`unknown verdict ${String(unknownVerdict)}`);
    }
  }
}
