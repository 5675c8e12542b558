import type { EgressPolicy } from '../../egress/egress-policy.js';
import type ivm from 'isolated-vm';
import type { FunctionErrorInfo } from '../../../core/invocation.js';
import type {
  GuestCompletionStatus,
  GuestInitConfig,
  GuestInitResult,
  GuestResponseKind,
  HandlerKind,
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

/** A first call on probation that has not answered by then no longer holds up the stem cell refill. */
const REFILL_FALLBACK_MS = 50;

export interface InstanceOptions {
  instanceId: string;
  runtime: GuestRuntimeImage;
  stemCells: StemCellPool;
  code: CompiledCode;
  config: GuestInitConfig;
  timeoutMs: number;
  /**
   * Invocations the gateway may send before earlier ones settled (the version's `instanceConcurrency`).
   * Above 1, an invocation whose deadline passes while the isolate is free ends alone; at 1 its timeout
   * disposes the isolate, as it always did. @default 1
   */
  instanceConcurrency?: number;
  /** Where the guest's fetch may go; undefined: it rejects (egress denied). */
  egress: EgressPolicy | undefined;
  /** An earlier instance of this code proved CPU-heavy: call it asynchronously from the start. */
  startsHeavy: boolean;
  /**
   * A call of this code already finished light here. Code not yet proven light is on probation: its calls
   * run asynchronously (on isolated-vm's thread pool, ~0.1 ms more) until one finishes under
   * HEAVY_SYNC_CALL_NS, so that a new function's first call cannot stall its neighbours on this host's
   * event loop (a busy loop would hold it for a whole timeout). @default false
   */
  provenLight?: boolean;
}

/** Reports invocation outcomes and deaths outside invocations. */
export interface InstanceEvents {
  onCompletion(completion: HostCompletion): void;
  onDead(): void;
  /** A synchronous call used more than HEAVY_SYNC_CALL_NS: remember it for this code's next instances. */
  onCpuHeavy(): void;
  /** A call on probation finished light: this code's next instances call it synchronously. */
  onCpuLight(): void;
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

/** What loading the module found: its handler kind, or why it failed. */
export type LoadOutcome = { handlerKind: HandlerKind } | { error: FunctionErrorInfo };

/**
 * One V8 isolate running one function version, inside an isolate host process. It serves one invocation
 * at a time, or several with `instanceConcurrency` > 1 (the gateway's scheduler never sends more).
 */
export class IsolateInstance implements CellOwner {
  private isolate: ivm.Isolate | undefined;
  private invokeRef: ivm.Reference<GuestInvoke> | undefined;
  private abandonRef: ivm.Reference<(invocationId: string) => void> | undefined;
  private fireTimerRef: ivm.Reference<(id: number) => void> | undefined;
  private readonly timers = new Map<number, NodeJS.Timeout>();
  /**
   * The invocation each call into the isolate works for, as the guest counts it (guest/guest-calls.ts): an
   * invoke's own, or that of the call-in that armed the timer or started the fetch being answered. A call
   * that must be cut (timeout, memory) is blamed on it; undefined: unknown (outside an invocation).
   */
  private callOwner: string | undefined;
  private readonly timerOwners = new Map<number, string | undefined>();
  private readonly fetchOwners = new Map<number, string | undefined>();
  /** Outbound requests in flight, aborted when their invocation ends (as timers are cleared). */
  private readonly fetches = new Map<number, AbortController>();
  private settleFetchRef: ivm.Reference<GuestSettleFetch> | undefined;
  private readonly running = new Map<string, RunningInvocation>();
  /** Calls go to isolated-vm's thread pool: the code proved heavy, or is on probation. */
  private heavy = false;
  private probation = false;
  /** The stem cell pool is owed a refill (see start()). */
  private refillPending = false;
  /** A call on probation finished light; calls turn synchronous once none is in flight on the pool. */
  private provedLight = false;
  /** Asynchronous calls not yet settled: a synchronous call must never run beside one. */
  private asyncInFlight = 0;
  private dead = false;
  /** The module load's duration and logs, for the first invocation; taken by it. */
  private init: { durationMs: number; logsJson: string } | undefined;
  /** Why the module failed to load: every invocation sent to this instance fails with it. */
  private initFailure: { error: FunctionErrorInfo; verdict: HostVerdict | null } | undefined;
  private handlerKind: HandlerKind | undefined;

  constructor(
    private readonly options: InstanceOptions,
    private readonly events: InstanceEvents,
  ) {
    this.probation = !options.startsHeavy && options.provenLight !== true;
    this.heavy = options.startsHeavy || this.probation;
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
      // On probation the first call is asynchronous: refill the pool after its result, not beside it.
      this.refillPending = this.probation;
      if (this.refillPending) setTimeout(() => this.refillStemCells(), REFILL_FALLBACK_MS).unref();
      const cell =
        stemCells.take(config.memoryMb, !this.refillPending) ?? createStemCell(runtime, config.memoryMb);
      cell.owner = this;
      this.isolate = cell.isolate;
      this.invokeRef = cell.invokeRef;
      this.fireTimerRef = cell.fireTimerRef;
      this.settleFetchRef = cell.settleFetchRef;
      this.abandonRef = cell.abandonRef;
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
      this.init = { durationMs: performance.now() - startedAt, logsJson: init.logsJson };
      if (init.ok) this.handlerKind = init.handlerKind;
      else
        this.initFailure = {
          error: { ...init.error, stack: cleanGuestStack(init.error.stack) },
          verdict: null,
        };
    } catch (error) {
      const verdict = this.classify(error);
      this.init = { durationMs: performance.now() - startedAt, logsJson: '' };
      this.initFailure = { error: describeVerdict(verdict, error, timeoutMs), verdict };
    }
  }

  /** After `start()`: what the module exports, or why it did not load. */
  get loadOutcome(): LoadOutcome {
    if (this.handlerKind !== undefined) return { handlerKind: this.handlerKind };
    return {
      error: this.initFailure?.error ?? {
        type: 'Error',
        message: 'the module did not load',
        stack: undefined,
      },
    };
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
      if (this.dead || this.heavy || this.running.size > 0 || isolate === undefined) return;
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
      deadlineTimer: setTimeout(() => this.expire(invocationId), remainingMs),
      initDurationMs: init?.durationMs ?? 0,
      initLogsJson: init?.logsJson ?? '',
      responded: false,
    };
    this.running.set(invocationId, running);
    const failure = this.initFailure;
    if (failure !== undefined) {
      // Every invocation sent before the failure was known gets it, not a crash of its own.
      this.dead = true;
      this.finish(running, failure.verdict ?? 'error', '', JSON.stringify(failure.error), '', true);
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
    this.callIn(
      () => this.invokeRef!,
      [invocationId, kind, payload, deadline, traceparent],
      this.callTimeoutMs(),
      invocationId,
    );
  }

  /**
   * How long one call into the isolate may run: until the earliest deadline of what is in flight. A call
   * that runs past it holds the isolate (its siblings cannot progress), so it is cut there.
   */
  private callTimeoutMs(): number {
    let earliest = Infinity;
    for (const running of this.running.values()) earliest = Math.min(earliest, running.deadline);
    return earliest === Infinity ? this.options.timeoutMs : Math.max(1, earliest - Date.now());
  }

  /**
   * An invocation's deadline passed while the isolate was free (a host timer fired). Serving one at a time,
   * the isolate goes with it (its state cannot be trusted, Lambda's rule). Shared, the guest forgets it (its
   * timers and fetches go) and it alone ends as a timeout: its siblings keep their isolate.
   */
  private expire(invocationId: string): void {
    const running = this.running.get(invocationId);
    if (running === undefined) return;
    if ((this.options.instanceConcurrency ?? 1) <= 1 || this.dead) {
      this.kill('timeout');
      return;
    }
    this.callIn(() => this.abandonRef!, [invocationId], this.callTimeoutMs(), undefined);
    if (!this.running.has(invocationId)) return; // abandoning it failed the isolate: already reported
    if (running.responded) {
      this.finish(running, 'late', '', '', '');
      return;
    }
    const error = describeVerdict('timeout', undefined, this.options.timeoutMs);
    this.finish(running, 'timeout', '', JSON.stringify(error), '');
  }

  dispose(): void {
    this.dead = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.timerOwners.clear();
    this.abortFetches();
    if (this.isolate !== undefined && !this.isolate.isDisposed) this.isolate.dispose();
  }

  /**
   * Calls into the guest for `owner`; synchronous unless the instance has proven CPU-heavy. (An async call
   * leaves `callOwner` set while other work runs, so the timers and fetches it starts are attributed only
   * approximately; the blame for its failure is exact.)
   */
  private callIn(
    ref: () => ivm.Reference<(...args: never[]) => void>,
    args: unknown[],
    timeoutMs: number,
    owner: string | undefined,
  ): void {
    if (this.dead || this.isolate === undefined) return;
    const target = ref() as ivm.Reference<(...args: unknown[]) => void>;
    this.callOwner = owner;
    if (this.heavy) {
      const isolate = this.isolate;
      const cpuBefore = isolate.cpuTime;
      this.asyncInFlight++;
      target.apply(undefined, args as never[], { timeout: timeoutMs }).then(
        () => {
          this.asyncInFlight--;
          if (this.probation && !this.dead && !isolate.isDisposed)
            this.endProbation(isolate.cpuTime - cpuBefore);
        },
        (error: unknown) => {
          this.asyncInFlight--;
          if (this.probation && !isolate.isDisposed && isolate.cpuTime - cpuBefore > HEAVY_SYNC_CALL_NS) {
            this.markHeavy();
          }
          this.onCallFailure(error, owner);
        },
      );
      return;
    }
    const isolate = this.isolate;
    const cpuBefore = isolate.cpuTime;
    try {
      target.applySync(undefined, args as never[], { timeout: timeoutMs });
    } catch (error) {
      // A busy loop ends here, on its timeout: the next instance of this code must not run it inline.
      if (!isolate.isDisposed && isolate.cpuTime - cpuBefore > HEAVY_SYNC_CALL_NS) this.markHeavy();
      this.onCallFailure(error, owner);
      return;
    } finally {
      this.callOwner = undefined;
    }
    if (isolate.cpuTime - cpuBefore > HEAVY_SYNC_CALL_NS) this.markHeavy();
  }

  private refillStemCells(): void {
    if (!this.refillPending) return;
    this.refillPending = false;
    this.options.stemCells.refill();
  }

  private markHeavy(): void {
    if (!this.heavy || this.probation) this.events.onCpuHeavy();
    this.heavy = true;
    this.probation = false;
  }

  /**
   * A call on probation is over: light (its CPU, with any calls beside it, under HEAVY_SYNC_CALL_NS), and
   * this instance and the code's next ones call synchronously; or heavy, and they stay asynchronous.
   */
  private endProbation(cpuNs: bigint): void {
    if (cpuNs > HEAVY_SYNC_CALL_NS) {
      this.markHeavy();
      return;
    }
    if (!this.provedLight) {
      this.provedLight = true;
      this.events.onCpuLight();
    }
    // Calls it made meanwhile (a fetch's answer, a timer) may still be queued on the pool.
    if (this.asyncInFlight > 0) return;
    this.probation = false;
    this.heavy = false;
  }

  private onCallFailure(error: unknown, owner: string | undefined): void {
    const verdict = this.classify(error);
    if (this.running.size > 0) {
      this.kill(verdict, error, owner);
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

  /**
   * Ends what runs in the isolate by force: it is disposed, its state cannot be trusted. With several in
   * flight, the verdict is the culprit's: the invocation whose call was cut (`culprit`), or when that is
   * not known (a deadline timer, a call outside any invocation) every one whose deadline has passed. The
   * others lost their isolate through no fault of theirs: they crashed. A memory limit is the isolate's,
   * and the one whose call hit it is the culprit too.
   */
  private kill(verdict: HostVerdict, cause?: unknown, culprit?: string): void {
    const victims = [...this.running.values()];
    if (victims.length === 0) return;
    this.dispose();
    const now = Date.now();
    const known = culprit !== undefined && this.running.has(culprit);
    for (const running of victims) {
      if (running.responded) {
        this.finish(running, 'late', '', '', '');
        continue;
      }
      const guilty =
        victims.length === 1 || (known ? running.invocationId === culprit : running.deadline <= now);
      const own: HostVerdict = guilty ? verdict : 'crashed';
      const reason = guilty
        ? cause
        : new Error('a concurrent invocation on the same instance ended it (the isolate was terminated)');
      this.finish(running, own, '', JSON.stringify(describeVerdict(own, reason, this.options.timeoutMs)), '');
    }
  }

  complete(
    invocationId: string,
    status: GuestCompletionStatus,
    kind: GuestResponseKind,
    body: string,
    logsJson: string,
  ): void {
    const running = this.running.get(invocationId);
    if (running === undefined) return;
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
    this.running.delete(running.invocationId);
    if (status === 'ok' && this.options.runtime.wantsServedCache) this.scheduleRuntimeCache();
    clearTimeout(running.deadlineTimer);
    // The guest clears an invocation's own timers and fetches; with the last one, nothing may go on.
    if (this.running.size === 0) {
      for (const timer of this.timers.values()) clearTimeout(timer);
      this.timers.clear();
      this.timerOwners.clear();
      this.abortFetches();
    }
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
    // After the result is sent (a timer runs after this turn's IPC write).
    if (this.refillPending) setTimeout(() => this.refillStemCells(), 0);
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
        const owner = this.timerOwners.get(id);
        this.timerOwners.delete(id);
        this.callIn(() => this.fireTimerRef!, [id], this.callTimeoutMs(), owner);
      },
      Math.max(0, Math.min(Number(delayMs) || 0, 2_147_483_647)),
    );
    this.timers.set(id, timer);
    this.timerOwners.set(id, this.callOwner);
  }

  startFetch(id: number, method: unknown, url: unknown, headersJson: unknown, bodyBase64: unknown): void {
    if (this.dead || typeof id !== 'number') return;
    const controller = new AbortController();
    this.fetches.set(id, controller);
    this.fetchOwners.set(id, this.callOwner);
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
      const timeoutMs = this.callTimeoutMs();
      const args = settled.ok
        ? [id, settled.status, settled.statusText, settled.headersJson, settled.bodyBase64, '']
        : [id, 0, '', '', '', settled.error];
      const owner = this.fetchOwners.get(id);
      this.fetchOwners.delete(id);
      this.callIn(() => this.settleFetchRef!, args, timeoutMs, owner);
    });
  }

  abortFetch(id: number): void {
    this.fetches.get(id)?.abort();
    this.fetches.delete(id);
    this.fetchOwners.delete(id);
  }

  private abortFetches(): void {
    for (const controller of this.fetches.values()) controller.abort();
    this.fetches.clear();
    this.fetchOwners.clear();
  }

  clearTimer(id: number): void {
    const timer = this.timers.get(id);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.timers.delete(id);
    this.timerOwners.delete(id);
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
