/**
 * `atob` / `btoa` (HTML "forgiving-base64") and byte-level helpers the runtime uses to move bodies
 * to and from the host as base64 strings.
 */
import { DOMException } from './dom-exception.js';
import { bytesLength, fromCharCodes, StringPrototypeCharCodeAt } from './intrinsics.js';

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** Character codes of the alphabet, and its inverse; built on first use (cheaper isolate start). */
let encodeTable: number[] = [];
let decodeTable = new Int16Array(0);
function buildTables(): void {
  encodeTable = [];
  decodeTable = new Int16Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) {
    const code = StringPrototypeCharCodeAt(alphabet, i);
    encodeTable[i] = code;
    decodeTable[code] = i;
  }
}

/** Base64 of `bytes`, with padding. */
export function bytesToBase64(bytes: Uint8Array): string {
  if (encodeTable.length === 0) buildTables();
  const length = bytesLength(bytes);
  const out: number[] = [];
  let o = 0;
  let i = 0;
  for (; i + 2 < length; i += 3) {
    const triple = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out[o++] = encodeTable[triple >> 18] as number;
    out[o++] = encodeTable[(triple >> 12) & 63] as number;
    out[o++] = encodeTable[(triple >> 6) & 63] as number;
    out[o++] = encodeTable[triple & 63] as number;
  }
  const rest = length - i;
  if (rest > 0) {
    const triple = ((bytes[i] as number) << 16) | (rest === 2 ? (bytes[i + 1] as number) << 8 : 0);
    out[o++] = encodeTable[triple >> 18] as number;
    out[o++] = encodeTable[(triple >> 12) & 63] as number;
    out[o++] = rest === 2 ? (encodeTable[(triple >> 6) & 63] as number) : 61;
    out[o++] = 61;
  }
  return fromCharCodes(out, 0, o);
}

/** ASCII whitespace the forgiving decoder skips: tab, LF, FF, CR, space. */
function isAsciiWhitespace(code: number): boolean {
  return code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d || code === 0x20;
}

/** Forgiving-base64 decode; null when `input` is not valid base64. */
export function base64ToBytes(input: string): Uint8Array | null {
  if (decodeTable.length === 0) buildTables();
  const sextets: number[] = [];
  let count = 0;
  let padding = 0;
  for (let i = 0; i < input.length; i++) {
    const code = StringPrototypeCharCodeAt(input, i);
    if (isAsciiWhitespace(code)) continue;
    if (code === 61) {
      padding++;
      continue;
    }
    const value = code < 128 ? (decodeTable[code] as number) : -1;
    // Data after padding, or a character outside the alphabet.
    if (value < 0 || padding > 0) return null;
    sextets[count++] = value;
  }
  if (padding > 0 && ((count + padding) % 4 !== 0 || padding > 2)) return null;
  if (count % 4 === 1) return null;
  const bytes = new Uint8Array((count * 3) >> 2);
  let o = 0;
  let i = 0;
  for (; i + 3 < count; i += 4) {
    const quad =
      ((sextets[i] as number) << 18) |
      ((sextets[i + 1] as number) << 12) |
      ((sextets[i + 2] as number) << 6) |
      (sextets[i + 3] as number);
    bytes[o++] = quad >> 16;
    bytes[o++] = (quad >> 8) & 0xff;
    bytes[o++] = quad & 0xff;
  }
  const rest = count - i;
  if (rest >= 2) {
    const quad =
      ((sextets[i] as number) << 18) | ((sextets[i + 1] as number) << 12) | ((sextets[i + 2] ?? 0) << 6);
    bytes[o++] = quad >> 16;
    if (rest === 3) bytes[o++] = (quad >> 8) & 0xff;
  }
  return bytes;
}

export function btoa(data: unknown): string {
  if (arguments.length === 0) throw new TypeError('The "data" argument must be specified');
  const input = String(data);
  const bytes = new Uint8Array(input.length);
  for (let i = 0; i < input.length; i++) {
    const code = StringPrototypeCharCodeAt(input, i);
    if (code > 0xff) throw new DOMException('Invalid character', 'InvalidCharacterError');
    bytes[i] = code;
  }
  return bytesToBase64(bytes);
}

export function atob(data: unknown): string {
  if (arguments.length === 0) throw new TypeError('The "data" argument must be specified');
  const bytes = base64ToBytes(String(data));
  if (bytes === null) {
    throw new DOMException('The string to be decoded is not correctly encoded.', 'InvalidCharacterError');
  }
  return fromCharCodes(bytes, 0, bytesLength(bytes));
}
