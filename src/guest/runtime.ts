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
import { GuestCalls, type GuestCall } from './guest-calls.js';

const global = globalThis as unknown as Record<string, unknown>;
const host = global['__strato_host'] as HostBindings;
delete global['__strato_host'];

installWebApis(global, host);
const web = captureWebGlobals(global);
const utf8 = createUtf8(web);
const calls = new GuestCalls();
const timers = new GuestTimers(host, () => calls.active);
timers.install(global);
const capture = new ConsoleCapture(256 * 1024, () => calls.active?.logs);
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
  () => calls.active,
);
define('fetch', (input: unknown, init?: unknown) => guestFetch.fetch(input, init));

let config: GuestInitConfig | undefined;
let handler: ResolvedHandler | undefined;

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

/** The invocation is over for the isolate: its timers and fetches go, and, with the last one, all timers. */
function release(call: GuestCall): void {
  calls.end(call);
  timers.clearOwnedBy(call);
  guestFetch.dropOwnedBy(call);
  if (calls.liveCount === 0) timers.clearAll();
}

/**
 * Starts one invocation; the outcome arrives through `host.complete`, possibly after timers fire. Several
 * may run at once (an instance with `instanceConcurrency` > 1): each has its own logs, timers and fetches.
 */
function invoke(
  invocationId: string,
  kind: GuestPayloadKind,
  payload: string,
  deadline: number,
  traceparent: string,
): void {
  const pending: Array<Promise<unknown>> = [];
  let responded = false;
  const settle = (status: GuestCompletionStatus, responseKind: GuestResponseKind, body: string) => {
    if (call.settled) return;
    release(call);
    complete(invocationId, status, responseKind, body, capture.takeJsonOf(call.logs));
  };
  const fail = (error: unknown) => settle('error', '', stringify(toErrorInfo(error)));
  // An exception thrown by one of its timer callbacks fails it, as an uncaught exception would.
  const call = GuestCalls.newCall(invocationId, traceparent, config?.logLimitBytes ?? 256 * 1024, (error) =>
    responded ? settle('late', '', '') : fail(error),
  );
  calls.begin(call);
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
      if (call.settled) return;
      const [responseKind, body] = responseArguments(response);
      if (pending.length === 0) {
        settle('ok', responseKind, body);
        return;
      }
      responded = true;
      complete(invocationId, 'ok-pending', responseKind, body, capture.takeJsonOf(call.logs));
      void drain(pending).then(() => settle('late', '', ''));
    })
    .catch(fail);
}

/** Host timer callback. A throwing timer callback fails its invocation, as an uncaught exception would. */
function fireTimer(id: number): void {
  const owner = timers.ownerOf(id);
  calls.enter(owner);
  try {
    timers.fire(id);
  } catch (error) {
    if (owner !== undefined && !owner.settled) owner.fail(error);
  }
}

/** Host answer to a fetch: what it resumes works for the invocation that asked. */
function settleFetch(...args: Parameters<typeof guestFetch.settle>): void {
  calls.enter(guestFetch.ownerOf(args[0]));
  guestFetch.settle(...args);
}

/**
 * The host gave up on an invocation (its deadline passed while the isolate was free, on an instance that
 * serves several): it is forgotten as if it had settled, and whatever it still does is reported nowhere.
 */
function abandon(invocationId: string): void {
  const call = calls.get(invocationId);
  if (call !== undefined) release(call);
}

/** Waits for `waitUntil` work, including work registered while waiting. */
async function drain(pending: Array<Promise<unknown>>): Promise<void> {
  while (pending.length > 0) {
    const batch = pending.splice(0, pending.length);
    await Promise.allSettled(batch);
  }
}

define('__strato_runtime', { load, invoke, fireTimer, settleFetch, abandon });
