/**
 * What `request.body` / `response.body` return: not a real ReadableStream (the isolate has no streams),
 * but the subset code commonly touches: `getReader().read()`, `for await`, `cancel()`, `locked`.
 * The whole body arrives as one chunk; reading it marks the owner's body used. It can also be passed
 * back as a body (`new Response(other.body)`), which moves the bytes.
 */
type ReadResult = { done: true; value: undefined } | { done: false; value: Uint8Array };

/** All remaining bytes of a stream, for moving it into a new Request/Response (marks it read). */
export let takeStreamBytes: (stream: BodyStream) => Uint8Array;

export class BodyStream {
  /** Takes the owner's bytes, marking the owner's body used. */
  readonly #take: () => Uint8Array;
  readonly #isUsed: () => boolean;
  #locked = false;
  #done = false;

  static {
    takeStreamBytes = (stream) => {
      if (stream.#locked || stream.#isUsed())
        throw new TypeError('Body is unusable: Body has already been read');
      stream.#done = true;
      return stream.#take();
    };
  }

  constructor(take: () => Uint8Array, isUsed: () => boolean) {
    this.#take = take;
    this.#isUsed = isUsed;
  }

  get locked(): boolean {
    return this.#locked;
  }

  getReader(): {
    read(): Promise<ReadResult>;
    releaseLock(): void;
    cancel(): Promise<void>;
    readonly closed: Promise<void>;
  } {
    if (this.#locked) throw new TypeError('ReadableStream is locked');
    this.#locked = true;
    const read = (): Promise<ReadResult> => {
      try {
        return Promise.resolve(this.#next());
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new TypeError(String(error)));
      }
    };
    return {
      read,
      releaseLock: () => {
        this.#locked = false;
      },
      cancel: () => this.cancel(true),
      closed: Promise.resolve(),
    };
  }

  cancel(fromReader = false): Promise<void> {
    if (this.#locked && !fromReader) return Promise.reject(new TypeError('ReadableStream is locked'));
    if (!this.#done && !this.#isUsed()) this.#take();
    this.#done = true;
    return Promise.resolve();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    const reader = this.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  }

  #next(): ReadResult {
    if (this.#done) return { done: true, value: undefined };
    this.#done = true;
    const bytes = this.#take();
    // Copy: the owner's bytes may be shared with clones.
    return bytes.length === 0 ? { done: true, value: undefined } : { done: false, value: bytes.slice() };
  }

  get [Symbol.toStringTag](): string {
    return 'ReadableStream';
  }
}
