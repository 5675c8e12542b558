import type { QueueErrorInfo } from '../core/invocation-queue.js';
import { StratoError } from '../core/strato-error.js';

/** Recorded on an attempt whose consumer neither acked, retried nor extended before its lease ran out. */
export const LEASE_EXPIRED_ERROR: QueueErrorInfo = {
  code: 'LEASE_EXPIRED',
  message: 'the consumer did not settle the invocation before its lease expired',
};

export function notFound(id: string, what = 'queued invocation'): StratoError {
  return new StratoError('INVOCATION_NOT_FOUND', `no ${what} with id ${id}`, { details: { id } });
}

export function leaseError(id: string): StratoError {
  return new StratoError(
    'LEASE_LOST',
    `the lease on invocation ${id} expired or is held by another consumer; its result must be discarded`,
    { details: { id } },
  );
}
