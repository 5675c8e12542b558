import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KV } from 'nats';
import { StratoError } from '../core/strato-error.js';

const CLAIM_ATTEMPTS = 8;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Maps a function's idempotency key to the id of its first enqueue, atomically (KV create). Returns
 * `id` when this enqueue is the first (go on and publish), or the first one's id. A duplicate is only
 * answered once the first is durable: if the first enqueue died before that, this one takes the key
 * over, so a key never points at a message that does not exist.
 */
export async function claimIdempotencyKey(
  bucket: KV,
  claim: {
    functionName: string;
    key: string;
    id: string;
    /** How long to wait for the first enqueue to become durable before taking over. */
    waitMs: number;
    isDurable: (id: string) => Promise<boolean>;
  },
): Promise<string> {
  // Hashed: keys are caller-chosen text, KV keys a restricted alphabet.
  const kvKey = `${claim.functionName}.${createHash('sha256').update(claim.key).digest('hex')}`;
  for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
    try {
      await bucket.create(kvKey, encoder.encode(claim.id));
      return claim.id;
    } catch {
      const entry = await bucket.get(kvKey);
      // Gone between our create and get (aged out): try creating again.
      if (entry === null || entry.operation !== 'PUT') continue;
      const first = decoder.decode(entry.value);
      if (await waitUntil(() => claim.isDurable(first), claim.waitMs)) return first;
      try {
        await bucket.update(kvKey, encoder.encode(claim.id), entry.revision);
        return claim.id;
      } catch {
        continue;
      }
    }
  }
  throw new StratoError('QUEUE_UNAVAILABLE', 'idempotency key is contended');
}

async function waitUntil(probe: () => Promise<boolean>, waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
}
