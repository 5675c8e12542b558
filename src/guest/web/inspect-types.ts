/**
 * Type detection for inspect.ts. Brand checks call built-in getters captured at startup (they throw on
 * objects of the wrong type), so an object faking `Symbol.toStringTag` or a patched prototype cannot
 * make the formatter read internals it does not have.
 */
import {
  arrayBufferByteLength,
  BigIntPrototypeValueOf,
  BooleanPrototypeValueOf,
  DataViewPrototypeGetByteLength,
  DatePrototypeGetTime,
  MapPrototypeGetSize,
  NumberPrototypeValueOf,
  ObjectPrototypeToString,
  RegExpPrototypeGetSource,
  SetPrototypeGetSize,
  StringPrototypeValueOf,
  SymbolPrototypeValueOf,
  typedArrayName,
  WeakMapPrototypeHas,
  WeakSetPrototypeHas,
} from './intrinsics.js';

const checks: Array<[Brand, (value: object) => unknown]> = [
  ['Map', MapPrototypeGetSize],
  ['Set', SetPrototypeGetSize],
  ['DataView', DataViewPrototypeGetByteLength],
  ['ArrayBuffer', (value) => arrayBufferByteLength(value as ArrayBuffer)],
  ['Date', DatePrototypeGetTime],
  ['Number', NumberPrototypeValueOf],
  ['String', StringPrototypeValueOf],
  ['Boolean', BooleanPrototypeValueOf],
  ['BigInt', BigIntPrototypeValueOf],
  ['Symbol', SymbolPrototypeValueOf],
  ['WeakMap', (value) => WeakMapPrototypeHas(value, checks)],
  ['WeakSet', (value) => WeakSetPrototypeHas(value, checks)],
  ['RegExp', RegExpPrototypeGetSource],
];

export type Brand =
  | 'Array'
  | 'TypedArray'
  | 'Map'
  | 'Set'
  | 'DataView'
  | 'ArrayBuffer'
  | 'Date'
  | 'Number'
  | 'String'
  | 'Boolean'
  | 'BigInt'
  | 'Symbol'
  | 'WeakMap'
  | 'WeakSet'
  | 'RegExp'
  | 'Error'
  | 'Promise'
  | 'Function'
  | 'Object';

/** What kind of built-in `value` really is ('Object' for plain and class instances). */
export function brand(value: object): Brand {
  if (typeof value === 'function') return 'Function';
  if (Array.isArray(value)) return 'Array';
  if (typedArrayName(value) !== undefined) return 'TypedArray';
  const tag = ObjectPrototypeToString(value);
  if (tag === '[object Error]' || value instanceof Error) return 'Error';
  if (tag === '[object Promise]' || value instanceof Promise) return 'Promise';
  for (const [name, check] of checks) {
    // RegExp.prototype itself passes the source getter; it is an ordinary object.
    if (name === 'RegExp' && value === RegExp.prototype) continue;
    try {
      check(value);
      return name;
    } catch {
      // Not this type.
    }
  }
  return 'Object';
}

/** The name of the first constructor on the prototype chain, like Node; null for null prototypes. */
export function getConstructorName(value: object): string | null {
  let current: object | null = value;
  while (current !== null) {
    const descriptor = Object.getOwnPropertyDescriptor(current, 'constructor');
    const candidate: unknown = descriptor?.value;
    if (typeof candidate === 'function' && candidate.name !== '' && isInstance(value, candidate)) {
      return String(candidate.name);
    }
    current = Object.getPrototypeOf(current) as object | null;
    if (current === null && value !== null) {
      return Object.getPrototypeOf(value) === null ? null : 'Object';
    }
  }
  return null;
}

function isInstance(value: object, candidate: unknown): boolean {
  try {
    return value instanceof (candidate as new () => unknown);
  } catch {
    return false;
  }
}

export function getPrefix(constructor: string | null, tag: string, fallback: string, size = ''): string {
  if (constructor === null) {
    if (tag !== '' && fallback !== tag) return `[${fallback}${size}: null prototype] [${tag}] `;
    return `[${fallback}${size}: null prototype] `;
  }
  if (tag !== '' && constructor !== tag) return `${constructor}${size} [${tag}] `;
  return `${constructor}${size} `;
}
