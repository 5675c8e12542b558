import type { FunctionErrorInfo } from '../core/invocation.js';

/** Set once per instance, before the function's module runs. */
export interface GuestInitConfig {
  functionName: string;
  version: number;
  memoryMb: number;
  env: Record<string, string>;
  logLimitBytes: number;
}

export type GuestInitResult =
  | { ok: true; handlerKind: HandlerKind; logsJson: string }
  | { ok: false; error: FunctionErrorInfo; logsJson: string };

export type HandlerKind = 'lambda' | 'fetch';

/**
 * How an invocation reached the guest, in `invoke(invocationId, kind, payload, deadline)`:
 * 'event' → payload is the event's JSON text; 'http' → payload is JSON of an HttpRequestPayload.
 * Primitive arguments cross the isolate boundary without a JSON round trip of their own.
 */
export type GuestPayloadKind = 'event' | 'http';

/**
 * How an invocation ended, in `complete(invocationId, status, responseKind, body, logsJson)`:
 * - 'ok': settled with a response; responseKind 'json' (body = the result's JSON text) or 'http'
 *   (body = JSON of an HttpResponsePayload).
 * - 'ok-pending': the same, but `ctx.waitUntil` work goes on; a 'late' completion follows.
 * - 'error': the handler failed; body = JSON of FunctionErrorInfo.
 * - 'late': the `waitUntil` work after an 'ok-pending' settled; body is empty.
 * logsJson is JSON of CapturedLogs, or '' when the invocation printed nothing.
 */
export type GuestCompletionStatus = 'ok' | 'ok-pending' | 'error' | 'late';
export type GuestResponseKind = 'json' | 'http' | '';
