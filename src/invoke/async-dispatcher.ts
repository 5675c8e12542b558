import { parseTraceparent } from '../core/trace-context.js';
import type { Logger } from 'pino';
import type { InvocationQueue, LeasedInvocation, QueueErrorInfo } from '../core/invocation-queue.js';
import type { InvokeResult } from '../core/sandbox.js';
import { isStratoError, StratoError } from '../core/strato-error.js';
import type { ErrorCode } from '../core/error-codes.js';
import type { AsyncDestinations } from './async-destinations.js';
import { FunctionSlots } from './function-slots.js';
import type { Invoker } from './invoker.js';
import type { VersionResolver } from './version-resolver.js';
import { retryDelayMs, type BackoffPolicy } from './retry-backoff.js';

export interface AsyncDispatcherOptions {
  /** Async invocations running at once on this node (the rest wait in the queue, not in memory). */
  concurrency: number;
  /**
   * Lease taken on each message, renewed every third of it while the invocation runs: a slow run is never
   * delivered twice, and after a crash a message is redelivered within one lease.
   */
  leaseMs: number;
  /** How long the loop sleeps when the queue was empty (an enqueue on this node wakes it at once). */
  idlePollMs: number;
  backoff: BackoffPolicy;
}

/** Platform conditions: retried without spending the function's retry budget. */
const PLATFORM_CODES = new Set<ErrorCode>([
  'TOO_MANY_REQUESTS',
  'RATE_LIMITED',
  'SHUTTING_DOWN',
  'STORE_UNAVAILABLE',
  'QUEUE_UNAVAILABLE',
  'INTERNAL',
  'ARTIFACT_NOT_FOUND',
]);

/**
 * Runs queued async invocations: leases messages, invokes them through the same path as sync calls,
 * and settles each one — ack on success, retry with backoff while the attempt budget lasts, dead-letter
 * after it (or when the event is too old, or its function is gone). At-least-once: a message is settled
 * only after its invocation ended, so a crash before that means a redelivery, never a loss.
 */
export class AsyncDispatcher {
  private running = 0;
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly settled = new Set<Promise<void>>();
  private loop: Promise<void> | undefined;
  private readonly functionSlots = new FunctionSlots();

