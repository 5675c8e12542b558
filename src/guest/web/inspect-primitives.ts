/**
 * Primitive and property-key rendering for inspect.ts, following Node's util.inspect (no colors):
 * quote choice, escape sequences, `-0`, bigint suffix, long multi-line strings split into `+` parts.
 */
import { ObjectPrototypeToString, StringPrototypeCharCodeAt, StringPrototypeSlice } from './intrinsics.js';

/** Node's `meta` table: how each escaped code unit is written. */
function escapeOf(code: number): string {
  switch (code) {
    case 0x08:
      return '\\b';
    case 0x09:
      return '\\t';
    case 0x0a:
      return '\\n';
    case 0x0c:
      return '\\f';
    case 0x0d:
      return '\\r';
    case 0x27:
      return "\\'";
    case 0x5c:
      return '\\\\';
    default:
      return '\\x' + (code < 16 ? '0' : '') + code.toString(16).toUpperCase();
  }
}

/** Quotes `str` like Node: single quotes unless it contains one, then double quotes or backticks. */
export function strEscape(str: string): string {
  // -1: no quote needs escaping (double quote or backtick chosen).
  let quoteCode = 0x27;
  let quote = "'";
  if (str.includes("'")) {
    if (!str.includes('"')) {
      quoteCode = -1;
      quote = '"';
    } else if (!str.includes('`') && !str.includes('${')) {
      quoteCode = -1;
      quote = '`';
    }
  }
  let result = '';
  let last = 0;
  for (let i = 0; i < str.length; i++) {
    const code = StringPrototypeCharCodeAt(str, i);
    if (code === quoteCode || code === 0x5c || code < 0x20 || (code >= 0x7f && code < 0xa0)) {
      result += StringPrototypeSlice(str, last, i) + escapeOf(code);
      last = i + 1;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      if (code <= 0xdbff && i + 1 < str.length) {
        const next = StringPrototypeCharCodeAt(str, i + 1);
        if (next >= 0xdc00 && next <= 0xdfff) {
          i++;
          continue;
        }
      }
      result += StringPrototypeSlice(str, last, i) + '\\u' + code.toString(16);
      last = i + 1;
    }
  }
  return quote + result + StringPrototypeSlice(str, last) + quote;
}

export function formatNumber(value: number): string {
  return Object.is(value, -0) ? '-0' : `${value}`;
}

export interface PrimitiveContext {
  indentationLvl: number;
  breakLength: number;
  maxStringLength: number;
}

/** Strings shorter than this are never split over lines. */
const MIN_LINE_WIDTH = 16;

export function formatPrimitive(value: unknown, ctx: PrimitiveContext): string {
  switch (typeof value) {
    case 'string': {
      let trailer = '';
      let text = value;
      if (text.length > ctx.maxStringLength) {
        const remaining = text.length - ctx.maxStringLength;
        text = StringPrototypeSlice(text, 0, ctx.maxStringLength);
        trailer = `... ${remaining} more character${remaining > 1 ? 's' : ''}`;
      }
      if (text.length > MIN_LINE_WIDTH && text.length > ctx.breakLength - ctx.indentationLvl - 4) {
        // Node splits long strings after each newline and joins the pieces with ' +'.
        const lines = text.split(/(?<=\n)/);
        return lines.map(strEscape).join(` +\n${' '.repeat(ctx.indentationLvl + 2)}`) + trailer;
      }
      return strEscape(text) + trailer;
    }
    case 'number':
      return formatNumber(value);
    case 'bigint':
      return `${value}n`;
    case 'symbol':
      return value.toString();
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'object':
    case 'function':
      // Objects never get here (inspect.ts formats them); kept for exhaustiveness.
      return value === null ? 'null' : ObjectPrototypeToString(value);
  }
}

const identifierKey = /^[a-zA-Z_][a-zA-Z_0-9]*$/;

/** How a property key is written before `:`; non-enumerable ones in brackets like Node. */
export function formatKey(key: string | symbol, enumerable: boolean): string {
  if (typeof key === 'symbol') return `[${key.toString()}]`;
  if (key === '__proto__') return "['__proto__']";
  if (!enumerable) return `[${key}]`;
  return identifierKey.test(key) ? key : strEscape(key);
}
