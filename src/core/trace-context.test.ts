import { describe, expect, it } from 'vitest';
import {
  formatTraceparent,
  isValidSpanId,
  isValidTraceId,
  parseTraceparent,
  parseXRayTraceHeader,
  toXRayTraceHeader,
} from './trace-context.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const VALID = `00-${TRACE_ID}-${PARENT_ID}-01`;

describe('parseTraceparent', () => {
  it('reads the spec example', () => {
    expect(parseTraceparent(VALID)).toStrictEqual({
      traceId: TRACE_ID,
      parentId: PARENT_ID,
      flags: 1,
      tracestate: undefined,
    });
  });

  it('keeps unknown flag bits and the unsampled flag', () => {
    expect(parseTraceparent(`00-${TRACE_ID}-${PARENT_ID}-00`)?.flags).toBe(0);
    expect(parseTraceparent(`00-${TRACE_ID}-${PARENT_ID}-09`)?.flags).toBe(9);
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['two headers', [VALID, VALID]],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${PARENT_ID}-01`],
    ['all-zero parent id', `00-${TRACE_ID}-${'0'.repeat(16)}-01`],
    ['upper-case hex', `00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01`],
    ['version ff', `ff-${TRACE_ID}-${PARENT_ID}-01`],
    ['non-hex version', `0g-${TRACE_ID}-${PARENT_ID}-01`],
    ['version 00 with a tail', `${VALID}-extra`],
    ['short trace id', `00-${TRACE_ID.slice(1)}-${PARENT_ID}-01`],
    ['long parent id', `00-${TRACE_ID}-${PARENT_ID}0-1`],
    ['non-hex flags', `00-${TRACE_ID}-${PARENT_ID}-0x`],
    ['wrong separators', `00_${TRACE_ID}_${PARENT_ID}_01`],
    ['spaces around', ` ${VALID.slice(1)}`],
  ])('refuses %s', (_name, header) => {
    expect(parseTraceparent(header)).toBeUndefined();
  });

  it('reads a later version as 00 when its tail is separated by a dash', () => {
    expect(parseTraceparent(`01-${TRACE_ID}-${PARENT_ID}-01-what-comes-next`)?.traceId).toBe(TRACE_ID);
    expect(parseTraceparent(`01-${TRACE_ID}-${PARENT_ID}-01`)?.traceId).toBe(TRACE_ID);
    expect(parseTraceparent(`01-${TRACE_ID}-${PARENT_ID}-01x`)).toBeUndefined();
  });

  it('passes a well-formed tracestate through and drops a bad one', () => {
    expect(parseTraceparent(VALID, 'congo=t61rcWkgMzE, rojo=00f067aa0ba902b7')?.tracestate).toBe(
      'congo=t61rcWkgMzE, rojo=00f067aa0ba902b7',
    );
    expect(parseTraceparent(VALID, ['a=1', 'b=2'])?.tracestate).toBe('a=1,b=2');
    expect(parseTraceparent(VALID, 'x'.repeat(513))?.tracestate).toBeUndefined();
    expect(parseTraceparent(VALID, 'a=\u00e9')?.tracestate).toBeUndefined();
    expect(parseTraceparent(VALID, '  ')?.tracestate).toBeUndefined();
  });
});

describe('formats', () => {
  it('formats version 00 with only the sampled bit', () => {
    expect(formatTraceparent({ traceId: TRACE_ID, spanId: PARENT_ID, flags: 1 })).toBe(VALID);
    expect(formatTraceparent({ traceId: TRACE_ID, spanId: PARENT_ID, flags: 8 })).toBe(
      `00-${TRACE_ID}-${PARENT_ID}-00`,
    );
    expect(
      parseTraceparent(formatTraceparent({ traceId: TRACE_ID, spanId: PARENT_ID, flags: 0 }))?.flags,
    ).toBe(0);
  });

  it('maps the ids onto an X-Ray trace header', () => {
    expect(toXRayTraceHeader({ traceId: TRACE_ID, spanId: PARENT_ID, flags: 1 })).toBe(
      'Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1',
    );
    expect(toXRayTraceHeader({ traceId: TRACE_ID, spanId: PARENT_ID, flags: 0 })).toMatch(/;Sampled=0$/);
  });

  it('reads back the X-Ray header it writes, and nothing looser', () => {
    const header = toXRayTraceHeader({ traceId: TRACE_ID, spanId: PARENT_ID, flags: 1 });
    expect(parseXRayTraceHeader(header)).toStrictEqual({
      traceId: TRACE_ID,
      parentId: PARENT_ID,
      flags: 1,
      tracestate: undefined,
    });
    expect(
      parseXRayTraceHeader(toXRayTraceHeader({ traceId: TRACE_ID, spanId: PARENT_ID, flags: 0 }))?.flags,
    ).toBe(0);
    expect(parseXRayTraceHeader(`${header};Lineage=a:1`)).toBeUndefined();
    expect(parseXRayTraceHeader(header.replace('Root=1-', 'Root=2-'))).toBeUndefined();
    expect(
      parseXRayTraceHeader(`Root=1-00000000-${'0'.repeat(24)};Parent=${PARENT_ID};Sampled=1`),
    ).toBeUndefined();
    expect(parseXRayTraceHeader([header, header])).toBeUndefined();
  });

  it('validates ids', () => {
    expect(isValidTraceId(TRACE_ID)).toBe(true);
    expect(isValidTraceId(PARENT_ID)).toBe(false);
    expect(isValidSpanId(PARENT_ID)).toBe(true);
    expect(isValidSpanId('0'.repeat(16))).toBe(false);
  });
});
