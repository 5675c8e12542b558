import type { Logger } from 'pino';
import type { LeasedInvocation, QueueErrorInfo } from '../core/invocation-queue.js';
import { lambdaFunctionArn } from '../core/lambda-arn.js';
import type { AsyncInvokeInput } from './async-invocations.js';
import { pinnedPost, type PinnedAddress } from './pinned-post.js';

/** How an async invocation ended, for its destination and callback. */
export type AsyncFinalOutcome =
  | { condition: 'Success'; executedVersion: string; result: string }
  | { condition: 'RetriesExhausted'; executedVersion: string; error: QueueErrorInfo; functionError: boolean }
  | { condition: 'EventAgeExceeded'; error: QueueErrorInfo };

export interface AsyncDestinationsOptions {
  /** Queues the record for a destination function (durably, like any async invocation). */
  enqueue: (input: AsyncInvokeInput) => Promise<unknown>;
  logger: Logger;
  /** Per HTTP attempt. @default 10_000 */
  httpTimeoutMs?: number;
  /** Delays between HTTP attempts (their count + 1 attempts in all). @default [200, 1000] */
  httpRetryDelaysMs?: readonly number[];
  /**
   * The address an http(s) destination or callback URL may be sent to, or a rejection: the server passes
   * its egress policy for public addresses, so a URL cannot point Strato at the node's own network
   * (loopback, private ranges, the metadata address) unless the operator opened it.
   */
  vet: (url: URL) => Promise<PinnedAddress>;
}

/**
 * Sends a settled async invocation where its function's settings say: a destination function gets
 * Lambda's invocation record as its event (queued, so it is as durable as any event), an http(s)
 * destination gets the record POSTed as JSON, and an `X-Callback-Url` gets the function's result
 * (OpenFaaS style). Runs before the invocation is acked: a crash in between means the invocation is
 * delivered again, never that its destination is skipped. HTTP deliveries are retried a few times, then
 * logged and given up (the endpoint is the user's).
 */
export class AsyncDestinations {
  constructor(private readonly options: AsyncDestinationsOptions) {}

  async deliver(leased: LeasedInvocation, outcome: AsyncFinalOutcome): Promise<void> {
    const { message } = leased;
    const destination =
      outcome.condition === 'Success' ? message.destinations?.onSuccess : message.destinations?.onFailure;
    const work: Array<Promise<void>> = [];
    if (destination !== undefined) {
      const record = JSON.stringify(destinationRecord(leased, outcome));
      work.push(
        isUrl(destination)
          ? this.post(destination, record, { 'content-type': 'application/json' }, leased.id)
          : this.toFunction(destination, record, leased.id, outcome.condition),
      );
    }
    if (message.callbackUrl !== undefined) {
      const success = outcome.condition === 'Success';
      work.push(
        this.post(
          message.callbackUrl,
          success ? outcome.result : JSON.stringify({ error: outcome.error }),
          {
            'content-type': 'application/json',
            'x-call-id': leased.id,
            'x-function-name': message.functionName,
            'x-function-status': success ? '200' : '500',
          },
          leased.id,
        ),
      );
    }
    await Promise.all(work);
  }

  private async toFunction(name: string, record: string, id: string, condition: string): Promise<void> {
    try {
      await this.options.enqueue({
        functionName: name,
        qualifier: undefined,
        eventJson: record,
        // A redelivered invocation must not queue its record twice.
        idempotencyKey: `destination:${id}:${condition}`,
      });
    } catch (error) {
      this.options.logger.warn(
        { err: error, id, destination: name },
        'async destination function refused the record',
      );
    }
  }

  private async post(url: string, body: string, headers: Record<string, string>, id: string): Promise<void> {
    const delays = this.options.httpRetryDelaysMs ?? [200, 1000];
    for (let attempt = 0; ; attempt++) {
      try {
        const target = new URL(url);
        let pinned: PinnedAddress;
        try {
          pinned = await this.options.vet(target);
        } catch (error) {
          throw new Error(`${(error as Error).message} (not retried)`);
        }
        const status = await pinnedPost(target, body, headers, pinned, this.options.httpTimeoutMs ?? 10_000);
        // A redirect is not followed: the next hop would not have been checked.
        if (status >= 200 && status < 300) return;
        if (status < 500 && status !== 429) throw new Error(`HTTP ${status} (not retried)`);
        if (attempt >= delays.length) throw new Error(`HTTP ${status}`);
      } catch (error) {
        if (attempt >= delays.length || (error as Error).message.endsWith('(not retried)')) {
          this.options.logger.warn({ err: error, id, url }, 'async callback or destination delivery failed');
          return;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, delays[attempt]));
    }
  }
}

/** Lambda's destination record (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html). */
function destinationRecord(leased: LeasedInvocation, outcome: AsyncFinalOutcome) {
  const { message } = leased;
  const executedVersion = outcome.condition === 'EventAgeExceeded' ? undefined : outcome.executedVersion;
  return {
    version: '1.0',
    timestamp: new Date().toISOString(),
    requestContext: {
      requestId: leased.id,
      functionArn: lambdaFunctionArn({ functionName: message.functionName, qualifier: message.qualifier }),
      condition: outcome.condition,
      approximateInvokeCount: leased.attempt,
    },
    requestPayload: parseOrText(message.event),
    responseContext: {
      statusCode: outcome.condition === 'Success' ? 200 : outcome.condition === 'EventAgeExceeded' ? 0 : 500,
      ...(executedVersion === undefined ? {} : { executedVersion }),
      ...(outcome.condition === 'RetriesExhausted' && outcome.functionError
        ? { functionError: 'Unhandled' }
        : {}),
    },
    responsePayload:
      outcome.condition === 'Success'
        ? parseOrText(outcome.result)
        : { errorType: outcome.error.code, errorMessage: outcome.error.message },
  };
}

function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function isUrl(destination: string): boolean {
  return destination.startsWith('http://') || destination.startsWith('https://');
}
