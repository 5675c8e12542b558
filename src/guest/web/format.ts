/**
 * `formatLogArgs`: what Node's `console.log(...args)` prints (`util.format`), for the runtime's
 * console capture. A leading string is a format string with `%s %d %i %f %j %o %O %c %%`; every other
 * argument is appended after a space, strings as they are and anything else through `inspect`.
 */
import { inspect } from './inspect.js';
import { formatNumber } from './inspect-primitives.js';
import {
  ArrayPrototypeJoin,
  JSONStringify,
  StringPrototypeCharCodeAt,
  StringPrototypeSlice,
} from './intrinsics.js';

/** Names of constructors whose `toString` Node considers built-in (so `%s` inspects instead). */
const builtInConstructors = new Set([
  'Object',
  'Array',
  'Error',
  'EvalError',
  'RangeError',
  'ReferenceError',
  'SyntaxError',
  'TypeError',
  'URIError',
  'AggregateError',
  'Date',
  'RegExp',
  'Map',
  'Set',
  'WeakMap',
  'WeakSet',
  'Promise',
  'ArrayBuffer',
  'DataView',
  'Function',
  'Boolean',
  'Number',
  'String',
  'Symbol',
  'BigInt',
]);

/** Whether `value`'s `toString` is a built-in one (then `%s` inspects the value, as Node does). */
function hasBuiltInToString(value: object): boolean {
  if (typeof (value as { toString?: unknown }).toString !== 'function') return true;
  if (Object.prototype.hasOwnProperty.call(value, 'toString')) return false;
  let pointer: object | null = value;
  do {
    pointer = Object.getPrototypeOf(pointer) as object | null;
  } while (pointer !== null && !Object.prototype.hasOwnProperty.call(pointer, 'toString'));
  if (pointer === null) return true;
  const descriptor = Object.getOwnPropertyDescriptor(pointer, 'constructor');
  return (
    typeof descriptor?.value === 'function' &&
    builtInConstructors.has(String((descriptor.value as { name: unknown }).name))
  );
}

function tryStringify(value: unknown): string {
  try {
    return String(JSONStringify(value));
  } catch (error) {
    if (error instanceof TypeError && /circular/i.test(error.message)) return '[Circular]';
    throw error;
  }
}

function formatSubstitution(code: number, arg: unknown): string | undefined {
  switch (code) {
    case 0x73: // s
      if (typeof arg === 'number') return formatNumber(arg);
      if (typeof arg === 'bigint') return `${arg}n`;
      if (typeof arg !== 'object' || arg === null || !hasBuiltInToString(arg)) return String(arg);
      return inspect(arg, { depth: 0 });
    case 0x6a: // j
      return tryStringify(arg);
    case 0x64: // d
      if (typeof arg === 'bigint') return `${arg}n`;
      return typeof arg === 'symbol' ? 'NaN' : formatNumber(Number(arg));
    case 0x4f: // O
      return inspect(arg);
    case 0x6f: // o
      return inspect(arg, { showHidden: true, depth: 4 });
    case 0x69: // i
      if (typeof arg === 'bigint') return `${arg}n`;
      return typeof arg === 'symbol' ? 'NaN' : formatNumber(Number.parseInt(arg as string));
    case 0x66: // f
      return typeof arg === 'symbol' ? 'NaN' : formatNumber(Number.parseFloat(arg as string));
    case 0x63: // c: CSS, meaningless in a log line
      return '';
    default:
      return undefined;
  }
}

/**
 * Formats console arguments exactly like Node's `util.format` for the cases functions hit in practice
 * (no colors; `%o` shows non-enumerable properties but not Node's extra function/typed-array details).
 */
export function formatLogArgs(args: unknown[]): string {
  const first = args[0];
  let argIndex = 0;
  let str = '';
  let join = '';
  if (typeof first === 'string') {
    if (args.length === 1) return first;
    let lastPos = 0;
    for (let i = 0; i < first.length - 1; i++) {
      if (StringPrototypeCharCodeAt(first, i) !== 0x25) continue; // '%'
      const next = StringPrototypeCharCodeAt(first, ++i);
      if (argIndex + 1 !== args.length) {
        if (next === 0x25) {
          str += StringPrototypeSlice(first, lastPos, i);
          lastPos = i + 1;
          continue;
        }
        const replacement = formatSubstitution(next, args[argIndex + 1]);
        if (replacement === undefined) continue;
        argIndex++;
        if (lastPos !== i - 1) str += StringPrototypeSlice(first, lastPos, i - 1);
        str += replacement;
        lastPos = i + 1;
      } else if (next === 0x25) {
        str += StringPrototypeSlice(first, lastPos, i);
        lastPos = i + 1;
      }
    }
    if (lastPos !== 0) {
      argIndex++;
      join = ' ';
      if (lastPos < first.length) str += StringPrototypeSlice(first, lastPos);
    }
  }
  const parts: string[] = [str];
  for (; argIndex < args.length; argIndex++) {
    const value = args[argIndex];
    parts[parts.length] = join + (typeof value === 'string' ? value : inspect(value));
    join = ' ';
  }
  return ArrayPrototypeJoin(parts, '');
}
