/**
 * Built-ins captured when the guest runtime is evaluated, before any user code runs. User code may
 * later patch prototypes (polyfills, monkey-patching); the paths the runtime itself depends on to send
 * responses and logs (body bytes, UTF-8, base64, log formatting, type checks) go through these
 * captured copies so that such patches cannot change what the host receives.
 */
/* eslint-disable @typescript-eslint/unbound-method -- capturing built-in methods unbound, to call them
   later with an explicit receiver, is the purpose of this module */
const { call } = Function.prototype;

/** Turns a prototype method into a plain function taking `this` as its first argument. */
export function uncurryThis<This, Args extends unknown[], Result>(
  method: (this: This, ...args: Args) => Result,
): (self: This, ...args: Args) => Result {
  return call.bind(method) as (self: This, ...args: Args) => Result;
}

/** A built-in accessor's getter as a plain function of the receiver. */
function getter<Result>(prototype: object, name: string | symbol): (self: unknown) => Result {
  const get = Object.getOwnPropertyDescriptor(prototype, name)?.get as (this: unknown) => Result;
  return uncurryThis(get);
}

export const ReflectApply = Reflect.apply;
export const ObjectGetPrototypeOf = Object.getPrototypeOf;
export const ObjectKeys = Object.keys;
export const JSONStringify = JSON.stringify;
export const JSONParse = JSON.parse;
export const ArrayBufferIsView = ArrayBuffer.isView;
export const StringFromCharCode = String.fromCharCode;
export const MathMin = Math.min;

export const StringPrototypeCharCodeAt = uncurryThis(String.prototype.charCodeAt);
export const StringPrototypeSlice = uncurryThis(String.prototype.slice);
export const ArrayPrototypeJoin = uncurryThis(Array.prototype.join) as (
  array: unknown[],
  separator: string,
) => string;
export const ArrayBufferPrototypeSlice = uncurryThis(ArrayBuffer.prototype.slice);
export const ObjectPrototypeHasOwnProperty = uncurryThis<unknown, [PropertyKey], boolean>(
  Object.prototype.hasOwnProperty,
);
export const ObjectPrototypeToString = uncurryThis<unknown, [], string>(Object.prototype.toString);
export const FunctionPrototypeToString = uncurryThis<unknown, [], string>(Function.prototype.toString);

// Brand checks: each throws a TypeError when the receiver is not of its type.
export const DatePrototypeGetTime = uncurryThis<unknown, [], number>(Date.prototype.getTime);
export const NumberPrototypeValueOf = uncurryThis<unknown, [], number>(Number.prototype.valueOf);
export const StringPrototypeValueOf = uncurryThis<unknown, [], string>(String.prototype.valueOf);
export const BooleanPrototypeValueOf = uncurryThis<unknown, [], boolean>(Boolean.prototype.valueOf);
export const BigIntPrototypeValueOf = uncurryThis<unknown, [], bigint>(BigInt.prototype.valueOf);
export const SymbolPrototypeValueOf = uncurryThis<unknown, [], symbol>(Symbol.prototype.valueOf);
export const WeakMapPrototypeHas = uncurryThis(WeakMap.prototype.has) as (
  map: unknown,
  key: object,
) => boolean;
export const WeakSetPrototypeHas = uncurryThis(WeakSet.prototype.has) as (
  set: unknown,
  key: object,
) => boolean;
export const DatePrototypeToISOString = uncurryThis<unknown, [], string>(Date.prototype.toISOString);
export const RegExpPrototypeToString = uncurryThis<unknown, [], string>(RegExp.prototype.toString);
export const ObjectPrototypePropertyIsEnumerable = uncurryThis<unknown, [PropertyKey], boolean>(
  Object.prototype.propertyIsEnumerable,
);
export const MapPrototypeGetSize = getter<number>(Map.prototype, 'size');
export const SetPrototypeGetSize = getter<number>(Set.prototype, 'size');
export const RegExpPrototypeGetSource = getter<string>(RegExp.prototype, 'source');

const TypedArrayPrototype = ObjectGetPrototypeOf(Uint8Array.prototype) as object;
const getTypedArrayTag = getter<string | undefined>(TypedArrayPrototype, Symbol.toStringTag);
const getTypedArrayLength = getter<number>(TypedArrayPrototype, 'byteLength');
const getTypedArrayOffset = getter<number>(TypedArrayPrototype, 'byteOffset');
const getTypedArrayBuffer = getter<ArrayBuffer>(TypedArrayPrototype, 'buffer');
export const DataViewPrototypeGetByteLength = getter<number>(DataView.prototype, 'byteLength');
const getDataViewOffset = getter<number>(DataView.prototype, 'byteOffset');
const getDataViewBuffer = getter<ArrayBuffer>(DataView.prototype, 'buffer');
const getArrayBufferLength = getter<number>(ArrayBuffer.prototype, 'byteLength');
/* eslint-enable @typescript-eslint/unbound-method */

/** The typed array's element type name ('Uint8Array', ...), or undefined when it is not a typed array. */
export function typedArrayName(value: unknown): string | undefined {
  return getTypedArrayTag(value);
}

export function isArrayBuffer(value: unknown): value is ArrayBuffer {
  return ObjectPrototypeToString(value) === '[object ArrayBuffer]';
}

export function arrayBufferByteLength(buffer: ArrayBuffer): number {
  return getArrayBufferLength(buffer);
}

/**
 * A Uint8Array over the same memory as an ArrayBuffer or any view (typed array or DataView), read with
 * the captured getters so a patched `byteLength` getter cannot make us read out of bounds of what the
 * caller passed.
 */
export function viewBytes(source: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (typedArrayName(source) !== undefined) {
    return new Uint8Array(
      getTypedArrayBuffer(source),
      getTypedArrayOffset(source),
      getTypedArrayLength(source),
    );
  }
  if (ArrayBufferIsView(source)) {
    const view = source as DataView;
    return new Uint8Array(
      getDataViewBuffer(view),
      getDataViewOffset(view),
      DataViewPrototypeGetByteLength(view),
    );
  }
  return new Uint8Array(source);
}

/** A fresh copy of the bytes, detached from whatever buffer the caller still holds. */
export function copyBytes(source: ArrayBuffer | ArrayBufferView): Uint8Array {
  const view = viewBytes(source);
  const offset = getTypedArrayOffset(view);
  const length = getTypedArrayLength(view);
  const buffer = getTypedArrayBuffer(view);
  return new Uint8Array(ArrayBufferPrototypeSlice(buffer, offset, offset + length));
}

/** The byte length of a view we created ourselves, immune to a patched getter. */
export function bytesLength(view: Uint8Array): number {
  return getTypedArrayLength(view);
}

/** String.fromCharCode over many code units without blowing the argument-count limit. */
export function fromCharCodes(codes: ArrayLike<number>, start: number, end: number): string {
  let result = '';
  for (let chunkStart = start; chunkStart < end; chunkStart += 0x2000) {
    const chunkEnd = MathMin(chunkStart + 0x2000, end);
    const chunk: number[] = [];
    for (let i = chunkStart; i < chunkEnd; i++) chunk[i - chunkStart] = codes[i] as number;
    result += ReflectApply(StringFromCharCode, undefined, chunk);
  }
  return result;
}
