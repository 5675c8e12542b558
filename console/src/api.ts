import { StratoClient } from '../../src/client/strato-client.js';
import { StratoError } from '../../src/core/strato-error.js';

const KEY_STORAGE = 'strato.apiKey';

/** The API key entered in the header, if any (issue 8's Bearer keys); kept in localStorage. */
export function storedApiKey(): string | undefined {
  return localStorage.getItem(KEY_STORAGE) ?? undefined;
}

export function storeApiKey(key: string): void {
  if (key === '') localStorage.removeItem(KEY_STORAGE);
  else localStorage.setItem(KEY_STORAGE, key);
}

/** The same typed client the CLI uses, against the server that served the console. */
export const api = new StratoClient(window.location.origin, { apiKey: storedApiKey });

/** A platform error's code and message, or the error's text. */
export function errorText(error: unknown): string {
  if (error instanceof StratoError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** True for a route the server does not have (an endpoint of a newer Strato). */
export function isMissingRoute(error: unknown): boolean {
  return error instanceof StratoError && error.code === 'ROUTE_NOT_FOUND';
}
