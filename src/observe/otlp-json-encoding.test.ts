import { describe, expect, it } from 'vitest';
import { unixNanos, type FinishedSpan } from './finished-span.js';
import { encodeOtlpJson } from './otlp-json-encoding.js';

const span: FinishedSpan = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'f61775e8617a518a',
  parentSpanId: 'b7ad6b7169203331',
  tracestate: undefined,
  functionName: 'hello',
  version: 3,
  trigger: 'http',
  startedAtMs: 1_796_408_738_957,
  durationMs: 0.4375,
  cold: false,
  outcome: 'error',
  errorMessage: 'a "quoted"\nmessage',
};

describe('unixNanos', () => {
  it('writes epoch ms as exact decimal nanoseconds, past the range of exact doubles', () => {
    expect(unixNanos(1_796_408_738_957)).toBe('1796408738957000000');
    expect(unixNanos(1_796_408_738_957.25)).toBe('1796408738957250000');
    // A fraction that rounds up to a whole millisecond carries into it.
    expect(unixNanos(5.9999999)).toBe('6000000');
  });
});

describe('encodeOtlpJson', () => {
  it('writes the ExportTraceServiceRequest the SDK wrote for the same span (shape checked against it)', () => {
    const request = JSON.parse(encodeOtlpJson([span], 'strato')) as unknown;
    expect(request).toEqual({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'strato' } }] },
          scopeSpans: [
            {
              scope: { name: 'strato' },
              spans: [
                {
                  traceId: span.traceId,
                  spanId: span.spanId,
                  parentSpanId: span.parentSpanId,
                  flags: 0x301,
                  name: 'hello',
                  kind: 2,
                  startTimeUnixNano: '1796408738957000000',
                  endTimeUnixNano: '1796408738957437500',
                  attributes: [
                    { key: 'faas.name', value: { stringValue: 'hello' } },
                    { key: 'faas.version', value: { stringValue: '3' } },
                    { key: 'faas.coldstart', value: { boolValue: false } },
                    { key: 'strato.trigger', value: { stringValue: 'http' } },
                    { key: 'strato.outcome', value: { stringValue: 'error' } },
                  ],
                  status: { code: 2, message: 'a "quoted"\nmessage' },
                },
              ],
            },
          ],
        },
      ],
    });
  });

  it('leaves out the parent of a root span and keeps a tracestate; many spans share one resource', () => {
    const root = { ...span, parentSpanId: undefined, tracestate: 'v=1', outcome: 'success' as const };
    const request = JSON.parse(encodeOtlpJson([root, span], 'svc')) as {
      resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<Record<string, unknown>> }> }>;
    };
    const spans = request.resourceSpans[0]!.scopeSpans[0]!.spans;
    expect(spans).toHaveLength(2);
    expect(spans[0]).not.toHaveProperty('parentSpanId');
    expect(spans[0]).toMatchObject({ traceState: 'v=1', flags: 0x101, status: { code: 0 } });
  });
});
