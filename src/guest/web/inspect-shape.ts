/**
 * What inspect.ts shows for each kind of object, as Node does: the text before the braces (`base`),
 * the braces with their prefix (`Map(2) {`), the type-specific entries and the keys listed after them.
 * A string result is the whole rendering (empty collections, functions and dates without keys...).
 */
import type { InspectContext } from './inspect.js';
import { formatError } from './inspect-error.js';
import {
  formatArray,
  formatArrayBuffer,
  formatMapEntries,
  formatSetEntries,
  formatTypedArray,
  type Formatter,
} from './inspect-entries.js';
import { ARRAY_EXTRAS_TYPE, OBJECT_TYPE } from './inspect-layout.js';
import { formatPrimitive } from './inspect-primitives.js';
import { brand, getPrefix } from './inspect-types.js';
import {
  DatePrototypeGetTime,
  DatePrototypeToISOString,
  FunctionPrototypeToString,
  ObjectPrototypeHasOwnProperty,
  ObjectPrototypePropertyIsEnumerable as propertyIsEnumerable,
  RegExpPrototypeToString,
} from './intrinsics.js';

export interface Shape {
  base: string;
  braces: [string, string];
  formatter: Formatter;
  extrasType: number;
  keys: Array<string | symbol>;
  /** The `Symbol.toStringTag` shown next to the constructor name, or ''. */
  tag: string;
}

const noEntries: Formatter = () => [];
const indexKey = /^(0|[1-9][0-9]*)$/;

/** Own keys listed after the type-specific entries: enumerable ones, or all with showHidden. */
function getKeys(value: object, showHidden: boolean, skipIndices: boolean): Array<string | symbol> {
  const keys = showHidden
    ? Reflect.ownKeys(value)
    : [
        ...Object.keys(value),
        ...Object.getOwnPropertySymbols(value).filter((s) => propertyIsEnumerable(value, s)),
      ];
  return skipIndices ? keys.filter((key) => typeof key === 'symbol' || !indexKey.test(key)) : keys;
}

function ownTag(value: object): string {
  const tag: unknown = (value as Record<symbol, unknown>)[Symbol.toStringTag];
  // A tag that is an own enumerable property is listed among the keys already.
  if (typeof tag !== 'string' || (tag !== '' && propertyIsEnumerable(value, Symbol.toStringTag))) return '';
  return tag;
}

