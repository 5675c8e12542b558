/**
 * Percent-encoding (WHATWG URL standard): the application/x-www-form-urlencoded serializer and parser
 * used by URLSearchParams, and the userinfo encode set used by the URL setters.
 */
import { fromCharCodes, StringPrototypeCharCodeAt } from './intrinsics.js';
import { utf8Decode, utf8Encode } from './utf8.js';

const hexDigits = '0123456789ABCDEF';

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/** Bytes that the urlencoded serializer leaves as they are: `*-._`, digits, ASCII letters. */
function isFormSafe(byte: number): boolean {
  return (
    byte === 0x2a ||
    byte === 0x2d ||
    byte === 0x2e ||
    byte === 0x5f ||
    (byte >= 0x30 && byte <= 0x39) ||
    (byte >= 0x41 && byte <= 0x5a) ||
    (byte >= 0x61 && byte <= 0x7a)
  );
}

/** The userinfo percent-encode set: C0 controls, space, non-ASCII and `"#<>?\`{}/:;=@[\\]^|`. */
function inUserinfoSet(byte: number): boolean {
  return byte <= 0x20 || byte >= 0x7f || '"#<>?`{}/:;=@[\\]^|'.indexOf(String.fromCharCode(byte)) !== -1;
}

function encode(input: string, keep: (byte: number) => boolean, spaceAsPlus: boolean): string {
  const bytes = utf8Encode(input);
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (spaceAsPlus && byte === 0x20) out += '+';
    else if (keep(byte)) out += String.fromCharCode(byte);
    else out += '%' + hexDigits.charAt(byte >> 4) + hexDigits.charAt(byte & 15);
  }
  return out;
}

/** Serializes one name or value with the application/x-www-form-urlencoded byte serializer. */
export function formEncode(input: string): string {
  return encode(input, isFormSafe, true);
}

export function userinfoEncode(input: string): string {
  return encode(input, (byte) => !inUserinfoSet(byte), false);
}

/** Percent-decodes `input` (after `+` → space when `plusAsSpace`), then UTF-8 decodes it. */
export function percentDecode(input: string, plusAsSpace: boolean): string {
  const bytes = utf8Encode(input);
  const out = new Uint8Array(bytes.length);
  let o = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (byte === 0x25 && i + 2 < bytes.length) {
      const high = hexValue(bytes[i + 1] as number);
      const low = hexValue(bytes[i + 2] as number);
      if (high >= 0 && low >= 0) {
        out[o++] = (high << 4) | low;
        i += 2;
        continue;
      }
    }
    out[o++] = plusAsSpace && byte === 0x2b ? 0x20 : byte;
  }
  return utf8Decode(out.subarray(0, o), false);
}

/** Parses an application/x-www-form-urlencoded string into name-value pairs. */
export function parseFormUrlencoded(input: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  let start = 0;
  while (start <= input.length) {
    let end = input.indexOf('&', start);
    if (end === -1) end = input.length;
    if (end > start) {
      const sequence = input.slice(start, end);
      const equals = sequence.indexOf('=');
      const name = equals === -1 ? sequence : sequence.slice(0, equals);
      const value = equals === -1 ? '' : sequence.slice(equals + 1);
      pairs.push([percentDecode(name, true), percentDecode(value, true)]);
    }
    start = end + 1;
  }
  return pairs;
}

/** Replaces lone surrogates with U+FFFD, as WebIDL's USVString conversion does. */
export function toUSVString(value: unknown): string {
  const input = String(value);
  let output: number[] | undefined;
  for (let i = 0; i < input.length; i++) {
    const unit = StringPrototypeCharCodeAt(input, i);
    if (unit < 0xd800 || unit > 0xdfff) continue;
    const next = i + 1 < input.length ? StringPrototypeCharCodeAt(input, i + 1) : 0;
    if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      i++;
      continue;
    }
    output ??= codeUnits(input);
    output[i] = 0xfffd;
  }
  return output ? fromCharCodes(output, 0, output.length) : input;
}

function codeUnits(input: string): number[] {
  const units: number[] = [];
  for (let i = 0; i < input.length; i++) units[i] = StringPrototypeCharCodeAt(input, i);
  return units;
}
