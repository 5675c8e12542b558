/**
 * The guest's `fetch`: the request is built and buffered here, performed by the isolate host
 * (`host.startFetch`), and its response comes back through the runtime's `settleFetch`. Outbound
 * requests carry the invocation's trace: a `traceparent` with its trace id and a fresh span id as the
 * parent, unless the function set one itself. Only primitives cross the isolate boundary (bodies as
 * base64, headers as JSON), as for every other host binding.
 */
import type { GuestSettleFetch, HostBindings } from './host-bindings.js';
import { base64ToBytes, bytesToBase64 } from './bytes.js';

interface RequestLike {
  method: string;
  url: string;
  headers: { has(name: string): boolean; set(name: string, value: string): void } & Iterable<
    [string, string]
  >;
  arrayBuffer(): Promise<ArrayBuffer>;
}

type RequestConstructor = new (input: unknown, init?: unknown) => RequestLike;
type ResponseConstructor = new (
  body: Uint8Array | null,
  init: { status: number; statusText: string; headers: Array<[string, string]> },
) => unknown;

interface PendingFetch {
  resolve(response: unknown): void;
  reject(error: unknown): void;
}

export interface GuestFetch {
  fetch(input: unknown, init?: unknown): Promise<unknown>;
  /** The host's answer (see GuestSettleFetch). */
  settle: GuestSettleFetch;
  /** The invocation ended: its requests are forgotten (the host aborts them), as its timers are. */
  dropAll(): void;
  /** The current invocation's traceparent ('' when none). */
  setTraceparent(traceparent: string): void;
}

export function createGuestFetch(
  host: Pick<HostBindings, 'startFetch' | 'randomBytes'>,
  Request: RequestConstructor,
  Response: ResponseConstructor,
): GuestFetch {
  const pending = new Map<number, PendingFetch>();
  let nextId = 1;
  let traceparent = '';
  const parse = JSON.parse;
  const stringify = JSON.stringify;

  /** The outbound call is a child of the invocation's span: same trace, a span id of its own. */
  function childTraceparent(): string {
    const bytes = new Uint8Array(host.randomBytes(8));
    let spanId = '';
    for (const byte of bytes) spanId += (byte < 16 ? '0' : '') + byte.toString(16);
    if (spanId === '0000000000000000') spanId = '0000000000000001';
    return `${traceparent.slice(0, 36)}${spanId}${traceparent.slice(52)}`;
  }

  async function fetch(input: unknown, init?: unknown): Promise<unknown> {
    const request = new Request(input, init);
    if (traceparent !== '' && !request.headers.has('traceparent')) {
      request.headers.set('traceparent', childTraceparent());
    }
    const headers: Array<[string, string]> = [];
    for (const [name, value] of request.headers) headers.push([name, value]);
    const body = new Uint8Array(await request.arrayBuffer());
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      try {
        host.startFetch(
          id,
          request.method,
          request.url,
          stringify(headers),
          body.length === 0 ? '' : bytesToBase64(body),
        );
      } catch (error) {
        pending.delete(id);
        reject(error instanceof Error ? error : new TypeError(String(error)));
      }
    });
  }

  const settle: GuestSettleFetch = (id, status, statusText, headersJson, bodyBase64, error) => {
    const waiting = pending.get(id);
    if (waiting === undefined) return;
    pending.delete(id);
    if (error !== '') {
      waiting.reject(new TypeError(`fetch failed: ${error}`));
      return;
    }
    try {
      // A null-body status (204, 304, ...) must be built without a body.
      const body = bodyBase64 === '' ? null : base64ToBytes(bodyBase64);
      waiting.resolve(
        new Response(body, { status, statusText, headers: parse(headersJson) as Array<[string, string]> }),
      );
    } catch (cause) {
      waiting.reject(cause);
    }
  };

  return {
    fetch,
    settle,
    dropAll: () => pending.clear(),
    setTraceparent: (value) => {
      traceparent = value;
    },
  };
}
