/**
 * `Headers` (Fetch standard): names compared case-insensitively, values of one name combined with
 * ', ' except `set-cookie`, iteration sorted by lowercase name. A guard makes the headers of
 * `Response.error()` / `Response.redirect()` immutable.
 */
import { inspectSymbol, inspectView } from './inspect-view.js';

export type HeadersInit = Headers | Iterable<Iterable<string>> | Record<string, string>;

/** RFC 9110 token characters. */
const tokenPattern = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Leading and trailing HTTP whitespace (tab, LF, CR, space), stripped from values. */
const surroundingWhitespace = /^[\t\n\r ]+|[\t\n\r ]+$/g;

function normalizeName(name: unknown, method: string): string {
  const text = toByteString(name);
  if (!tokenPattern.test(text))
    throw new TypeError(`Headers.${method}: "${text}" is an invalid header name.`);
  return text.toLowerCase();
}

function normalizeValue(value: unknown, method: string): string {
  const text = toByteString(value).replace(surroundingWhitespace, '');
  if (/[\0\r\n]/.test(text)) throw new TypeError(`Headers.${method}: "${text}" is an invalid header value.`);
  return text;
}

/** WebIDL ByteString: every code unit must fit in a byte. */
function toByteString(value: unknown): string {
  const text = String(value);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) {
      throw new TypeError(
        `Cannot convert argument to a ByteString because the character at index ${i} has a value of ${code} which is greater than 255.`,
      );
    }
  }
  return text;
}

/** Lets Request/Response make their headers immutable (needs `#` access). */
export let freezeHeaders: (headers: Headers) => void;

export class Headers {
  /** [lowercase name, value] in insertion order. */
  #list: Array<[string, string]> = [];
  #immutable = false;
  /** The sorted-and-combined view iteration uses, rebuilt after a mutation. */
  #sorted: Array<[string, string]> | undefined;

  static {
    freezeHeaders = (headers) => {
      headers.#immutable = true;
    };
  }

  constructor(init?: HeadersInit) {
    if (init === undefined || init === null) {
      if (init === null) throw new TypeError('Headers constructor: init must be an object');
      return;
    }
    if (typeof init !== 'object' && typeof init !== 'function') {
      throw new TypeError('Headers constructor: init must be an object');
    }
    if (#list in init) {
      this.#list = init.#list.map(([name, value]) => [name, value]);
    } else if (typeof (init as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function') {
      for (const pair of init as Iterable<Iterable<string>>) {
        if (typeof pair !== 'object' || pair === null || typeof pair[Symbol.iterator] !== 'function') {
          throw new TypeError('Headers constructor: expected name/value pair to be an iterable');
        }
        const items = [...pair];
        if (items.length !== 2) {
          throw new TypeError(
            `Headers constructor: expected name/value pair to be length 2, found ${items.length}.`,
          );
        }
        this.append(items[0] as string, items[1] as string);
      }
    } else {
      for (const key of Reflect.ownKeys(init)) {
        if (typeof key === 'string' && Reflect.getOwnPropertyDescriptor(init, key)?.enumerable) {
          this.append(key, (init as Record<string, string>)[key] as string);
        }
      }
    }
  }

  append(name: string, value: string): void {
    const key = normalizeName(name, 'append');
    const text = normalizeValue(value, 'append');
    this.#checkMutable();
    this.#list.push([key, text]);
    this.#sorted = undefined;
  }

  delete(name: string): void {
    const key = normalizeName(name, 'delete');
    this.#checkMutable();
    this.#list = this.#list.filter(([n]) => n !== key);
    this.#sorted = undefined;
  }

  get(name: string): string | null {
    const key = normalizeName(name, 'get');
    const values = this.#list.filter(([n]) => n === key).map(([, v]) => v);
    return values.length === 0 ? null : values.join(', ');
  }

  getSetCookie(): string[] {
    return this.#list.filter(([n]) => n === 'set-cookie').map(([, v]) => v);
  }

  has(name: string): boolean {
    const key = normalizeName(name, 'has');
    return this.#list.some(([n]) => n === key);
  }

  set(name: string, value: string): void {
    const key = normalizeName(name, 'set');
    const text = normalizeValue(value, 'set');
    this.#checkMutable();
    const index = this.#list.findIndex(([n]) => n === key);
    if (index === -1) this.#list.push([key, text]);
    else {
      this.#list[index] = [key, text];
      this.#list = this.#list.filter(([n], i) => n !== key || i <= index);
    }
    this.#sorted = undefined;
  }

  forEach(callback: (value: string, name: string, headers: Headers) => void, thisArg?: unknown): void {
    if (typeof callback !== 'function') throw new TypeError('Headers.forEach: callback must be a function');
    for (const [name, value] of this) callback.call(thisArg, value, name, this);
  }

  /** Live like the standard's pair iterator: each step reads the current sorted list. */
  *entries(): IterableIterator<[string, string]> {
    for (let i = 0; i < this.#sortedList().length; i++) {
      const [name, value] = this.#sortedList()[i] as [string, string];
      yield [name, value];
    }
  }

  *keys(): IterableIterator<string> {
    for (const [name] of this.entries()) yield name;
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  get [Symbol.toStringTag](): string {
    return 'Headers';
  }

  [inspectSymbol](): object {
    const fields: Record<string, string> = {};
    for (const [name, value] of this)
      fields[name] = fields[name] === undefined ? value : `${fields[name]}, ${value}`;
    return inspectView('Headers', fields);
  }

  #checkMutable(): void {
    if (this.#immutable) throw new TypeError('Headers are immutable');
  }

  #sortedList(): Array<[string, string]> {
    if (this.#sorted === undefined) {
      const names = [...new Set(this.#list.map(([n]) => n))].sort();
      const sorted: Array<[string, string]> = [];
      for (const name of names) {
        if (name === 'set-cookie') for (const value of this.getSetCookie()) sorted.push([name, value]);
        else sorted.push([name, this.get(name) as string]);
      }
      this.#sorted = sorted;
    }
    return this.#sorted;
  }
}
