/**
 * Error rendering for inspect.ts, as Node does it: the stack (or `[Name: message]` when there are no
 * frames), the constructor name worked into the first line when it differs from `name`, extra own
 * properties after it, and `[cause]` / `[errors]`.
 */
import type { InspectContext } from './inspect.js';
import { getPrefix } from './inspect-types.js';

export function formatError(
  error: Error,
  constructor: string | null,
  tag: string,
  ctx: InspectContext,
  keys: Array<string | symbol>,
): string {
  const name = error.name != null ? String(error.name) : 'Error';
  let stack =
    typeof error.stack === 'string' && error.stack !== ''
      ? error.stack
      : Error.prototype.toString.call(error);
  if (!ctx.showHidden && keys.length !== 0) {
    for (const key of ['name', 'message', 'stack']) {
      const index = keys.indexOf(key);
      // Only hide the property when the stack already shows it.
      if (index !== -1 && stack.includes(String((error as unknown as Record<string, unknown>)[key])))
        keys.splice(index, 1);
    }
  }
  if ('cause' in error && !keys.includes('cause')) keys.push('cause');
  const errors: unknown = (error as { errors?: unknown }).errors;
  if (Array.isArray(errors) && !keys.includes('errors')) keys.push('errors');
  stack = improveStack(stack, constructor, name, tag);

  const message = typeof error.message === 'string' ? error.message : '';
  let position = (message && stack.indexOf(message)) || -1;
  if (position !== -1) position += message.length;
  if (stack.indexOf('\n    at', position) === -1) stack = `[${stack}]`;
  if (ctx.indentationLvl !== 0) stack = stack.replaceAll('\n', `\n${' '.repeat(ctx.indentationLvl)}`);
  return stack;
}

/** Puts the constructor name in the first line when it differs from `name`: `TypeError [MyName]: ...`. */
function improveStack(stack: string, constructor: string | null, name: string, tag: string): string {
  let length = name.length;
  if (
    constructor === null ||
    (name.endsWith('Error') &&
      stack.startsWith(name) &&
      (stack.length === length || stack[length] === ':' || stack[length] === '\n'))
  ) {
    let fallback = 'Error';
    if (constructor === null) {
      const start =
        /^([A-Z][a-z_ A-Z0-9[\]()-]+)(?::|\n\s+at)/.exec(stack) ?? /^([a-z_A-Z0-9-]*Error)$/.exec(stack);
      fallback = start?.[1] ?? '';
      length = fallback.length;
      fallback ||= 'Error';
    }
    const prototype = getPrefix(constructor, tag, fallback).slice(0, -1);
    if (name !== prototype) {
      if (prototype.includes(name)) {
        stack = length === 0 ? `${prototype}: ${stack}` : `${prototype}${stack.slice(length)}`;
      } else {
        stack = `${prototype} [${name}]${stack.slice(length)}`;
      }
    }
  }
  return stack;
}
