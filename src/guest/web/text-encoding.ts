/** `TextEncoder` and `TextDecoder`, UTF-8 only (the only encoding `TextEncoder` has anyway). */
import { ArrayBufferIsView, isArrayBuffer, StringPrototypeCharCodeAt, viewBytes } from './intrinsics.js';
import { utf8Decode, utf8Encode, utf8EncodeInto, type Utf8DecoderState } from './utf8.js';

export class TextEncoder {
  get encoding(): string {
    return 'utf-8';
  }

  encode(input: unknown = ''): Uint8Array {
    return utf8Encode(String(input));
  }

  encodeInto(source: unknown, destination: Uint8Array): { read: number; written: number } {
    if (!(destination instanceof Uint8Array)) {
      throw new TypeError("Failed to execute 'encodeInto' on 'TextEncoder': parameter 2 is not a Uint8Array");
    }
    return utf8EncodeInto(String(source), destination);
  }

  get [Symbol.toStringTag](): string {
    return 'TextEncoder';
  }
}

/** The labels the Encoding standard maps to UTF-8. */
const utf8Labels = [
  'unicode-1-1-utf-8',
  'unicode11utf8',
  'unicode20utf8',
  'utf-8',
  'utf8',
  'x-unicode20utf8',
];

export interface TextDecoderOptions {
  fatal?: boolean;
  ignoreBOM?: boolean;
}

export class TextDecoder {
  readonly #fatal: boolean;
  readonly #ignoreBOM: boolean;
  #state: Utf8DecoderState = { pending: [] };
  /** Whether the BOM check still applies (only at the start of a stream). */
  #atStart = true;

  constructor(label: unknown = 'utf-8', options: TextDecoderOptions = {}) {
    const normalized = String(label).trim().toLowerCase();
    if (!utf8Labels.includes(normalized)) {
      throw new RangeError(`The "${String(label)}" encoding is not supported`);
    }
    this.#fatal = Boolean(options.fatal);
    this.#ignoreBOM = Boolean(options.ignoreBOM);
  }

  get encoding(): string {
    return 'utf-8';
  }

  get fatal(): boolean {
    return this.#fatal;
  }

  get ignoreBOM(): boolean {
    return this.#ignoreBOM;
  }

  decode(input?: ArrayBuffer | ArrayBufferView | null, options: { stream?: boolean } = {}): string {
    let bytes: Uint8Array;
    if (input === undefined || input === null) bytes = new Uint8Array(0);
    else if (isArrayBuffer(input) || ArrayBufferIsView(input)) bytes = viewBytes(input);
    else {
      throw new TypeError('The "input" argument must be an instance of ArrayBuffer or ArrayBufferView.');
    }
    const stream = Boolean(options.stream);
    let text: string;
    try {
      text = utf8Decode(bytes, this.#fatal, this.#state);
      const pending = this.#state.pending;
      if (!stream && pending.length > 0) {
        // A sequence still open at the end of the stream is truncated: decode it without state
        // so it becomes U+FFFD (or throws when fatal).
        text += utf8Decode(new Uint8Array(pending), this.#fatal);
      }
    } catch (error) {
      this.#reset();
      throw error;
    }
    if (this.#atStart && text.length > 0) {
      if (!this.#ignoreBOM && StringPrototypeCharCodeAt(text, 0) === 0xfeff) text = text.slice(1);
      this.#atStart = false;
    }
    if (!stream) this.#reset();
    return text;
  }

  #reset(): void {
    this.#state = { pending: [] };
    this.#atStart = true;
  }

  get [Symbol.toStringTag](): string {
    return 'TextDecoder';
  }
}
