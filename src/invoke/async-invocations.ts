import { DEFAULT_ASYNC_POLICY } from '../core/function.js';
import type { InvocationQueue, QueueDepth, QueuedInvocation } from '../core/invocation-queue.js';
import { StratoError } from '../core/strato-error.js';
import { formatTraceparent, SAMPLED_FLAG, type TraceParent } from '../core/trace-context.js';
import { newSpanId, newTraceId } from '../observe/trace-ids.js';
import type { VersionResolver } from './version-resolver.js';

export interface AsyncInvokeInput {
  functionName: string;
  qualifier: string | undefined;
  eventJson: string;
  /** Same key for the same function within the dedup window: the first invocation's id, run once. */
  idempotencyKey?: string | undefined;
  /** Receives the result once the invocation settled (OpenFaaS's `X-Callback-Url`). */
  callbackUrl?: string | undefined;
  /** The caller's trace context; without one the invocation starts a new trace when it is accepted. */
  traceParent?: TraceParent | undefined;
}

/**
 * The accepting side of async invocation: an event is acknowledged to its caller only once the queue holds
 * it durably. The function (and qualifier) must exist when it is accepted; running it is the dispatcher's.
 */
export class AsyncInvocations {
  constructor(
    private readonly queue: InvocationQueue,
    private readonly resolver: VersionResolver,
    private readonly onEnqueued: () => void,
  ) {}

  /** The policy (retries, age, destinations) is the one of the version the qualifier names now. */
  /**
   * The stored `traceparent` names the caller's span as the parent of every run (retries included), so
   * they all share its trace. Without a caller's context a new trace starts here, at acceptance, with a
   * span id standing for the accepting request, so that retries still share one trace.
   */
  async enqueue(
    input: AsyncInvokeInput,
  ): Promise<{ invocationId: string; duplicate: boolean; traceparent: string }> {
    const version = await this.resolver.resolve(input.functionName, input.qualifier);
    if (input.callbackUrl !== undefined) checkCallbackUrl(input.callbackUrl);
    const policy = version.config.async ?? DEFAULT_ASYNC_POLICY;
    const destinations = {
      ...(policy.onSuccess === undefined ? {} : { onSuccess: policy.onSuccess }),
      ...(policy.onFailure === undefined ? {} : { onFailure: policy.onFailure }),
    };
    const parent = input.traceParent;
    const traceparent =
      parent === undefined
        ? formatTraceparent({ traceId: newTraceId(), spanId: newSpanId(), flags: SAMPLED_FLAG })
        : formatTraceparent({ traceId: parent.traceId, spanId: parent.parentId, flags: parent.flags });
    const { id, duplicate } = await this.queue.enqueue(
      {
        functionName: input.functionName,
        qualifier: input.qualifier ?? '$LATEST',
        event: input.eventJson,
        enqueuedAt: Date.now(),
        maxAttempts: policy.retries + 1,
        maxEventAgeMs: policy.maxEventAgeMs,
        traceparent,
        ...(parent?.tracestate === undefined ? {} : { tracestate: parent.tracestate }),
        ...(input.callbackUrl === undefined ? {} : { callbackUrl: input.callbackUrl }),
        ...(Object.keys(destinations).length === 0 ? {} : { destinations }),
      },
      { idempotencyKey: input.idempotencyKey },
    );
    if (!duplicate) this.onEnqueued();
    return { invocationId: id, duplicate, traceparent };
  }

  /** A function's dead-lettered invocations, oldest first. They outlive their function, for inspection. */
  listDead(
    functionName: string,
    page: { limit: number; cursor?: string | undefined },
  ): Promise<{ items: QueuedInvocation[]; next: string | null }> {
    return this.queue.listDead(functionName, page);
  }

  async getDead(functionName: string, id: string): Promise<QueuedInvocation> {
    const dead = await this.queue.getDead(id);
    if (dead === undefined || dead.message.functionName !== functionName) {
      throw new StratoError(
        'INVOCATION_NOT_FOUND',
        `function '${functionName}' has no dead-lettered invocation '${id}'`,
      );
    }
    return dead;
  }

  /** Back into the queue with a fresh attempt budget: one invocation, or all of a function's. */
  async redrive(functionName: string, id: string | undefined): Promise<number> {
    await this.resolver.resolve(functionName, undefined);
    if (id !== undefined) await this.getDead(functionName, id);
    const count = await this.queue.redrive(id === undefined ? { functionName } : { id });
    if (count > 0) this.onEnqueued();
    return count;
  }

  purgeDead(functionName: string): Promise<number> {
    return this.queue.purgeDead(functionName);
  }

  /** The function's messages by state (ready, delayed, running, dead) and the oldest ready one's age. */
  depth(functionName: string): Promise<QueueDepth> {
    return this.queue.depth(functionName);
  }

  /** Readiness: one lookup by key, so the probe costs the queue nothing and fails when it cannot be read. */
  async checkReady(): Promise<void> {
    await this.queue.get('readiness-probe');
  }

  async get(id: string): Promise<QueuedInvocation> {
    const invocation = await this.queue.get(id);
    if (invocation === undefined) {
      throw new StratoError('INVOCATION_NOT_FOUND', `async invocation '${id}' does not exist`);
    }
    return invocation;
  }
}

function checkCallbackUrl(value: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new StratoError('VALIDATION_FAILED', `X-Callback-Url must be an http(s) URL, got '${value}'`);
  }
}
