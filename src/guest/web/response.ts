/** `Response` (Fetch standard subset), plus the static `json`, `error` and `redirect` constructors. */
import { Body, cloneBody, extractBody, setBody, type BodyInit } from './body.js';
import { freezeHeaders, Headers, type HeadersInit } from './headers.js';
import { inspectSymbol, inspectView } from './inspect-view.js';
import { JSONStringify } from './intrinsics.js';
import { URL } from './url.js';
import { utf8Encode } from './utf8.js';

export interface ResponseInit {
  status?: number;
  statusText?: string;
  headers?: HeadersInit;
}

type ResponseType = 'default' | 'error';

/** Statuses whose responses must not have a body. */
const nullBodyStatuses = [101, 103, 204, 205, 304];
const redirectStatuses = [301, 302, 303, 307, 308];

/** WebIDL `unsigned short` conversion (wraps modulo 2^16, as browsers and Node do). */
function toUnsignedShort(value: unknown): number {
  const number = Math.trunc(Number(value));
  return Number.isFinite(number) ? ((number % 65536) + 65536) % 65536 : 0;
}

let setInternals: (response: Response, status: number, type: ResponseType) => void;

export class Response extends Body {
  #status: number;
  readonly #statusText: string;
  readonly #headers: Headers;
  #type: ResponseType = 'default';

  static {
    setInternals = (response, status, type) => {
      response.#status = status;
      response.#type = type;
      freezeHeaders(response.#headers);
    };
  }

  constructor(body: BodyInit = null, init: ResponseInit = {}) {
    super();
    const status = init.status === undefined ? 200 : toUnsignedShort(init.status);
    if (status < 200 || status > 599) {
      throw new RangeError(`init["status"] must be in the range of 200 to 599, inclusive.`);
    }
    const statusText = init.statusText === undefined ? '' : String(init.statusText);
    // reason-phrase = *( HTAB / SP / VCHAR / obs-text )
    if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(statusText)) throw new TypeError('Invalid statusText');
    this.#status = status;
    this.#statusText = statusText;
    this.#headers = new Headers(init.headers);
    if (body !== null && body !== undefined) {
      if (nullBodyStatuses.includes(status)) {
        throw new TypeError(`Response constructor: Invalid response status code ${status}`);
      }
      const extracted = extractBody(body);
      if (extracted.contentType !== null && !this.#headers.has('content-type')) {
        this.#headers.set('content-type', extracted.contentType);
      }
      setBody(this, extracted);
    }
  }

  /** A network error: status 0, type "error", immutable empty headers. */
  static error(): Response {
    const response = new Response(null);
    setInternals(response, 0, 'error');
    return response;
  }

  static redirect(url: unknown, status = 302): Response {
    let location: string;
    try {
      location = new URL(url).href;
    } catch (error) {
      throw new TypeError(`Failed to parse URL from ${String(url)}`, { cause: error });
    }
    const code = toUnsignedShort(status);
    if (!redirectStatuses.includes(code)) throw new RangeError(`Invalid status code ${code}`);
    const response = new Response(null, { status: code, headers: { location } });
    setInternals(response, code, 'default');
    return response;
  }

  static json(data: unknown, init: ResponseInit = {}): Response {
    const text = JSONStringify(data) as string | undefined;
    if (text === undefined) throw new TypeError('Value is not JSON serializable');
    const headers = new Headers(init.headers);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    return new Response(utf8Encode(text), { ...init, headers });
  }

  get type(): ResponseType {
    return this.#type;
  }
  get url(): string {
    return '';
  }
  get redirected(): boolean {
    return false;
  }
  get status(): number {
    return this.#status;
  }
  get ok(): boolean {
    return this.#status >= 200 && this.#status <= 299;
  }
  get statusText(): string {
    return this.#statusText;
  }
  get headers(): Headers {
    return this.#headers;
  }

  clone(): Response {
    if (this.bodyUsed) throw new TypeError('Response.clone: Body has already been consumed.');
    const copy = new Response(null, { status: 200, statusText: this.#statusText, headers: this.#headers });
    copy.#status = this.#status;
    copy.#type = this.#type;
    if (this.#type === 'error') freezeHeaders(copy.#headers);
    cloneBody(this, copy);
    return copy;
  }

  get [Symbol.toStringTag](): string {
    return 'Response';
  }

  [inspectSymbol](): object {
    const { status, statusText, headers, body, bodyUsed, ok, redirected, type, url } = this;
    return inspectView('Response', {
      status,
      statusText,
      headers,
      body,
      bodyUsed,
      ok,
      redirected,
      type,
      url,
    });
  }
}
