import { randomFillSync } from 'node:crypto';

/**
 * Random W3C trace and span ids. Bytes come from one pooled buffer refilled 4 KiB at a time, so an id
 * costs a hex slice rather than a call into the CSPRNG per request. An all-zero id (invalid) is redrawn.
 */
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

function randomHex(bytes: number): string {
  for (;;) {
    if (offset + bytes > POOL_BYTES) {
      randomFillSync(pool);
      offset = 0;
    }
    const hex = pool.toString('hex', offset, offset + bytes);
    offset += bytes;
    if (!/^0+$/.test(hex)) return hex;
  }
}

/** 16 random bytes as 32 lowercase hex digits. */
export function newTraceId(): string {
  return randomHex(16);
}

/** 8 random bytes as 16 lowercase hex digits. */
export function newSpanId(): string {
  return randomHex(8);
}
