/**
 * Support for Node's `util.inspect.custom` hook, which format.ts honours. Web API classes keep their
 * state in private fields that a generic formatter cannot see, so they return a "view": a plain
 * object whose constructor name is the class name, which then formats like Node shows these classes.
 */
export const inspectSymbol: unique symbol = Symbol.for('nodejs.util.inspect.custom') as typeof inspectSymbol;

export function inspectView(name: string, fields: Record<string, unknown>): object {
  const prototype: object = Object.create(null) as object;
  const constructor = function () {};
  Object.defineProperty(constructor, 'name', { value: name });
  Object.defineProperty(constructor, 'prototype', { value: prototype });
  Object.defineProperty(prototype, 'constructor', { value: constructor });
  return Object.assign(Object.create(prototype) as object, fields);
}