export function describeShape(
  ctx: InspectContext,
  value: object,
  constructor: string | null,
  recurseTimes: number,
): Shape | string {
  const tag = ownTag(value);
  const kind = brand(value);
  const shape: Shape = {
    base: '',
    braces: ['{', '}'],
    formatter: noEntries,
    extrasType: OBJECT_TYPE,
    keys: [],
    tag,
  };
  const prefix = (fallback: string, size = ''): string => getPrefix(constructor, tag, fallback, size);

  if (kind === 'Array' || kind === 'TypedArray') {
    const length = (value as ArrayLike<unknown>).length;
    const arrayPrefix =
      kind === 'TypedArray' || constructor !== 'Array' || tag !== ''
        ? prefix(kind === 'Array' ? 'Array' : '', `(${length})`)
        : '';
    shape.keys = getKeys(value, ctx.showHidden, true);
    shape.braces = [`${arrayPrefix}[`, ']'];
    if (length === 0 && shape.keys.length === 0) return `${arrayPrefix}[]`;
    shape.extrasType = ARRAY_EXTRAS_TYPE;
    shape.formatter = kind === 'Array' ? formatArray : formatTypedArray;
    return shape;
  }
  if (kind === 'Set' || kind === 'Map') {
    const size = (value as Set<unknown>).size;
    shape.keys = getKeys(value, ctx.showHidden, false);
    shape.formatter = kind === 'Set' ? formatSetEntries : formatMapEntries;
    if (size === 0 && shape.keys.length === 0) return `${prefix(kind, `(${size})`)}{}`;
    shape.braces = [`${prefix(kind, `(${size})`)}{`, '}'];
    return shape;
  }

  const keys = getKeys(value, ctx.showHidden, kind === 'String');
  shape.keys = keys;
  switch (kind) {
    case 'Object':
      if (constructor === 'Object') {
        if (tag !== '') shape.braces[0] = `${prefix('Object')}{`;
        return keys.length === 0 ? `${shape.braces[0]}}` : shape;
      }
      if (keys.length === 0) return `${prefix('Object')}{}`;
      shape.braces[0] = `${prefix('Object')}{`;
      return shape;
    case 'Function':
      shape.base = functionBase(value as (...args: unknown[]) => unknown, constructor, tag);
      return keys.length === 0 ? shape.base : shape;
    case 'RegExp': {
      const text = RegExpPrototypeToString(value);
      shape.base = prefix('RegExp') === 'RegExp ' ? text : `${prefix('RegExp')}${text}`;
      return keys.length === 0 || recurseTimes > ctx.depth ? shape.base : shape;
    }
    case 'Date': {
      const time = DatePrototypeGetTime(value);
      const text = Number.isNaN(time) ? 'Invalid Date' : DatePrototypeToISOString(value);
      shape.base = prefix('Date') === 'Date ' ? text : `${prefix('Date')}${text}`;
      return keys.length === 0 ? shape.base : shape;
    }
    case 'Error':
      shape.base = formatError(value as Error, constructor, tag, ctx, keys);
      return keys.length === 0 ? shape.base : shape;
    case 'ArrayBuffer':
      shape.braces[0] = `${prefix('ArrayBuffer')}{`;
      shape.formatter = formatArrayBuffer;
      keys.unshift('byteLength');
      return shape;
    case 'DataView':
      shape.braces[0] = `${prefix('DataView')}{`;
      keys.unshift('byteLength', 'byteOffset', 'buffer');
      return shape;
    case 'Promise':
      // A promise's state cannot be read from JS; Node reads it through V8 internals.
      shape.braces[0] = `${prefix('Promise')}{`;
      shape.formatter = () => ['<unknown>'];
      return shape;
    case 'WeakMap':
    case 'WeakSet':
      shape.braces[0] = `${prefix(kind)}{`;
      shape.formatter = () => ['<items unknown>'];
      return shape;
    case 'Number':
    case 'String':
    case 'Boolean':
    case 'BigInt':
    case 'Symbol': {
      let base = `[${kind}`;
      if (kind !== constructor) base += constructor === null ? ' (null prototype)' : ` (${constructor})`;
      const primitive = (value as { valueOf(): unknown }).valueOf();
      base += `: ${formatPrimitive(primitive, { ...ctx, indentationLvl: 0 })}]`;
      if (tag !== '' && tag !== constructor) base += ` [${tag}]`;
      shape.base = base;
      return keys.length === 0 ? base : shape;
    }
  }
}

const functionTypes = ['Function', 'AsyncFunction', 'GeneratorFunction', 'AsyncGeneratorFunction'];

function functionBase(fn: (...args: unknown[]) => unknown, constructor: string | null, tag: string): string {
  const source = FunctionPrototypeToString(fn);
  if (/^class(\s|\{)/.test(source) && source.endsWith('}')) {
    const name = (ObjectPrototypeHasOwnProperty(fn, 'name') && String(fn.name)) || '(anonymous)';
    let base = `class ${name}`;
    if (constructor !== 'Function' && constructor !== null) base += ` [${constructor}]`;
    if (tag !== '' && constructor !== tag) base += ` [${tag}]`;
    const superName =
      constructor === null ? '[null prototype]' : (Object.getPrototypeOf(fn) as { name?: string }).name;
    if (superName) base += ` extends ${superName}`;
    return `[${base}]`;
  }
  const type = constructor !== null && functionTypes.includes(constructor) ? constructor : 'Function';
  let base = `[${type}`;
  if (constructor === null) base += ' (null prototype)';
  base += fn.name === '' ? ' (anonymous)' : `: ${String(fn.name)}`;
  base += ']';
  if (constructor !== type && constructor !== null) base += ` ${constructor}`;
  if (tag !== '' && constructor !== tag) base += ` [${tag}]`;
  return base;
}
