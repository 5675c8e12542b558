import { isUtf8 } from 'node:buffer';
import { StratoError } from '../core/strato-error.js';
import {
  formatTraceparent,
  parseTraceparent,
  parseXRayTraceHeader,
  type TraceParent,
} from '../core/trace-context.js';
import type { InvocationResponse, Invoker } from '../invoke/invoker.js';
import {
  functionTarget,
  resolveQualifier,
  type LambdaOperationDeps,
  type OperationContext,
  type OperationReply,
} from './lambda-context.js';
import { invocationTypeSchema, logTypeSchema } from './lambda-schemas.js';
import { logTail } from './log-tail.js';

/** Accepts an `Event` invocation durably (the async queue); resolves once it will not be lost. */
export type EnqueueEvent = (input: {
  functionName: string;
  qualifier: string | undefined;
  eventJson: string;
  traceParent: TraceParent | undefined;
}) => Promise<{ invocationId: string }>;

export interface LambdaInvokeDeps extends LambdaOperationDeps {
  invoker: Invoker;
  /** Absent: `Event` invocations are refused (never accepted and then lost). */
  enqueueEvent: EnqueueEvent | undefined;
  /** Lambda's limit for `Event` payloads (sync payloads are limited when the body is read). */
  maxAsyncPayloadBytes: number;
}

/**
 * Lambda's Invoke: `RequestResponse` runs the function and answers with its result (a function error is
 * a 200 with `X-Amz-Function-Error`, as on Lambda), `Event` queues it and answers 202, `DryRun` checks that
 * the function and qualifier exist and answers 204.
 */
export async function lambdaInvoke(
  deps: LambdaInvokeDeps,
  label: string,
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
  context: OperationContext,
): Promise<OperationReply> {
  const target = functionTarget(label, context.query);
  const invocationType = parseHeader(
    invocationTypeSchema,
    headers['x-amz-invocation-type'],
    'RequestResponse',
    'X-Amz-Invocation-Type',
  );
  const logType = parseHeader(logTypeSchema, headers['x-amz-log-type'], 'None', 'X-Amz-Log-Type');
  const eventJson = payloadJson(body);
  // W3C first; the AWS SDK inside a Lambda-style function sends X-Ray's form of the same ids.
  const traceParent =
    parseTraceparent(headers['traceparent'], headers['tracestate']) ??
    parseXRayTraceHeader(headers['x-amzn-trace-id']);
  switch (invocationType) {
    case 'DryRun':
      await resolveQualifier(deps.functions, target.functionName, target.qualifier);
      return { status: 204 };
    case 'Event': {
      if (body.length > deps.maxAsyncPayloadBytes) {
        throw new StratoError(
          'PAYLOAD_TOO_LARGE',
          `an Event payload may be at most ${deps.maxAsyncPayloadBytes} bytes (this one: ${body.length})`,
        );
      }
      if (deps.enqueueEvent === undefined) {
        throw new StratoError('INTERNAL', 'asynchronous invocation is not available on this server');
      }
      // Unknown functions are refused now, not discovered by the queue later.
      await resolveQualifier(deps.functions, target.functionName, target.qualifier);
      const { invocationId } = await deps.enqueueEvent({ ...target, eventJson, traceParent });
      return { status: 202, headers: [['x-amzn-requestid', invocationId]] };
    }
    case 'RequestResponse': {
      const invocation = await deps.invoker.invoke({
        functionName: target.functionName,
        qualifier: target.qualifier,
        payload: { kind: 'event', eventJson },
        trigger: 'invoke',
        traceParent,
      });
      return invocationReply(invocation, target.qualifier, logType === 'Tail');
    }
  }
}

function invocationReply(
  invocation: InvocationResponse,
  qualifier: string | undefined,
  tail: boolean,
): OperationReply {
  const { result, version, invocationId } = invocation;
  const executedVersion =
    qualifier === undefined || qualifier === '$LATEST' ? '$LATEST' : String(version.version);
  const headers: Array<[string, string]> = [
    ['x-amzn-requestid', invocationId],
    ['x-amz-executed-version', executedVersion],
    ['traceparent', formatTraceparent(invocation.trace)],
  ];
  if (tail) {
    headers.push([
      'x-amz-log-result',
      logTail({
        requestId: invocationId,
        executedVersion,
        memoryMb: version.config.memoryMb,
        result,
        linesArePreformatted: version.config.runtime !== undefined,
      }),
    ]);
  }
  if (result.outcome === 'success') {
    const response = result.response;
    // An event invocation answers JSON; an HTTP-style result is passed on as the JSON Lambda would return.
    const payload = response.kind === 'json' ? response.json : JSON.stringify(response.response);
    return { status: 200, headers, raw: payload };
  }
  headers.push(['x-amz-function-error', 'Unhandled']);
  return { status: 200, headers, raw: JSON.stringify(functionErrorPayload(result)) };
}

/** The error payload Lambda returns for a failed invocation (Node runtime shape). */
function functionErrorPayload(result: Exclude<InvocationResponse['result'], { outcome: 'success' }>) {
  switch (result.outcome) {
    case 'error':
      return {
        errorType: result.error.type,
        errorMessage: result.error.message,
        trace: result.error.stack === undefined ? [] : result.error.stack.split('\n'),
      };
    case 'timeout':
      return { errorType: 'Sandbox.Timedout', errorMessage: result.error.message };
    case 'out_of_memory':
      return { errorType: 'Runtime.OutOfMemory', errorMessage: result.error.message };
    case 'crashed':
      return { errorType: 'Runtime.ExitError', errorMessage: result.error.message };
  }
}

/** Lambda's payload is JSON; an empty body is the event `{}`. */
function payloadJson(body: Buffer): string {
  if (body.length === 0) return '{}';
  if (!isUtf8(body))
    throw new StratoError('INVALID_JSON', 'Could not parse request body into json: not UTF-8');
  const text = body.toString('utf8');
  try {
    JSON.parse(text);
  } catch (error) {
    throw new StratoError(
      'INVALID_JSON',
      `Could not parse request body into json: ${(error as Error).message}`,
    );
  }
  return text;
}

function parseHeader<T extends string>(
  schema: { safeParse(value: unknown): { success: true; data: T } | { success: false } },
  value: string | string[] | undefined,
  fallback: T,
  name: string,
): T {
  if (value === undefined) return fallback;
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new StratoError('VALIDATION_FAILED', `${name} has an unsupported value: ${String(value)}`);
  return parsed.data;
}
