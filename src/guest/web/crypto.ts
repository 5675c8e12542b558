/**
 * `crypto.getRandomValues` and `crypto.randomUUID`, drawing bytes from the host's CSPRNG. Bytes are
 * fetched per call, never pooled: a pool would be copied into every isolate started from a snapshot.
 */
import { DOMException } from './dom-exception.js';
import { typedArrayName, viewBytes } from './intrinsics.js';

type RandomBytes = (length: number) => ArrayBuffer;

let hostRandomBytes: RandomBytes | undefined;

/** Called once by installWebApis with the host binding. */
export function setRandomSource(randomBytes: RandomBytes): void {
  hostRandomBytes = randomBytes;
}

/** The largest request the Web Crypto API allows, in bytes. */
const MAX_RANDOM_BYTES = 65536;

const integerArrays = [
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'BigInt64Array',
  'BigUint64Array',
];

function randomBytes(length: number): Uint8Array {
  if (hostRandomBytes === undefined) throw new Error('Random source not installed');
  const take = hostRandomBytes;
  const bytes = new Uint8Array(take(length));
  if (bytes.length !== length) throw new Error('Random source returned the wrong number of bytes');
  return bytes;
}

/** Byte-to-hex table, built on first use to keep isolate start-up cheap. */
let hex: string[] | undefined;
function hexTable(): string[] {
  if (hex === undefined) {
    // String indexing only: user code may have patched Number/String methods by the first call.
    const digits = '0123456789abcdef';
    hex = [];
    for (let i = 0; i < 256; i++) hex[i] = (digits[i >> 4] as string) + (digits[i & 15] as string);
  }
  return hex;
}

export class Crypto {
  getRandomValues<T extends ArrayBufferView | null>(array: T): T {
    const name = typedArrayName(array);
    if (name === undefined || !integerArrays.includes(name)) {
      throw new DOMException('The data argument must be an integer-type TypedArray', 'TypeMismatchError');
    }
    const target = viewBytes(array as ArrayBufferView);
    if (target.length > MAX_RANDOM_BYTES) {
      throw new DOMException('The requested length exceeds 65,536 bytes', 'QuotaExceededError');
    }
    if (target.length > 0) target.set(randomBytes(target.length));
    return array;
  }

  randomUUID(): string {
    const b = randomBytes(16);
    b[6] = ((b[6] as number) & 0x0f) | 0x40; // version 4
    b[8] = ((b[8] as number) & 0x3f) | 0x80; // RFC 4122 variant
    const table = hexTable();
    const h = (i: number): string => table[b[i] as number] as string;
    return (
      h(0) +
      h(1) +
      h(2) +
      h(3) +
      '-' +
      h(4) +
      h(5) +
      '-' +
      h(6) +
      h(7) +
      '-' +
      h(8) +
      h(9) +
      '-' +
      h(10) +
      h(11) +
      h(12) +
      h(13) +
      h(14) +
      h(15)
    );
  }

  get [Symbol.toStringTag](): string {
    return 'Crypto';
  }
}
