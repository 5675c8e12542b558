import type { WebGlobals } from './web-globals.js';

import { base64ToBytes as decodeBase64, bytesToBase64 } from './web/base64.js';

/** Base64 of bytes: responses cross to the host as base64 inside JSON. */
export { bytesToBase64 };

/** Bytes of a base64 string the host sent; throws on input that is not base64. */
export function base64ToBytes(text: string): Uint8Array {
  const bytes = decodeBase64(text);
  if (bytes === null) throw new TypeError('invalid base64');
  return bytes;
}

/** UTF-8 codec over the installed TextEncoder/TextDecoder, captured once. */
export function createUtf8(web: Pick<WebGlobals, 'TextEncoder' | 'TextDecoder'>) {
  const encoder = new web.TextEncoder();
  const decoder = new web.TextDecoder();
  return {
    encode: (text: string): Uint8Array => encoder.encode(text),
    decode: (bytes: Uint8Array): string => decoder.decode(bytes),
  };
}

export type Utf8 = ReturnType<typeof createUtf8>;