  constructor(
    private readonly queue: InvocationQueue,
    private readonly invoker: Invoker,
    private readonly resolver: VersionResolver,
    private readonly destinations: AsyncDestinations,
    private readonly logger: Logger,
    private readonly options: AsyncDispatcherOptions,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Something was enqueued on this node: look now instead of at the next poll. */
  notify(): void {
    this.wake?.();
  }

  /** Stops leasing and waits for the running invocations to settle (their messages stay leased otherwise). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await Promise.all([...this.settled]);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const free = this.options.concurrency - this.running;
      let leased: LeasedInvocation[] = [];
      if (free > 0) {
        try {
          leased = await this.queue.lease(undefined, free, this.options.leaseMs);
        } catch (error) {
          this.logger.error({ err: error }, 'async queue lease failed');
        }
      }
      for (const message of leased) this.track(this.dispatch(message));
      if (leased.length === 0 || this.running >= this.options.concurrency) await this.sleep();
    }
  }

  private track(work: Promise<void>): void {
    this.running += 1;
    const done = work
      .catch((error: unknown) => this.logger.error({ err: error }, 'async dispatch failed'))
      .finally(() => {
        this.running -= 1;
        this.settled.delete(done);
        this.wake?.();
      });
    this.settled.add(done);
  }

  private sleep(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.options.idlePollMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  private async dispatch(leased: LeasedInvocation): Promise<void> {
    const { message } = leased;
    if (Date.now() - message.enqueuedAt > message.maxEventAgeMs) {
      const error = {
        code: 'EVENT_EXPIRED',
        message: `the event is older than its maximum age of ${message.maxEventAgeMs} ms`,
      };
      await this.destinations.deliver(leased, { condition: 'EventAgeExceeded', error });
      await this.queue.deadLetter(leased.id, leased.leaseToken, error);
      return;
    }
    const renew = setInterval(() => {
      this.queue
        .extendLease(leased.id, leased.leaseToken, this.options.leaseMs)
        .catch((error: unknown) =>
          this.logger.warn({ err: error, id: leased.id }, 'async lease renewal failed'),
        );
    }, this.options.leaseMs / 3);
    let outcome: Settlement;
    let releaseSlot: (() => void) | undefined;
    try {
      releaseSlot = await this.functionSlots.acquire(
        message.functionName,
        await this.asyncLimit(message.functionName, message.qualifier),
      );
      const invocation = await this.invoker.invoke({
        functionName: message.functionName,
        qualifier: message.qualifier,
        payload: { kind: 'event', eventJson: message.event },
        trigger: 'async',
        // Every run of the message, retries included, is a child of the span that enqueued it.
        traceParent: parseTraceparent(message.traceparent, message.tracestate),
      });
      const executedVersion =
        message.qualifier === '$LATEST' ? '$LATEST' : String(invocation.version.version);
      outcome = settlementOf(invocation.result, executedVersion);
    } catch (error) {
      outcome = settlementOfError(error);
    } finally {
      releaseSlot?.();
      clearInterval(renew);
    }
    await this.settle(leased, outcome);
  }

  /**
   * Async invocations of one function may use at most half of its concurrency on this node, so a flood of
   * events cannot take every instance from its synchronous callers. (A function that is gone resolves to
   * 1 here; its invoke then fails and the message is dead-lettered.)
   */
  private async asyncLimit(functionName: string, qualifier: string): Promise<number> {
    try {
      const version = await this.resolver.resolve(functionName, qualifier);
      return Math.max(1, Math.floor(version.config.concurrency / 2));
    } catch {
      return 1;
    }
  }

  private async settle(leased: LeasedInvocation, outcome: Settlement): Promise<void> {
    const { id, leaseToken, attempt, message } = leased;
    switch (outcome.kind) {
      case 'success':
        await this.destinations.deliver(leased, {
          condition: 'Success',
          executedVersion: outcome.executedVersion,
          result: outcome.result,
        });
        return this.queue.ack(id, leaseToken, { status: 'succeeded', result: outcome.result });
      case 'gone':
        // Its function (or alias) was deleted: no retry can help, and its destinations went with it.
        return this.queue.deadLetter(id, leaseToken, outcome.error);
      case 'platform':
        return this.queue.retry(id, leaseToken, {
          delayMs: retryDelayMs(this.options.backoff, leased.delivery),
          countsAsAttempt: false,
          error: outcome.error,
        });
      case 'failure':
        if (attempt >= message.maxAttempts) {
          await this.destinations.deliver(leased, {
            condition: 'RetriesExhausted',
            executedVersion: outcome.executedVersion,
            error: outcome.error,
            functionError: outcome.functionError,
          });
          return this.queue.deadLetter(id, leaseToken, outcome.error);
        }
        return this.queue.retry(id, leaseToken, {
          delayMs: retryDelayMs(this.options.backoff, attempt),
          countsAsAttempt: true,
          error: outcome.error,
        });
    }
  }
}

type Settlement =
  | { kind: 'success'; executedVersion: string; result: string }
  | { kind: 'failure'; executedVersion: string; error: QueueErrorInfo; functionError: boolean }
  | { kind: 'platform' | 'gone'; error: QueueErrorInfo };

function settlementOf(result: InvokeResult, executedVersion: string): Settlement {
  switch (result.outcome) {
    case 'success':
      return {
        kind: 'success',
        executedVersion,
        result:
          result.response.kind === 'json' ? result.response.json : JSON.stringify(result.response.response),
      };
    case 'error':
      return {
        kind: 'failure',
        executedVersion,
        functionError: true,
        error: { code: result.error.type, message: result.error.message },
      };
    case 'timeout':
      return {
        kind: 'failure',
        executedVersion,
        functionError: true,
        error: { code: 'INVOCATION_TIMEOUT', message: result.error.message },
      };
    case 'out_of_memory':
      return {
        kind: 'failure',
        executedVersion,
        functionError: true,
        error: { code: 'OUT_OF_MEMORY', message: result.error.message },
      };
    case 'crashed':
      // A crashed sandbox is the platform's problem unless proven otherwise: retried, budget kept.
      return { kind: 'platform', error: { code: 'SANDBOX_CRASHED', message: result.error.message } };
  }
}

function settlementOfError(error: unknown): Settlement {
  const stratoError = isStratoError(error) ? error : new StratoError('INTERNAL', String(error));
  const info = { code: stratoError.code, message: stratoError.message };
  if (PLATFORM_CODES.has(stratoError.code)) return { kind: 'platform', error: info };
  // The function, version or alias no longer exists: no retry can help.
  return { kind: 'gone', error: info };
}
