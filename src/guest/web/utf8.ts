/**
 * UTF-8 encoding and decoding (WHATWG Encoding standard), shared by TextEncoder/TextDecoder, bodies,
 * URL percent-encoding and base64 helpers. Pure JS: the isolate has no TextEncoder of its own.
 */
import { bytesLength, fromCharCodes, StringPrototypeCharCodeAt } from './intrinsics.js';

const REPLACEMENT = 0xfffd;

/** Number of UTF-8 bytes `input` encodes to (lone surrogates count as U+FFFD, 3 bytes). */
function utf8Length(input: string): number {
  let length = 0;
  for (let i = 0; i < input.length; i++) {
    const unit = StringPrototypeCharCodeAt(input, i);
    if (unit < 0x80) length += 1;
    else if (unit < 0x800) length += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < input.length && isLowSurrogate(input, i + 1)) {
      length += 4;
      i++;
    } else length += 3;
  }
  return length;
}

function isLowSurrogate(input: string, index: number): boolean {
  const unit = StringPrototypeCharCodeAt(input, index);
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/**
 * Writes as much of `input` as fits into `dest`, never splitting a code point.
 * @returns code units read and bytes written, as `TextEncoder.encodeInto` reports them.
 */
export function utf8EncodeInto(input: string, dest: Uint8Array): { read: number; written: number } {
  const capacity = bytesLength(dest);
  let written = 0;
  let read = 0;
  while (read < input.length) {
    let codePoint = StringPrototypeCharCodeAt(input, read);
    let units = 1;
    if (codePoint >= 0xd800 && codePoint <= 0xdfff) {
      if (codePoint <= 0xdbff && read + 1 < input.length && isLowSurrogate(input, read + 1)) {
        codePoint =
          0x10000 + ((codePoint - 0xd800) << 10) + (StringPrototypeCharCodeAt(input, read + 1) - 0xdc00);
        units = 2;
      } else codePoint = REPLACEMENT;
    }
    if (codePoint < 0x80) {
      if (written + 1 > capacity) break;
      dest[written++] = codePoint;
    } else if (codePoint < 0x800) {
      if (written + 2 > capacity) break;
      dest[written++] = 0xc0 | (codePoint >> 6);
      dest[written++] = 0x80 | (codePoint & 0x3f);
    } else if (codePoint < 0x10000) {
      if (written + 3 > capacity) break;
      dest[written++] = 0xe0 | (codePoint >> 12);
      dest[written++] = 0x80 | ((codePoint >> 6) & 0x3f);
      dest[written++] = 0x80 | (codePoint & 0x3f);
    } else {
      if (written + 4 > capacity) break;
      dest[written++] = 0xf0 | (codePoint >> 18);
      dest[written++] = 0x80 | ((codePoint >> 12) & 0x3f);
      dest[written++] = 0x80 | ((codePoint >> 6) & 0x3f);
      dest[written++] = 0x80 | (codePoint & 0x3f);
    }
    read += units;
  }
  return { read, written };
}

export function utf8Encode(input: string): Uint8Array {
  const bytes = new Uint8Array(utf8Length(input));
  utf8EncodeInto(input, bytes);
  return bytes;
}

/** Decoder state carried between `decode(..., { stream: true })` calls. */
export interface Utf8DecoderState {
  /** Bytes of an incomplete sequence at the end of the previous chunk. */
  pending: number[];
}

/**
 * The WHATWG UTF-8 decoder: invalid or truncated sequences become one U+FFFD per maximal subpart
 * (or a TypeError when `fatal`). When `state` is given, an incomplete trailing sequence is kept in it.
 */
export function utf8Decode(bytes: Uint8Array, fatal: boolean, state?: Utf8DecoderState): string {
  const input = state && state.pending.length > 0 ? concatPending(state.pending, bytes) : bytes;
  const end = bytesLength(input);
  const units: number[] = [];
  let unitCount = 0;
  let result = '';
  let i = 0;
  while (i < end) {
    const lead = input[i] as number;
    if (lead < 0x80) {
      units[unitCount++] = lead;
      i++;
    } else {
      let needed = 0;
      let lower = 0x80;
      let upper = 0xbf;
      let codePoint = 0;
      if (lead >= 0xc2 && lead <= 0xdf) {
        needed = 1;
        codePoint = lead & 0x1f;
      } else if (lead >= 0xe0 && lead <= 0xef) {
        if (lead === 0xe0) lower = 0xa0;
        if (lead === 0xed) upper = 0x9f;
        needed = 2;
        codePoint = lead & 0xf;
      } else if (lead >= 0xf0 && lead <= 0xf4) {
        if (lead === 0xf0) lower = 0x90;
        if (lead === 0xf4) upper = 0x8f;
        needed = 3;
        codePoint = lead & 0x7;
      }
      let seen = 0;
      let j = i + 1;
      if (needed > 0) {
        while (seen < needed && j < end) {
          const next = input[j] as number;
          if (next < lower || next > upper) break;
          codePoint = (codePoint << 6) | (next & 0x3f);
          lower = 0x80;
          upper = 0xbf;
          seen++;
          j++;
        }
        if (seen < needed && j >= end && state) {
          // Truncated at the end of a streamed chunk: wait for the next chunk.
          const pending: number[] = [];
          for (let k = i; k < end; k++) pending[k - i] = input[k] as number;
          state.pending = pending;
          return result + fromCharCodes(units, 0, unitCount);
        }
      }
      if (seen < needed || needed === 0) {
        if (fatal) throw new TypeError('The encoded data was not valid for encoding utf-8');
        units[unitCount++] = REPLACEMENT;
        i = needed === 0 ? i + 1 : j;
      } else {
        if (codePoint >= 0x10000) {
          codePoint -= 0x10000;
          units[unitCount++] = 0xd800 + (codePoint >> 10);
          units[unitCount++] = 0xdc00 + (codePoint & 0x3ff);
        } else units[unitCount++] = codePoint;
        i = j;
      }
    }
    if (unitCount >= 0x4000) {
      result += fromCharCodes(units, 0, unitCount);
      unitCount = 0;
    }
  }
  if (state) state.pending = [];
  return result + fromCharCodes(units, 0, unitCount);
}

function concatPending(pending: number[], bytes: Uint8Array): Uint8Array {
  const length = bytesLength(bytes);
  const joined = new Uint8Array(pending.length + length);
  for (let k = 0; k < pending.length; k++) joined[k] = pending[k] as number;
  for (let k = 0; k < length; k++) joined[pending.length + k] = bytes[k] as number;
  return joined;
}
