/**
 * `URL`. Parsing is the host's WHATWG parser (`HostBindings.parseUrl`); setters splice the new
 * component into the href, pre-encoding what the full parser would otherwise treat as a delimiter or
 * trim, and re-parse. A setter whose result does not parse is ignored, as the standard says.
 */
import type { UrlRecord } from '../host-bindings.js';
import { inspectSymbol, inspectView } from './inspect-view.js';
import { toUSVString, userinfoEncode } from './percent-encoding.js';
import {
  encodeControls,
  joinHref,
  portColon,
  setterInput,
  specialSchemes,
  splitHref,
  type HrefParts,
} from './url-href.js';
import { linkToUrl, resetFromQuery, URLSearchParams } from './url-search-params.js';

type UrlParser = (input: string, base: string | undefined) => UrlRecord | null;

/** Longest input we send to the host parser (the host enforces the same bound). */
export const MAX_URL_LENGTH = 1 << 20;

let hostParseUrl: UrlParser | undefined;

/** Called once by installWebApis with the host binding. */
export function setUrlParser(parse: UrlParser): void {
  hostParseUrl = parse;
}

function parseUrl(input: string, base: string | undefined): UrlRecord | null {
  if (hostParseUrl === undefined) throw new Error('URL parser not installed');
  if (input.length > MAX_URL_LENGTH || (base !== undefined && base.length > MAX_URL_LENGTH)) return null;
  const parse = hostParseUrl;
  return parse(input, base);
}

function invalidUrl(input: string): TypeError {
  // Node's shape, which some libraries test for.
  return Object.assign(new TypeError('Invalid URL'), { code: 'ERR_INVALID_URL', input });
}

export class URL {
  #record: UrlRecord;
  #searchParams: URLSearchParams | undefined;

  constructor(url: unknown, base?: unknown) {
    if (arguments.length === 0) throw new TypeError('The "url" argument must be specified');
    const input = toUSVString(url);
    const record = parseUrl(input, base === undefined ? undefined : toUSVString(base));
    if (record === null) throw invalidUrl(input);
    this.#record = record;
  }

  static canParse(url: unknown, base?: unknown): boolean {
    return parseUrl(toUSVString(url), base === undefined ? undefined : toUSVString(base)) !== null;
  }

