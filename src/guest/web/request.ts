/**
 * `Request` (Fetch standard subset). Relative URLs are rejected: a function has no document base URL.
 * Mode, credentials, cache and the like are reported with their defaults and not acted on.
 */
import { AbortSignal, newAbortSignal } from './abort.js';
import { Body, cloneBody, extractBody, hasBody, readBodyBytes, setBody, type BodyInit } from './body.js';
import { Headers, type HeadersInit } from './headers.js';
import { inspectSymbol, inspectView } from './inspect-view.js';
import { URL } from './url.js';

export interface RequestInit {
  method?: string;
  headers?: HeadersInit;
  body?: BodyInit;
  signal?: AbortSignal | null;
  redirect?: string;
  [option: string]: unknown;
}

const tokenPattern = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** The methods the standard upper-cases; anything else (e.g. `patch`) keeps its case. */
const normalizedMethods = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'];
const forbiddenMethods = ['CONNECT', 'TRACE', 'TRACK'];
const redirectModes = ['follow', 'error', 'manual'];

function normalizeMethod(method: unknown): string {
  const text = String(method);
  if (!tokenPattern.test(text)) throw new TypeError(`'${text}' is not a valid HTTP method.`);
  const upper = text.toUpperCase();
  if (forbiddenMethods.includes(upper)) throw new TypeError(`'${text}' HTTP method is unsupported.`);
  return normalizedMethods.includes(upper) ? upper : text;
}

/** The URL string of a Request's input (a string, a URL, or anything with a useful toString). */
function urlString(input: unknown): string {
  return input instanceof URL ? input.href : String(input);
}

function parseRequestUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch (error) {
    throw new TypeError(`Failed to parse URL from ${input}`, { cause: error });
  }
  if (url.username !== '' || url.password !== '') {
    throw new TypeError(`Request cannot be constructed from a URL that includes credentials: ${input}`);
  }
  return url.href;
}

/** A signal that aborts when `parent` does (each Request owns its own signal). */
function followingSignal(parent: AbortSignal | null | undefined): AbortSignal {
  if (parent === null || parent === undefined) return newAbortSignal();
  if (!(parent instanceof AbortSignal))
    throw new TypeError('Failed to construct Request: signal is not an AbortSignal');
  return AbortSignal.any([parent]);
}

export class Request extends Body {
  readonly #method: string;
  readonly #url: string;
  readonly #headers: Headers;
  readonly #signal: AbortSignal;
  readonly #redirect: string;

  constructor(input: Request | URL | string, init: RequestInit = {}) {
    super();
    if (arguments.length === 0) throw new TypeError('The "input" argument must be specified');
    const source = input instanceof Request ? input : undefined;
    this.#url = source ? source.url : parseRequestUrl(urlString(input));
    this.#method = init.method !== undefined ? normalizeMethod(init.method) : (source?.method ?? 'GET');
    this.#headers = new Headers(init.headers ?? source?.headers);
    this.#signal = followingSignal(init.signal !== undefined ? init.signal : source?.signal);
    const redirect = init.redirect ?? source?.redirect ?? 'follow';
    if (!redirectModes.includes(redirect)) throw new TypeError(`'${redirect}' is not a valid redirect mode.`);
    this.#redirect = redirect;

    const noBodyMethod = this.#method === 'GET' || this.#method === 'HEAD';
    if (init.body !== undefined && init.body !== null) {
      if (noBodyMethod) throw new TypeError('Request with GET/HEAD method cannot have body.');
      const body = extractBody(init.body);
      if (body.contentType !== null && !this.#headers.has('content-type')) {
        this.#headers.set('content-type', body.contentType);
      }
      setBody(this, body);
    } else if (init.body === undefined && source && hasBody(source)) {
      if (noBodyMethod) throw new TypeError('Request with GET/HEAD method cannot have body.');
      if (source.bodyUsed) {
        throw new TypeError('Cannot construct a Request with a Request object that has already been used.');
      }
      // The body moves to the new request; the source becomes used, as the standard says.
      setBody(this, { bytes: readBodyBytes(source), contentType: null });
    }
  }

  get method(): string {
    return this.#method;
  }
  get url(): string {
    return this.#url;
  }
  get headers(): Headers {
    return this.#headers;
  }
  get signal(): AbortSignal {
    return this.#signal;
  }
  get redirect(): string {
    return this.#redirect;
  }
  get cache(): string {
    return 'default';
  }
  get credentials(): string {
    return 'same-origin';
  }
  get destination(): string {
    return '';
  }
  get integrity(): string {
    return '';
  }
  get keepalive(): boolean {
    return false;
  }
  get mode(): string {
    return 'cors';
  }
  get referrer(): string {
    return 'about:client';
  }
  get referrerPolicy(): string {
    return '';
  }
  get duplex(): string {
    return 'half';
  }

  clone(): Request {
    if (this.bodyUsed) throw new TypeError('Request.clone: Body has already been consumed.');
    const copy = new Request(this.#url, {
      method: this.#method,
      headers: this.#headers,
      signal: this.#signal,
      redirect: this.#redirect,
    });
    cloneBody(this, copy);
    return copy;
  }

  get [Symbol.toStringTag](): string {
    return 'Request';
  }

  [inspectSymbol](): object {
    const { method, url, headers, redirect, signal, body, bodyUsed } = this;
    return inspectView('Request', {
      method,
      url,
      headers,
      destination: '',
      referrer: 'about:client',
      redirect,
      signal,
      body,
      bodyUsed,
    });
  }
}
