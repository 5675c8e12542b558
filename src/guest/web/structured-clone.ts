/**
 * `structuredClone` in pure JS, following what V8's serializer (and so Node) keeps: primitives,
 * plain objects and arrays (own enumerable string keys, holes kept), boxed primitives, Date, RegExp,
 * Map, Set, ArrayBuffer, typed arrays and DataView (views sharing a buffer still share the clone's),
 * and the standard Error types (name, message, stack, cause). Cycles and shared references are kept.
 * Class instances become plain objects. The `transfer` option is accepted but buffers are copied,
 * not detached (V8 11.3 has no way to detach an ArrayBuffer from JS).
 */
import { DOMException } from './dom-exception.js';
import {
  ArrayBufferPrototypeSlice,
  BigIntPrototypeValueOf,
  BooleanPrototypeValueOf,
  DatePrototypeGetTime,
  FunctionPrototypeToString,
  NumberPrototypeValueOf,
  ObjectKeys,
  ObjectPrototypeHasOwnProperty,
  ObjectPrototypeToString,
  StringPrototypeValueOf,
  typedArrayName,
} from './intrinsics.js';

const valueOf: Record<string, ((value: unknown) => unknown) | undefined> = {
  '[object Boolean]': BooleanPrototypeValueOf,
  '[object Number]': NumberPrototypeValueOf,
  '[object String]': StringPrototypeValueOf,
  '[object BigInt]': BigIntPrototypeValueOf,
};

type TypedArrayConstructor = new (buffer: ArrayBuffer, byteOffset: number, length: number) => ArrayBufferView;
const typedArrays: Record<string, TypedArrayConstructor | undefined> = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
};
const errorTypes: Record<string, ErrorConstructor | undefined> = {
  Error,
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
};
const uncloneableTags = [
  '[object Promise]',
  '[object WeakMap]',
  '[object WeakSet]',
  '[object WeakRef]',
  '[object Symbol]',
  '[object Generator]',
  '[object AsyncGenerator]',
  '[object FinalizationRegistry]',
];

function dataCloneError(value: unknown): DOMException {
  let shown: string;
  if (typeof value === 'function') shown = FunctionPrototypeToString(value);
  else if (typeof value === 'symbol') shown = String(value);
  else shown = `#<${(value as { constructor?: { name?: string } }).constructor?.name ?? 'Object'}>`;
  return new DOMException(`${shown} could not be cloned.`, 'DataCloneError');
}

export function structuredClone(value: unknown, _options?: { transfer?: unknown[] }): unknown {
  if (arguments.length === 0) throw new TypeError('The "value" argument must be specified');
  return cloneValue(value, new Map());
}

function cloneValue(value: unknown, memo: Map<object, unknown>): unknown {
  if (typeof value === 'symbol' || typeof value === 'function') throw dataCloneError(value);
  if (typeof value !== 'object' || value === null) return value;
  if (memo.has(value)) return memo.get(value);

  const tag = ObjectPrototypeToString(value);
  const unbox = valueOf[tag];
  if (unbox) return remember(memo, value, Object(unbox(value)));
  if (tag === '[object Date]') return remember(memo, value, new Date(DatePrototypeGetTime(value)));
  if (tag === '[object RegExp]') {
    const regexp = value as RegExp;
    return remember(memo, value, new RegExp(regexp.source, regexp.flags));
  }
  if (tag === '[object ArrayBuffer]') {
    return remember(memo, value, ArrayBufferPrototypeSlice(value as ArrayBuffer, 0));
  }
  const typedName = typedArrayName(value);
  if (typedName !== undefined || tag === '[object DataView]') {
    const view = value as Uint8Array;
    const buffer = cloneValue(view.buffer, memo) as ArrayBuffer;
    const Constructor =
      typedName === undefined ? DataView : (typedArrays[typedName] as TypedArrayConstructor);
    const length = typedName === undefined ? view.byteLength : view.length;
    return remember(memo, value, new Constructor(buffer, view.byteOffset, length));
  }
  if (value instanceof Map) {
    const clone = remember(memo, value, new Map());
    for (const [key, entry] of [...value]) clone.set(cloneValue(key, memo), cloneValue(entry, memo));
    return clone;
  }
  if (value instanceof Set) {
    const clone = remember(memo, value, new Set());
    for (const entry of [...value]) clone.add(cloneValue(entry, memo));
    return clone;
  }
  if (tag === '[object Error]') return cloneError(value as Error, memo);
  if (uncloneableTags.includes(tag)) throw dataCloneError(value);

  const source = value as Record<string, unknown>;
  const clone = remember(memo, value, Array.isArray(value) ? new Array<unknown>(value.length) : {});
  for (const key of ObjectKeys(source)) {
    // A getter may have deleted a later property; the serializer skips those.
    if (ObjectPrototypeHasOwnProperty(source, key)) {
      (clone as Record<string, unknown>)[key] = cloneValue(source[key], memo);
    }
  }
  return clone;
}

function cloneError(error: Error, memo: Map<object, unknown>): Error {
  const name = String(error.name);
  const Constructor = errorTypes[name] ?? Error;
  const message = Object.getOwnPropertyDescriptor(error, 'message');
  const clone = remember(
    memo,
    error,
    message && 'value' in message ? new Constructor(String(message.value)) : new Constructor(),
  );
  const stack = error.stack;
  if (typeof stack === 'string') {
    Object.defineProperty(clone, 'stack', {
      value: stack,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  } else delete clone.stack;
  if (ObjectPrototypeHasOwnProperty(error, 'cause')) {
    Object.defineProperty(clone, 'cause', {
      value: cloneValue(error.cause, memo),
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
  return clone;
}

function remember<T>(memo: Map<object, unknown>, original: object, clone: T): T {
  memo.set(original, clone);
  return clone;
}
