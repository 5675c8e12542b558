/**
 * The durable queue of asynchronous invocations. An enqueue returns only once the message is durable,
 * and a message is never lost afterwards: it is delivered at least once, until it is acked, dead-lettered
 * or (for terminal records) pruned after the retention. One contract (test/queue-contract.ts) is run
 * against every backend: SQLite for a single node, NATS JetStream for a cluster.
 *
 * Methods throw StratoError: INVOCATION_NOT_FOUND for an unknown id, LEASE_LOST when the lease token is
 * not the message's current, unexpired lease (it expired, or another consumer now holds the message),
 * QUEUE_UNAVAILABLE when the backend cannot be reached.
 */
export interface InvocationQueue {
  readonly kind: 'sqlite' | 'nats';

  /** Durably enqueues; with an idempotency key already seen for this function, returns the first id. */
  enqueue(message: QueueMessage, options?: EnqueueOptions): Promise<{ id: string; duplicate: boolean }>;

  /**
   * Leases up to `max` visible messages (of one function, or of any when `functionName` is undefined),
   * oldest first, exclusively until the lease expires; an expired lease makes the message visible again.
   * Every lease counts one delivery and one attempt. A message whose lease expired on its last allowed
   * attempt is dead-lettered here instead of being delivered again (a consumer crashing on it forever
   * must not keep it alive). Returns at once, possibly with nothing.
   */
  lease(functionName: string | undefined, max: number, leaseMs: number): Promise<LeasedInvocation[]>;
  /** Pushes the lease's expiry to `ms` from now. Returns the new expiry (epoch ms). */
  extendLease(id: string, leaseToken: string, ms: number): Promise<number>;
  /** Completes the message; its record stays pollable for the retention. */
  ack(id: string, leaseToken: string, outcome?: AckOutcome): Promise<void>;
  /** Puts the message back, visible after `delayMs`. */
  retry(id: string, leaseToken: string, options: RetryOptions): Promise<void>;
  deadLetter(id: string, leaseToken: string, error: QueueErrorInfo): Promise<void>;

  /** Status polling; undefined for an unknown (or pruned) id. */
  get(id: string): Promise<QueuedInvocation | undefined>;

  listDead(
    functionName: string,
    page: { limit: number; cursor?: string | undefined },
  ): Promise<{ items: QueuedInvocation[]; next: string | null }>;
  /** A dead-lettered invocation; undefined if the id is unknown or not dead. */
  getDead(id: string): Promise<QueuedInvocation | undefined>;
  /** Moves dead-lettered invocations back into the queue with a fresh attempt budget; returns how many. */
  redrive(target: { id: string } | { functionName: string }): Promise<number>;
  /** Deletes a function's dead-lettered invocations; returns how many. */
  purgeDead(functionName: string): Promise<number>;

  depth(functionName?: string): Promise<QueueDepth>;
  close(): Promise<void>;
}

/** What an async invocation carries: a plain serialisable record, validated when read back. */
export interface QueueMessage {
  functionName: string;
  /** Version number, alias or `$LATEST`. */
  qualifier: string;
  /** The event as the caller sent it (JSON text). */
  event: string;
  /** Epoch ms at which the caller's request was accepted. */
  enqueuedAt: number;
  /** Attempts allowed in all (first try included). */
  maxAttempts: number;
  /** Past this age the event is no longer worth running (the consumer dead-letters it). */
  maxEventAgeMs: number;
  callbackUrl?: string | undefined;
  /** W3C trace context of the request that enqueued it: each run is a child span of it. */
  traceparent?: string | undefined;
  /** The caller's `tracestate`, passed through to each run. */
  tracestate?: string | undefined;
  destinations?: QueueDestinations | undefined;
}

/** Where the outcome goes once the invocation is settled: a function name or URL, resolved by the consumer. */
export interface QueueDestinations {
  onSuccess?: string | undefined;
  onFailure?: string | undefined;
}

export interface EnqueueOptions {
  /** Same key for the same function within the dedup window: the first id, no second message. */
  idempotencyKey?: string | undefined;
  /** Not visible before this delay. @default 0 */
  delayMs?: number | undefined;
}

export interface LeasedInvocation {
  id: string;
  /** Proves ownership of this lease; a token from an earlier (expired) lease is refused. */
  leaseToken: string;
  leaseExpiresAt: number;
  /** Attempts counted against `maxAttempts`, this one included. */
  attempt: number;
  /** Times delivered, this one included (retries that did not count are deliveries too). */
  delivery: number;
  message: QueueMessage;
}

export interface RetryOptions {
  delayMs: number;
  /** False for throttling or a platform failure: the attempt is given back to the budget. */
  countsAsAttempt: boolean;
  error: QueueErrorInfo;
}

export type AckOutcome =
  { status: 'succeeded'; result?: string | undefined } | { status: 'failed'; error: QueueErrorInfo };

export interface QueueErrorInfo {
  /** A StratoError code or a function error type. */
  code: string;
  message: string;
}

export type QueuedInvocationStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'dead';

export interface QueueAttempt {
  /** The delivery this record is about (1-based). */
  delivery: number;
  startedAt: number;
  endedAt: number | null;
  /** Did it count against the budget? False for retries given back (throttled, platform failures). */
  counted: boolean;
  error: QueueErrorInfo | null;
}

export interface QueuedInvocation {
  id: string;
  status: QueuedInvocationStatus;
  message: QueueMessage;
  attempts: number;
  deliveries: number;
  history: QueueAttempt[];
  /** The function's result (succeeded). */
  result: string | null;
  /** The last error (failed, dead). */
  error: QueueErrorInfo | null;
  /** Epoch ms of the last state change. */
  updatedAt: number;
  /** Epoch ms at which it becomes (or became) visible to `lease`. */
  visibleAt: number;
}

export interface QueueDepth {
  /** Visible now. */
  ready: number;
  /** Waiting for a delay (enqueue delay or retry backoff). */
  delayed: number;
  running: number;
  dead: number;
  /** Age of the oldest ready message, by its enqueuedAt; null when none is ready. */
  oldestReadyAgeMs: number | null;
}
