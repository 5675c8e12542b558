import { LogBuffer } from '../core/log-buffer.js';

/** One invocation inside the isolate, which it may share with other invocations of the same instance. */
export interface GuestCall {
  readonly invocationId: string;
  /** The invocation span's traceparent ('' when none), for the call's outbound fetches. */
  readonly traceparent: string;
  /** Its own console output. */
  readonly logs: LogBuffer;
  /** Settled (or abandoned by the host): nothing it does any more is reported. */
  settled: boolean;
  /** Fails it, as an uncaught exception in its code would. */
  fail(error: unknown): void;
}

/**
 * Which invocation the isolate is working for. An isolate has no async context the runtime could read (V8's
 * continuation data is not exposed), so ownership follows the host's events instead: a call-in that starts
 * an invocation, fires a timer or answers a fetch belongs to the invocation that started it, the timer or
 * the fetch; the microtasks that call-in runs (isolated-vm drains them before it returns) belong to it too,
 * and timers and fetches created meanwhile inherit it. That is exact for work each invocation does on its
 * own; a promise shared between invocations (a memoised fetch, say) resumes its waiters in the turn of the
 * invocation whose event settled it, so their console lines go to that one.
 */
export class GuestCalls {
  private current: GuestCall | undefined;
  private readonly live = new Map<string, GuestCall>();

  /** The invocation the isolate works for now; undefined outside one, or once it settled. */
  get active(): GuestCall | undefined {
    const current = this.current;
    return current !== undefined && !current.settled ? current : undefined;
  }

  get liveCount(): number {
    return this.live.size;
  }

  get(invocationId: string): GuestCall | undefined {
    return this.live.get(invocationId);
  }

  begin(call: GuestCall): void {
    this.live.set(call.invocationId, call);
    this.current = call;
  }

  /** A host event for this owner (a timer's or a fetch's; undefined: none) is about to run. */
  enter(owner: GuestCall | undefined): void {
    this.current = owner;
  }

  end(call: GuestCall): void {
    call.settled = true;
    this.live.delete(call.invocationId);
  }

  static newCall(
    invocationId: string,
    traceparent: string,
    logLimitBytes: number,
    fail: (error: unknown) => void,
  ): GuestCall {
    return { invocationId, traceparent, logs: new LogBuffer(logLimitBytes), settled: false, fail };
  }
}
