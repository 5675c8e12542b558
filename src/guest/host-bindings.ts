import type { GuestCompletionStatus, GuestResponseKind } from './protocol.js';

/**
 * The functions the host puts on `globalThis.__strato_host` before the guest runtime runs. The runtime
 * captures them in closures and deletes the global, so user code never sees them. Every argument and
 * return value is copied across the isolate boundary (isolated-vm `Callback`): only primitives, plain
 * objects and ArrayBuffers cross, never a host reference.
 */
export interface HostBindings {
  /** Arms host timer `id`; when it fires the host calls the runtime's `fireTimer(id)`. */
  setTimer(id: number, delayMs: number): void;
  clearTimer(id: number): void;
  /** `length` cryptographically random bytes (length <= 65536). */
  randomBytes(length: number): ArrayBuffer;
  /** WHATWG URL parsing by the host's URL implementation; null when the input is not a valid URL. */
  parseUrl(input: string, base: string | undefined): UrlRecord | null;
  /**
   * Starts outbound request `id` (the guest's `fetch`); the host answers with the runtime's
   * `settleFetch(id, ...)`. `headersJson` is JSON of [name, value] pairs, `bodyBase64` '' for no body.
   */
  startFetch(id: number, method: string, url: string, headersJson: string, bodyBase64: string): void;
  /** Aborts outbound request `id` (its invocation ended); its `settleFetch` never comes. */
  abortFetch(id: number): void;
  /** Hands an invocation's outcome to the host (see GuestCompletionStatus for the arguments). */
  complete(
    this: void,
    invocationId: string,
    status: GuestCompletionStatus,
    responseKind: GuestResponseKind,
    body: string,
    logsJson: string,
  ): void;
}

/**
 * The runtime's `settleFetch`, which the host calls with the answer to `startFetch(id, ...)`: `error` is ''
 * on success (then `bodyBase64` is '' for no body), else why the request failed.
 */
export type GuestSettleFetch = (
  id: number,
  status: number,
  statusText: string,
  headersJson: string,
  bodyBase64: string,
  error: string,
) => void;

/** The components of a parsed URL, as WHATWG URL getters return them. */
export interface UrlRecord {
  href: string;
  origin: string;
  protocol: string;
  username: string;
  password: string;
  host: string;
  hostname: string;
  port: string;
  pathname: string;
  search: string;
  hash: string;
}
