/**
 * A minimal `DOMException`: an Error subclass with the WebIDL `name` / `code` pair. Errors that
 * browsers and Node raise as DOMExceptions (`InvalidCharacterError`, `DataCloneError`, `AbortError`...)
 * are raised as this class so user code that checks `err.name` behaves the same here.
 */
const legacyCodes: Readonly<Record<string, number>> = {
  IndexSizeError: 1,
  HierarchyRequestError: 3,
  WrongDocumentError: 4,
  InvalidCharacterError: 5,
  NoModificationAllowedError: 7,
  NotFoundError: 8,
  NotSupportedError: 9,
  InvalidStateError: 11,
  SyntaxError: 12,
  InvalidModificationError: 13,
  NamespaceError: 14,
  InvalidAccessError: 15,
  TypeMismatchError: 17,
  SecurityError: 18,
  NetworkError: 19,
  AbortError: 20,
  URLMismatchError: 21,
  QuotaExceededError: 22,
  TimeoutError: 23,
  InvalidNodeTypeError: 24,
  DataCloneError: 25,
};

export class DOMException extends Error {
  readonly #name: string;

  constructor(message = '', options: string | { name?: string; cause?: unknown } = 'Error') {
    const name = typeof options === 'string' ? options : String(options.name ?? 'Error');
    super(String(message), typeof options === 'object' && 'cause' in options ? { cause: options.cause } : {});
    this.#name = name;
  }

  // Browsers and Node expose these as prototype getters, not own properties.
  override get name(): string {
    return this.#name;
  }

  get code(): number {
    return Object.prototype.hasOwnProperty.call(legacyCodes, this.#name) ? (legacyCodes[this.#name] ?? 0) : 0;
  }

  get [Symbol.toStringTag](): string {
    return 'DOMException';
  }
}

/** Code-to-constant table (`DOMException.ABORT_ERR` ...), kept for code that compares `err.code`. */
const constants: Readonly<Record<string, number>> = {
  INDEX_SIZE_ERR: 1,
  INVALID_CHARACTER_ERR: 5,
  NOT_FOUND_ERR: 8,
  NOT_SUPPORTED_ERR: 9,
  INVALID_STATE_ERR: 11,
  SYNTAX_ERR: 12,
  SECURITY_ERR: 18,
  NETWORK_ERR: 19,
  ABORT_ERR: 20,
  QUOTA_EXCEEDED_ERR: 22,
  TIMEOUT_ERR: 23,
  DATA_CLONE_ERR: 25,
};
for (const [key, value] of Object.entries(constants)) {
  const descriptor = { value, enumerable: true, writable: false, configurable: false };
  Object.defineProperty(DOMException, key, descriptor);
  Object.defineProperty(DOMException.prototype, key, descriptor);
}
