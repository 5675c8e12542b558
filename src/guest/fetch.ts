/**
 * The guest's `fetch`: the request is built and buffered here, performed by the isolate host
 * (`host.startFetch`), and its response comes back through the runtime's `settleFetch`. Outbound
 * requests carry the invocation's trace: a `traceparent` with its trace id and a fresh span id as the
 * parent, unless the function set one itself. Only primitives cross the isolate boundary (bodies as
 * base64, headers as JSON), as for every other host binding.
 */
import type { GuestCall } from './guest-calls.js';
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
  /** The invocation that asked; undefined outside one. */
  owner: GuestCall | undefined;
}

export interface GuestFetch {
  fetch(input: unknown, init?: unknown): Promise<unknown>;
  /** The host's answer (see GuestSettleFetch). */
  settle: GuestSettleFetch;
  /** Whose request `id` is, for attributing what its answer resumes. */
  ownerOf(id: number): GuestCall | undefined;
  /** The invocation ended: its requests are forgotten and aborted, as its timers are cleared. */
  dropOwnedBy(owner: GuestCall): void;
}

export function createGuestFetch(
  host: Pick<HostBindings, 'startFetch' | 'abortFetch' | 'randomBytes'>,
  Request: RequestConstructor,
  Response: ResponseConstructor,
  currentOwner: () => GuestCall | undefined = () => undefined,
): GuestFetch {
  const pending = new Map<number, PendingFetch>();
  let nextId = 1;
  const parse = JSON.parse;
  const stringify = JSON.stringify;

  /** The outbound call is a child of the invocation's span: same trace, a span id of its own. */
  function childTraceparent(traceparent: string): string {
    const bytes = new Uint8Array(host.randomBytes(8));
    let spanId = '';
    for (const byte of bytes) spanId += (byte < 16 ? '0' : '') + byte.toString(16);
    if (spanId === '0000000000000000') spanId = '0000000000000001';
    return `${traceparent.slice(0, 36)}${spanId}${traceparent.slice(52)}`;
  }

  async function fetch(input: unknown, init?: unknown): Promise<unknown> {
    // Taken before the first await: the caller's invocation, whatever runs by the time the body is read.
    const owner = currentOwner();
    const traceparent = owner?.traceparent ?? '';
    const request = new Request(input, init);
    if (traceparent !== '' && !request.headers.has('traceparent')) {
      request.headers.set('traceparent', childTraceparent(traceparent));
    }
    const headers: Array<[string, string]> = [];
    for (const [name, value] of request.headers) headers.push([name, value]);
    const body = new Uint8Array(await request.arrayBuffer());
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject, owner });
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
    ownerOf: (id) => pending.get(id)?.owner,
    dropOwnedBy: (owner) => {
      for (const [id, waiting] of pending) {
        if (waiting.owner !== owner) continue;
        pending.delete(id);
        host.abortFetch(id);
      }
    },
  };
}
