import type { InvocationQueue, QueuedInvocation } from '../core/invocation-queue.js';
import { StratoError } from '../core/strato-error.js';
import type { VersionResolver } from './version-resolver.js';

/** Lambda's defaults for asynchronous invocation: two retries, events kept for six hours. */
export const DEFAULT_ASYNC_POLICY = { maxAttempts: 3, maxEventAgeMs: 6 * 60 * 60 * 1000 };

export interface AsyncInvokeInput {
  functionName: string;
  qualifier: string | undefined;
  eventJson: string;
  /** Same key for the same function within the dedup window: the first invocation's id, run once. */
  idempotencyKey?: string | undefined;
  /** Receives the result once the invocation settled (OpenFaaS's `X-Callback-Url`). */
  callbackUrl?: string | undefined;
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

  async enqueue(input: AsyncInvokeInput): Promise<{ invocationId: string; duplicate: boolean }> {
    await this.resolver.resolve(input.functionName, input.qualifier);
    const { id, duplicate } = await this.queue.enqueue(
      {
        functionName: input.functionName,
        qualifier: input.qualifier ?? '$LATEST',
        event: input.eventJson,
        enqueuedAt: Date.now(),
        maxAttempts: DEFAULT_ASYNC_POLICY.maxAttempts,
        maxEventAgeMs: DEFAULT_ASYNC_POLICY.maxEventAgeMs,
        ...(input.callbackUrl === undefined ? {} : { callbackUrl: input.callbackUrl }),
      },
      { idempotencyKey: input.idempotencyKey },
    );
    if (!duplicate) this.onEnqueued();
    return { invocationId: id, duplicate };
  }

  async get(id: string): Promise<QueuedInvocation> {
    const invocation = await this.queue.get(id);
    if (invocation === undefined) {
      throw new StratoError('INVOCATION_NOT_FOUND', `async invocation '${id}' does not exist`);
    }
    return invocation;
  }
}
