/**
 * The guest runtime: evaluated once in every new isolate, before the function's code. It installs the
 * Web APIs, timers and console, then exposes `__strato_runtime` for the host to take references to
 * (the host deletes the global before any user code runs).
 */
import type { HttpRequestPayload } from '../core/sandbox.js';
import type { HostBindings } from './host-bindings.js';
import type {
  GuestCompletionStatus,
  GuestInitConfig,
  GuestInitResult,
  GuestPayloadKind,
  GuestResponseKind,
} from './protocol.js';
import { installWebApis } from './web/install.js';
import { captureWebGlobals } from './web-globals.js';
import { createUtf8 } from './bytes.js';
import { GuestTimers } from './timers.js';
import { ConsoleCapture } from './console-capture.js';
import {
  resolveHandler,
  runHandler,
  type GuestInvocation,
  type GuestResponse,
  type ResolvedHandler,
} from './handler.js';
import { toErrorInfo } from './errors.js';
import { createGuestFetch } from './fetch.js';

const global = globalThis as unknown as Record<string, unknown>;
const host = global['__strato_host'] as HostBindings;
delete global['__strato_host'];

installWebApis(global, host);
const web = captureWebGlobals(global);
const utf8 = createUtf8(web);
const timers = new GuestTimers(host);
timers.install(global);
const capture = new ConsoleCapture(256 * 1024);
const stringify = JSON.stringify;
const parse = JSON.parse;
const complete = host.complete;

const define = (name: string, value: unknown) =>
  Object.defineProperty(global, name, { value, writable: true, configurable: true, enumerable: false });
define('console', capture.createConsole());
define('self', globalThis);
const guestFetch = createGuestFetch(
  host,
  global['Request'] as Parameters<typeof createGuestFetch>[1],
  global['Response'] as Parameters<typeof createGuestFetch>[2],
);
define('fetch', (input: unknown, init?: unknown) => guestFetch.fetch(input, init));

let config: GuestInitConfig | undefined;
let handler: ResolvedHandler | undefined;
/** Fails the running invocation; set while one runs. An exception thrown by a timer callback lands here. */
let failCurrent: ((error: unknown) => void) | undefined;

/** Runs the module wrapper the host defined as `__strato_load` and finds its handler. */
function load(configJson: string): string {
  config = parse(configJson) as GuestInitConfig;
  capture.setLimit(config.logLimitBytes);
  const loader = global['__strato_load'];
  delete global['__strato_load'];
  let result: GuestInitResult;
  try {
    if (typeof loader !== 'function') throw new TypeError('function code did not load');
    const module = { exports: {} as unknown };
    const require = (specifier: unknown) => {
      throw new Error(
        `require('${String(specifier)}') is not available: the isolate tier runs self-contained bundles (strato deploy bundles npm dependencies)`,
      );
    };
    (loader as (...args: unknown[]) => unknown).call(module.exports, module, module.exports, require);
    handler = resolveHandler(module.exports);
    result = { ok: true, handlerKind: handler.kind, logsJson: capture.takeJson() };
  } catch (error) {
    result = { ok: false, error: toErrorInfo(error), logsJson: capture.takeJson() };
  }
  return stringify(result);
}

function responseArguments(response: GuestResponse): [GuestResponseKind, string] {
  return response.kind === 'json' ? ['json', response.json] : ['http', stringify(response.response)];
}

/** Starts one invocation; the outcome arrives through `host.complete`, possibly after timers fire. */
function invoke(
  invocationId: string,
  kind: GuestPayloadKind,
  payload: string,
  deadline: number,
  traceparent: string,
): void {
  const pending: Array<Promise<unknown>> = [];
  let responded = false;
  let settled = false;
  const settle = (status: GuestCompletionStatus, responseKind: GuestResponseKind, body: string) => {
    if (settled) return;
    settled = true;
    failCurrent = undefined;
    timers.clearAll();
    guestFetch.dropAll();
    complete(invocationId, status, responseKind, body, capture.takeJson());
  };
  const fail = (error: unknown) => settle('error', '', stringify(toErrorInfo(error)));
  failCurrent = (error: unknown) => (responded ? settle('late', '', '') : fail(error));
  if (handler === undefined || config === undefined) {
    fail(new Error('instance not loaded'));
    return;
  }
  let invocation: GuestInvocation;
  try {
    invocation = {
      invocationId,
      payload:
        kind === 'event'
          ? { kind: 'event', eventJson: payload }
          : { kind: 'http', request: parse(payload) as HttpRequestPayload },
      deadline,
      traceparent,
    };
    guestFetch.setTraceparent(traceparent);
  } catch (error) {
    fail(error);
    return;
  }
  const environment = {
    config,
    web,
    utf8,
    waitUntil: (promise: unknown) => void pending.push(Promise.resolve(promise)),
  };
  runHandler(handler, invocation, environment)
    .then((response) => {
      if (settled) return;
      const [responseKind, body] = responseArguments(response);
      if (pending.length === 0) {
        settle('ok', responseKind, body);
        return;
      }
      responded = true;
      complete(invocationId, 'ok-pending', responseKind, body, capture.takeJson());
      void drain(pending).then(() => settle('late', '', ''));
    })
    .catch(fail);
}

/** Host timer callback. A throwing timer callback fails the invocation, as an uncaught exception would. */
function fireTimer(id: number): void {
  try {
    timers.fire(id);
  } catch (error) {
    failCurrent?.(error);
  }
}

/** Waits for `waitUntil` work, including work registered while waiting. */
async function drain(pending: Array<Promise<unknown>>): Promise<void> {
  while (pending.length > 0) {
    const batch = pending.splice(0, pending.length);
    await Promise.allSettled(batch);
  }
}

define('__strato_runtime', { load, invoke, fireTimer, settleFetch: guestFetch.settle });