  get href(): string {
    return this.#record.href;
  }
  set href(value: unknown) {
    const input = toUSVString(value);
    const record = parseUrl(input, undefined);
    if (record === null) throw invalidUrl(input);
    this.#record = record;
    if (this.#searchParams) resetFromQuery(this.#searchParams, record.search.slice(1));
  }

  get origin(): string {
    return this.#record.origin;
  }

  get protocol(): string {
    return this.#record.protocol;
  }
  set protocol(value: unknown) {
    const input = setterInput(value);
    const colon = input.indexOf(':');
    const scheme = (colon === -1 ? input : input.slice(0, colon)).toLowerCase() + ':';
    if (!/^[a-z][a-z0-9+.-]*:$/.test(scheme)) return;
    const current = this.#record;
    if (specialSchemes.includes(scheme) !== specialSchemes.includes(current.protocol)) return;
    if (scheme === 'file:' && (current.username !== '' || current.password !== '' || current.port !== ''))
      return;
    if (current.protocol === 'file:' && current.hostname === '') return;
    this.#reparse({ ...this.#parts(), scheme });
  }

  get username(): string {
    return this.#record.username;
  }
  set username(value: unknown) {
    this.#setUserinfo(userinfoEncode(setterInput(value)), this.#record.password);
  }

  get password(): string {
    return this.#record.password;
  }
  set password(value: unknown) {
    this.#setUserinfo(this.#record.username, userinfoEncode(setterInput(value)));
  }

  get host(): string {
    return this.#record.host;
  }
  set host(value: unknown) {
    this.#setHost(setterInput(value), true);
  }

  get hostname(): string {
    return this.#record.hostname;
  }
  set hostname(value: unknown) {
    this.#setHost(setterInput(value), false);
  }

  get port(): string {
    return this.#record.port;
  }
  set port(value: unknown) {
    if (!this.#canHaveCredentialsOrPort()) return;
    const input = setterInput(value);
    const digits = /^\d*/.exec(input)?.[0] ?? '';
    if (input !== '' && (digits === '' || Number(digits) > 65535)) return;
    this.#reparse({ ...this.#parts(), authority: this.#authority(this.#record.hostname, digits) });
  }

  get pathname(): string {
    return this.#record.pathname;
  }
  set pathname(value: unknown) {
    const parts = this.#parts();
    if (parts.authority === null && !parts.path.startsWith('/')) return; // opaque path
    const special = specialSchemes.includes(parts.scheme);
    let path = encodeControls(setterInput(value), /[?#]/g);
    if (path === '' ? special : !path.startsWith('/') && !(special && path.startsWith('\\')))
      path = '/' + path;
    this.#reparse({ ...parts, path });
  }

  get search(): string {
    return this.#record.search;
  }
  set search(value: unknown) {
    const input = setterInput(value);
    const query =
      input === '' ? '' : '?' + encodeControls(input.startsWith('?') ? input.slice(1) : input, /#/g);
    this.#reparse({ ...this.#parts(), query });
    if (this.#searchParams) resetFromQuery(this.#searchParams, this.#record.search.slice(1));
  }

  get searchParams(): URLSearchParams {
    if (this.#searchParams === undefined) {
      const params = new URLSearchParams(this.#record.search);
      linkToUrl(params, (query) =>
        this.#reparse({ ...this.#parts(), query: query === '' ? '' : '?' + query }),
      );
      this.#searchParams = params;
    }
    return this.#searchParams;
  }

  get hash(): string {
    return this.#record.hash;
  }
  set hash(value: unknown) {
    const input = setterInput(value);
    const fragment =
      input === '' ? '' : '#' + encodeControls(input.startsWith('#') ? input.slice(1) : input, undefined);
    this.#reparse({ ...this.#parts(), fragment });
  }

  toString(): string {
    return this.#record.href;
  }

  toJSON(): string {
    return this.#record.href;
  }

  get [Symbol.toStringTag](): string {
    return 'URL';
  }

  [inspectSymbol](): object {
    const { href, origin, protocol, username, password, host, hostname, port, pathname, search, hash } =
      this.#record;
    const searchParams = this.searchParams;
    const fields = { href, origin, protocol, username, password, host, hostname, port, pathname, search };
    return inspectView('URL', { ...fields, searchParams, hash });
  }

  #parts(): HrefParts {
    return splitHref(this.#record.href, this.#record.protocol);
  }

  #reparse(parts: HrefParts): void {
    const record = parseUrl(joinHref(parts), undefined);
    if (record !== null) this.#record = record;
  }

  /** The standard's "cannot have a username/password/port": no host, empty host, or file. */
  #canHaveCredentialsOrPort(): boolean {
    return this.#record.hostname !== '' && this.#record.protocol !== 'file:';
  }

  #authority(hostname: string, port: string): string {
    const { username, password } = this.#record;
    const userinfo =
      username === '' && password === '' ? '' : username + (password === '' ? '' : ':' + password) + '@';
    return userinfo + hostname + (port === '' ? '' : ':' + port);
  }

  #setUserinfo(username: string, password: string): void {
    if (!this.#canHaveCredentialsOrPort()) return;
    const userinfo =
      username === '' && password === '' ? '' : username + (password === '' ? '' : ':' + password) + '@';
    this.#reparse({ ...this.#parts(), authority: userinfo + this.#record.host });
  }

  #setHost(input: string, withPort: boolean): void {
    const parts = this.#parts();
    if (parts.authority === null && !parts.path.startsWith('/')) return; // opaque path
    const special = specialSchemes.includes(parts.scheme);
    const end = input.search(special ? /[/?#\\]/ : /[/?#]/);
    const value = end === -1 ? input : input.slice(0, end);
    const colon = portColon(value);
    if (colon !== -1 && !withPort) return;
    const hostname = colon === -1 ? value : value.slice(0, colon);
    // Characters the full parser would read as delimiters or trim; all are forbidden in hosts.
    // eslint-disable-next-line no-control-regex -- C0 controls are forbidden host code points
    if (/[@\x00-\x20]/.test(hostname)) return;
    // Only file: URLs (and non-special ones) may have an empty host.
    if (hostname === '' && ((special && parts.scheme !== 'file:') || colon !== -1)) return;
    const { username, password, port: currentPort } = this.#record;
    if (hostname === '' && (username !== '' || password !== '' || currentPort !== '')) return;
    let port = currentPort;
    if (colon !== -1) {
      const digits = /^\d*/.exec(value.slice(colon + 1))?.[0] ?? '';
      if (digits !== '' && Number(digits) <= 65535) port = digits;
    }
    this.#reparse({ ...parts, authority: this.#authority(hostname, port) });
  }
}
