/**
 * Installs the Web APIs on the isolate's global object. Called once by the guest runtime before any
 * user code runs; the host bindings are kept only in module closures, never on a reachable object.
 */
import type { HostBindings } from '../host-bindings.js';
import { AbortController, AbortSignal } from './abort.js';
import { atob, btoa } from './base64.js';
import { Crypto, setRandomSource } from './crypto.js';
import { DOMException } from './dom-exception.js';
import { Event, EventTarget } from './event-target.js';
import { Headers } from './headers.js';
import { Request } from './request.js';
import { Response } from './response.js';
import { structuredClone } from './structured-clone.js';
import { TextDecoder, TextEncoder } from './text-encoding.js';
import { setUrlParser, URL } from './url.js';
import { URLSearchParams } from './url-search-params.js';

export function installWebApis(
  global: Record<string, unknown>,
  host: Pick<HostBindings, 'randomBytes' | 'parseUrl'>,
): void {
  // Copied into locals so later changes to `host` (or its prototype) cannot redirect the calls.
  const { randomBytes, parseUrl } = host;
  setRandomSource((length) => randomBytes(length));
  setUrlParser((input, base) => parseUrl(input, base));

  const globals: Record<string, unknown> = {
    AbortController,
    AbortSignal,
    atob,
    btoa,
    crypto: new Crypto(),
    DOMException,
    Event,
    EventTarget,
    Headers,
    Request,
    Response,
    structuredClone,
    TextDecoder,
    TextEncoder,
    URL,
    URLSearchParams,
  };
  for (const name of Object.keys(globals)) {
    // Like browsers' WebIDL globals: not enumerable, but writable and configurable.
    Object.defineProperty(global, name, {
      value: globals[name],
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
}
