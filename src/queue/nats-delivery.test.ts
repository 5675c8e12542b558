import { describe, expect, it } from 'vitest';
import { decideDelivery } from './nats-delivery.js';
import { newRecord, type NatsRecord } from './nats-queue-record.js';

const NOW = 1_700_000_000_000;
const message = {
  functionName: 'f',
  qualifier: '$LATEST',
  event: '{}',
  enqueuedAt: NOW - 10,
  maxAttempts: 2,
  maxEventAgeMs: 60_000,
};

function running(overrides: Partial<NatsRecord>): NatsRecord {
  return {
    ...newRecord('id', message, NOW - 100, NOW - 100),
    status: 'running',
    attempts: 1,
    deliveries: 1,
    leaseToken: 'old',
    ackSubject: '$JS.ACK.old',
    history: [{ delivery: 1, startedAt: NOW - 100, endedAt: null, counted: true, error: null }],
    ...overrides,
  };
}

describe('decideDelivery', () => {
  it('leases a visible queued record with a fresh token and attempt + 1', () => {
    const decision = decideDelivery(newRecord('id', message, NOW, NOW), NOW, 500, '$JS.ACK.new');
    expect(decision.kind).toBe('lease');
    if (decision.kind !== 'lease') return;
    expect(decision.next).toMatchObject({
      status: 'running',
      attempts: 1,
      deliveries: 1,
      visibleAt: NOW + 500,
      ackSubject: '$JS.ACK.new',
    });
    expect(decision.next.leaseToken).toEqual(expect.any(String));
  });

  it('puts back a delayed record and a lease that still holds', () => {
    expect(decideDelivery(newRecord('id', message, NOW, NOW + 300), NOW, 500, null)).toEqual({
      kind: 'later',
      delayMs: 300,
      leased: false,
    });
    expect(decideDelivery(running({ visibleAt: NOW + 50 }), NOW, 500, null)).toEqual({
      kind: 'later',
      delayMs: 50,
      leased: true,
    });
  });

  it('takes over a lapsed lease, closing its attempt as expired', () => {
    const decision = decideDelivery(running({ visibleAt: NOW }), NOW, 500, null);
    expect(decision.kind).toBe('lease');
    if (decision.kind !== 'lease') return;
    expect(decision.next.leaseToken).not.toBe('old');
    expect(decision.next.attempts).toBe(2);
    expect(decision.next.history.map((h) => h.error?.code ?? null)).toEqual(['LEASE_EXPIRED', null]);
  });

  it('dead-letters a lease that lapsed on the last attempt', () => {
    const decision = decideDelivery(running({ visibleAt: NOW - 1, attempts: 2 }), NOW, 500, null);
    expect(decision.kind).toBe('expire');
    if (decision.kind !== 'expire') return;
    expect(decision.next).toMatchObject({
      status: 'dead',
      leaseToken: null,
      error: { code: 'LEASE_EXPIRED' },
    });
  });

  it('drops settled copies and files dead ones', () => {
    for (const status of ['succeeded', 'failed'] as const) {
      expect(decideDelivery(running({ status }), NOW, 500, null)).toEqual({ kind: 'discard' });
    }
    expect(decideDelivery(running({ status: 'dead' }), NOW, 500, null)).toEqual({ kind: 'file-dead' });
  });
});
