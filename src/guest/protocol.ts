import type { HttpRequestPayload, HttpResponsePayload, InvokePayload } from '../core/sandbox.js';
import type { FunctionErrorInfo } from '../core/invocation.js';
import type { CapturedLogs } from './console-capture.js';

/** Set once per instance, before the first invocation. */
export interface GuestInitConfig {
  functionName: string;
  version: number;
  memoryMb: number;
  env: Record<string, string>;
  logLimitBytes: number;
}

export type GuestInitResult =
  | { ok: true; handlerKind: HandlerKind; logs: CapturedLogs }
  | { ok: false; error: FunctionErrorInfo; logs: CapturedLogs };

export type HandlerKind = 'lambda' | 'fetch';

/** One invocation as the host hands it to the guest runtime. */
export interface GuestInvocation {
  invocationId: string;
  payload: InvokePayload;
  /** Epoch ms. */
  deadline: number;
}

export type GuestResponse = { kind: 'json'; json: string } | { kind: 'http'; response: HttpResponsePayload };

/**
 * What the guest reports through `HostBindings.complete`. `settled: false` means the response is
 * ready but `ctx.waitUntil` work is still running; a second report with `settled: true` follows.
 */
export type GuestResult =
  | { settled: boolean; outcome: 'success'; response: GuestResponse; logs: CapturedLogs }
  | { settled: true; outcome: 'error'; error: FunctionErrorInfo; logs: CapturedLogs }
  | { settled: true; outcome: 'late'; logs: CapturedLogs };

export type { HttpRequestPayload };
