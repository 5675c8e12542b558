import { DEFAULT_NAMESPACE } from './api-key.js';
import { StratoError } from './strato-error.js';

/**
 * Namespaces (tenants) own functions, and through them versions, aliases, secrets, triggers, queues,
 * records and logs. Inside Strato a function is known by its qualified name: the bare name in the
 * `default` namespace, `<namespace>.<name>` in any other. A dot is in no function name, so two namespaces
 * can never name the same function, and everything keyed by function name (the store, the scheduler,
 * the queue, secrets, logs) is separated without knowing about namespaces. Only the HTTP edge turns the
 * name in a request into a qualified one, always with the caller's own namespace, and strips it off again
 * in replies.
 */

/** Lowercase letters, digits and inner hyphens, up to 32: safe in URLs, paths and metric labels. */
export const NAMESPACE_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;

/** A function name as Strato keeps it: an optional `<namespace>.` and a function name. */
export const QUALIFIED_FUNCTION_NAME_PATTERN =
  /^(?:[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?\.)?[A-Za-z0-9_-]{1,64}$/;

const SEPARATOR = '.';

/** INVALID_NAME unless `namespace` is one. */
export function checkNamespace(namespace: unknown): string {
  if (typeof namespace !== 'string' || !NAMESPACE_PATTERN.test(namespace)) {
    throw new StratoError('INVALID_NAME', 'namespaces are 1-32 characters of a-z, 0-9 and inner hyphens');
  }
  return namespace;
}

/** The name Strato keeps for function `name` of `namespace` (`name` is already checked). */
export function qualifiedName(namespace: string, name: string): string {
  return namespace === DEFAULT_NAMESPACE ? name : `${namespace}${SEPARATOR}${name}`;
}

/** The namespace a qualified function name belongs to. */
export function namespaceOf(qualified: string): string {
  const at = qualified.indexOf(SEPARATOR);
  return at === -1 ? DEFAULT_NAMESPACE : qualified.slice(0, at);
}

/** The prefix a namespace's qualified names start with (empty for `default`). */
export function namespacePrefix(namespace: string): string {
  return namespace === DEFAULT_NAMESPACE ? '' : `${namespace}${SEPARATOR}`;
}

/** True when the qualified function name belongs to `namespace`. */
export function ownedBy(namespace: string, qualified: string): boolean {
  return namespaceOf(qualified) === namespace;
}
