import { describe, expect, it } from 'vitest';
import type { FinishedSpan } from './finished-span.js';
import { encodeOtlpProtobuf } from './otlp-protobuf-encoding.js';

/** A field of a decoded message: a varint or fixed number, or the bytes of a length-delimited one. */
type Value = bigint | Buffer;
type Message = Map<number, Value[]>;

/** A minimal protobuf wire-format reader, independent of the encoder, for checking field numbers and types. */
function decode(bytes: Buffer): Message {
  const fields: Message = new Map();
  let at = 0;
  const varint = () => {
    let value = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = bytes[at++]!;
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return value;
    }
  };
  while (at < bytes.length) {
    const key = Number(varint());
    const [field, wire] = [key >> 3, key & 7];
    let value: Value;
    if (wire === 0) value = varint();
    else if (wire === 1) value = bytes.readBigUInt64LE((at += 8) - 8);
    else if (wire === 5) value = BigInt(bytes.readUInt32LE((at += 4) - 4));
    else if (wire === 2) {
      const length = Number(varint());
      value = bytes.subarray(at, (at += length));
    } else throw new Error(`wire type ${wire}`);
    fields.set(field, [...(fields.get(field) ?? []), value]);
  }
  return fields;
}

const one = (message: Message, field: number) => message.get(field)?.[0];
const sub = (message: Message, field: number) => decode(one(message, field) as Buffer);
const text = (message: Message, field: number) => (one(message, field) as Buffer).toString('utf8');
const hex = (message: Message, field: number) => (one(message, field) as Buffer).toString('hex');

const span: FinishedSpan = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'f61775e8617a518a',
  parentSpanId: 'b7ad6b7169203331',
  tracestate: 'v=1',
  functionName: 'hello',
  version: 3,
  trigger: 'invoke',
  startedAtMs: 1_796_408_738_957,
  durationMs: 0.5,
  cold: true,
  outcome: 'timeout',
  errorMessage: 'timed out',
};

describe('encodeOtlpProtobuf', () => {
  it('writes ExportTraceServiceRequest with trace.proto field numbers and wire types', () => {
    const request = decode(
      Buffer.from(encodeOtlpProtobuf([span, { ...span, spanId: '1111111111111111' }], 'svc')),
    );
    const resourceSpans = sub(request, 1);
    const resourceAttribute = sub(sub(resourceSpans, 1), 1);
    expect([text(resourceAttribute, 1), text(sub(resourceAttribute, 2), 1)]).toEqual(['service.name', 'svc']);
    const scopeSpans = sub(resourceSpans, 2);
    expect(text(sub(scopeSpans, 1), 1)).toBe('strato');
    expect(scopeSpans.get(2)).toHaveLength(2);
    const encoded = sub(scopeSpans, 2);
    expect([hex(encoded, 1), hex(encoded, 2), text(encoded, 3), hex(encoded, 4)]).toEqual([
      span.traceId,
      span.spanId,
      'v=1',
      span.parentSpanId,
    ]);
    expect([text(encoded, 5), one(encoded, 6)]).toEqual(['hello', 2n]);
    expect([one(encoded, 7), one(encoded, 8)]).toEqual([1796408738957000000n, 1796408738957500000n]);
    const attributes = (encoded.get(9) as Buffer[]).map((kv) => {
      const pair = decode(kv);
      const value = decode(one(pair, 2) as Buffer);
      return [text(pair, 1), value.has(1) ? text(value, 1) : one(value, 2)];
    });
    expect(attributes).toEqual([
      ['faas.name', 'hello'],
      ['faas.version', '3'],
      ['faas.coldstart', 1n],
      ['strato.trigger', 'invoke'],
      ['strato.outcome', 'timeout'],
    ]);
    const status = sub(encoded, 15);
    expect([text(status, 2), one(status, 3)]).toEqual(['timed out', 2n]);
    expect(one(encoded, 16)).toBe(0x301n);
  });

  it('leaves out what a root, successful, warm span does not have', () => {
    const root = {
      ...span,
      parentSpanId: undefined,
      tracestate: undefined,
      outcome: 'success' as const,
      cold: false,
    };
    const encoded = sub(sub(sub(decode(Buffer.from(encodeOtlpProtobuf([root], 'svc'))), 1), 2), 2);
    expect(encoded.has(3) || encoded.has(4)).toBe(false);
    expect((one(encoded, 15) as Buffer).length).toBe(0);
    const coldstart = decode((encoded.get(9) as Buffer[])[2]!);
    expect((one(coldstart, 2) as Buffer).length).toBe(0);
    expect(one(encoded, 16)).toBe(0x101n);
  });
});
