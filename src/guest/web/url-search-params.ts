/**
 * `URLSearchParams` in pure JS. When it belongs to a URL (`url.searchParams`), every mutation writes
 * the serialized list back to that URL and the URL resets the list when its `search` changes.
 */
import { formEncode, parseFormUrlencoded, toUSVString } from './percent-encoding.js';

type ParamsInit = string | Record<string, string> | Iterable<Iterable<string>> | URLSearchParams;

/** Lets `URL` link itself to its params; assigned in the class's static block (needs `#` access). */
export let linkToUrl: (params: URLSearchParams, onUpdate: (query: string) => void) => void;
/** Lets `URL` reset the list after its query changed. */
export let resetFromQuery: (params: URLSearchParams, query: string) => void;

export class URLSearchParams {
  #list: Array<[string, string]> = [];
  #onUpdate: ((query: string) => void) | undefined;

  static {
    linkToUrl = (params, onUpdate) => {
      params.#onUpdate = onUpdate;
    };
    resetFromQuery = (params, query) => {
      params.#list = parseFormUrlencoded(query);
    };
  }

  constructor(init: ParamsInit = '') {
    if (typeof init === 'object' && init !== null) {
      if (#list in init) {
        this.#list = init.#list.map(([name, value]) => [name, value]);
      } else if (typeof (init as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function') {
        for (const pair of init as Iterable<Iterable<string>>) {
          if (typeof pair !== 'object' || pair === null || typeof pair[Symbol.iterator] !== 'function') {
            throw new TypeError('Each query pair must be an iterable [name, value] tuple');
          }
          const items = [...pair];
          if (items.length !== 2)
            throw new TypeError('Each query pair must be an iterable [name, value] tuple');
          this.#list.push([toUSVString(items[0]), toUSVString(items[1])]);
        }
      } else {
        for (const key of Reflect.ownKeys(init)) {
          const descriptor = Reflect.getOwnPropertyDescriptor(init, key);
          if (typeof key === 'string' && descriptor?.enumerable) {
            this.#list.push([toUSVString(key), toUSVString((init as Record<string, unknown>)[key])]);
          }
        }
      }
    } else {
      const query = toUSVString(init);
      this.#list = parseFormUrlencoded(query.startsWith('?') ? query.slice(1) : query);
    }
  }

  get size(): number {
    return this.#list.length;
  }

  append(name: string, value: string): void {
    this.#list.push([toUSVString(name), toUSVString(value)]);
    this.#update();
  }

  delete(name: string, value?: string): void {
    const key = toUSVString(name);
    const match = value === undefined ? undefined : toUSVString(value);
    this.#list = this.#list.filter(([n, v]) => n !== key || (match !== undefined && v !== match));
    this.#update();
  }

  get(name: string): string | null {
    const key = toUSVString(name);
    const entry = this.#list.find(([n]) => n === key);
    return entry ? entry[1] : null;
  }

  getAll(name: string): string[] {
    const key = toUSVString(name);
    return this.#list.filter(([n]) => n === key).map(([, v]) => v);
  }

  has(name: string, value?: string): boolean {
    const key = toUSVString(name);
    const match = value === undefined ? undefined : toUSVString(value);
    return this.#list.some(([n, v]) => n === key && (match === undefined || v === match));
  }

  set(name: string, value: string): void {
    const key = toUSVString(name);
    const newValue = toUSVString(value);
    const index = this.#list.findIndex(([n]) => n === key);
    if (index === -1) this.#list.push([key, newValue]);
    else {
      this.#list[index] = [key, newValue];
      this.#list = this.#list.filter(([n], i) => n !== key || i <= index);
    }
    this.#update();
  }

  /** Stable sort by name, comparing UTF-16 code units as the standard says. */
  sort(): void {
    this.#list = this.#list
      .map((entry, index) => ({ entry, index }))
      .sort((a, b) => (a.entry[0] < b.entry[0] ? -1 : a.entry[0] > b.entry[0] ? 1 : a.index - b.index))
      .map(({ entry }) => entry);
    this.#update();
  }

  forEach(callback: (value: string, name: string, params: URLSearchParams) => void, thisArg?: unknown): void {
    if (typeof callback !== 'function') throw new TypeError('The "callback" argument must be a function');
    // Index loop over the live list: entries appended by the callback are visited, as in browsers.
    for (let i = 0; i < this.#list.length; i++) {
      const entry = this.#list[i] as [string, string];
      callback.call(thisArg, entry[1], entry[0], this);
    }
  }

  *entries(): IterableIterator<[string, string]> {
    for (let i = 0; i < this.#list.length; i++) {
      const entry = this.#list[i] as [string, string];
      yield [entry[0], entry[1]];
    }
  }

  *keys(): IterableIterator<string> {
    for (let i = 0; i < this.#list.length; i++) yield (this.#list[i] as [string, string])[0];
  }

  *values(): IterableIterator<string> {
    for (let i = 0; i < this.#list.length; i++) yield (this.#list[i] as [string, string])[1];
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  toString(): string {
    return this.#list.map(([name, value]) => `${formEncode(name)}=${formEncode(value)}`).join('&');
  }

  get [Symbol.toStringTag](): string {
    return 'URLSearchParams';
  }

  /** How `console.log` shows it (Node's util.inspect hook, honoured by format.ts). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    if (this.#list.length === 0) return 'URLSearchParams {}';
    const quote = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
    return `URLSearchParams { ${this.#list.map(([n, v]) => `${quote(n)} => ${quote(v)}`).join(', ')} }`;
  }

  #update(): void {
    this.#onUpdate?.(this.toString());
  }
}
