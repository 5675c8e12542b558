/**
 * The Fetch "Body" mixin shared by Request and Response. Bodies are always fully buffered bytes
 * (no streaming source exists inside the isolate), so `text()`/`json()`/... resolve at once and the
 * runtime can take the bytes synchronously with `readBodyBytes`.
 */
import { BodyStream, takeStreamBytes } from './body-stream.js';
import { copyBytes, isArrayBuffer, ArrayBufferIsView, JSONParse } from './intrinsics.js';
import { utf8Decode, utf8Encode } from './utf8.js';
import { URLSearchParams } from './url-search-params.js';

export type BodyInit = string | ArrayBuffer | ArrayBufferView | URLSearchParams | BodyStream | null;

export interface ExtractedBody {
  bytes: Uint8Array;
  /** The Content-Type the body type implies, set when the headers have none. */
  contentType: string | null;
}

/** The standard's "extract a body"; anything else is converted to a string, as WebIDL does. */
export function extractBody(init: unknown): ExtractedBody {
  if (typeof init === 'string') return { bytes: utf8Encode(init), contentType: 'text/plain;charset=UTF-8' };
  if (isArrayBuffer(init) || ArrayBufferIsView(init)) return { bytes: copyBytes(init), contentType: null };
  if (init instanceof URLSearchParams) {
    return {
      bytes: utf8Encode(init.toString()),
      contentType: 'application/x-www-form-urlencoded;charset=UTF-8',
    };
  }
  if (init instanceof BodyStream) return { bytes: takeStreamBytes(init), contentType: null };
  return { bytes: utf8Encode(String(init)), contentType: 'text/plain;charset=UTF-8' };
}

/**
 * The body bytes of a Request or Response, for the runtime to send to the host. Marks the body used
 * (a second read throws TypeError, as `text()` would reject). Returns the internal bytes, not a
 * copy: callers must not modify them. A null body gives an empty array.
 */
export let readBodyBytes: (message: Body) => Uint8Array;
/** Whether the message has a body at all (null body vs empty body). */
export let hasBody: (message: Body) => boolean;
/** Sets the body of a freshly constructed Request/Response. */
export let setBody: (message: Body, body: ExtractedBody | null) => void;
/** Shares `from`'s bytes with `to` (clone); bytes are never mutated in place, so sharing is safe. */
export let cloneBody: (from: Body, to: Body) => void;

export abstract class Body {
  #bytes: Uint8Array | null = null;
  #used = false;
  #stream: BodyStream | null = null;

  static {
    const consume = (message: Body): Uint8Array => {
      if (message.#used) throw new TypeError('Body is unusable: Body has already been read');
      message.#used = true;
      return message.#bytes ?? new Uint8Array(0);
    };
    readBodyBytes = consume;
    hasBody = (message) => message.#bytes !== null;
    setBody = (message, body) => {
      message.#bytes = body === null ? null : body.bytes;
    };
    cloneBody = (from, to) => {
      if (from.#used) throw new TypeError('Body has already been consumed.');
      to.#bytes = from.#bytes;
    };
  }

  /** A minimal ReadableStream-like view of the body (see body-stream.ts), or null without a body. */
  get body(): BodyStream | null {
    if (this.#bytes === null) return null;
    this.#stream ??= new BodyStream(
      () => readBodyBytes(this),
      () => this.#used,
    );
    return this.#stream;
  }

  get bodyUsed(): boolean {
    return this.#used;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return (await this.bytes()).buffer as ArrayBuffer;
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so a used body rejects, not throws
  async bytes(): Promise<Uint8Array> {
    return copyBytes(readBodyBytes(this));
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- as above
  async text(): Promise<string> {
    const text = utf8Decode(readBodyBytes(this), false);
    // "UTF-8 decode" strips a leading BOM.
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }

  async json(): Promise<unknown> {
    return JSONParse(await this.text()) as unknown;
  }
}
