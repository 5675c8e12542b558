import { otlpSpanFlags, unixNanos, type FinishedSpan } from './finished-span.js';

/** Protobuf wire types (https://protobuf.dev/programming-guides/encoding/). */
const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;

const SPAN_KIND_SERVER = 2;
const STATUS_CODE_ERROR = 2;

/**
 * An OTLP/HTTP protobuf `ExportTraceServiceRequest` (opentelemetry/proto/collector/trace/v1), written
 * field by field for the few fields an invocation span has, so http/protobuf takes the same lean path
 * as JSON instead of the SDK's span objects. Field numbers are those of trace.proto, common.proto and
 * resource.proto; default values (an unset status code, false) are left out as proto3 does.
 */
export function encodeOtlpProtobuf(spans: readonly FinishedSpan[], serviceName: string): Uint8Array {
  const encodedSpans = spans.map((span) => lengthDelimited(2, encodeSpan(span)));
  const scopeSpans = Buffer.concat([lengthDelimited(1, stringField(1, 'strato')), ...encodedSpans]);
  const resource = lengthDelimited(1, stringAttribute('service.name', serviceName));
  const resourceSpans = Buffer.concat([lengthDelimited(1, resource), lengthDelimited(2, scopeSpans)]);
  return lengthDelimited(1, resourceSpans);
}

/** Span (trace.proto): ids 1, 2, 4; trace_state 3; name 5; kind 6; times 7, 8; attributes 9; status 15; flags 16. */
function encodeSpan(span: FinishedSpan): Buffer {
  const parts = [
    lengthDelimited(1, Buffer.from(span.traceId, 'hex')),
    lengthDelimited(2, Buffer.from(span.spanId, 'hex')),
  ];
  if (span.tracestate !== undefined) parts.push(stringField(3, span.tracestate));
  if (span.parentSpanId !== undefined) parts.push(lengthDelimited(4, Buffer.from(span.parentSpanId, 'hex')));
  parts.push(
    stringField(5, span.functionName),
    varintField(6, SPAN_KIND_SERVER),
    fixed64Field(7, unixNanos(span.startedAtMs)),
    fixed64Field(8, unixNanos(span.startedAtMs + span.durationMs)),
    lengthDelimited(9, stringAttribute('faas.name', span.functionName)),
    lengthDelimited(9, stringAttribute('faas.version', String(span.version))),
    lengthDelimited(9, boolAttribute('faas.coldstart', span.cold)),
    lengthDelimited(9, stringAttribute('strato.trigger', span.trigger)),
    lengthDelimited(9, stringAttribute('strato.outcome', span.outcome)),
  );
  // Status: message 2, code 3. Success leaves it unset (an empty message, as the SDK sends).
  parts.push(
    lengthDelimited(
      15,
      span.outcome === 'success'
        ? Buffer.alloc(0)
        : Buffer.concat([
            stringField(2, span.errorMessage ?? span.outcome),
            varintField(3, STATUS_CODE_ERROR),
          ]),
    ),
  );
  const flags = Buffer.alloc(4);
  flags.writeUInt32LE(otlpSpanFlags(span));
  parts.push(tag(16, FIXED32), flags);
  return Buffer.concat(parts);
}

/** KeyValue (common.proto): key 1, value 2; AnyValue: string_value 1, bool_value 2. */
function stringAttribute(key: string, value: string): Buffer {
  return Buffer.concat([stringField(1, key), lengthDelimited(2, stringField(1, value))]);
}

function boolAttribute(key: string, value: boolean): Buffer {
  return Buffer.concat([
    stringField(1, key),
    lengthDelimited(2, value ? varintField(2, 1) : Buffer.alloc(0)),
  ]);
}

function stringField(field: number, value: string): Buffer {
  return lengthDelimited(field, Buffer.from(value, 'utf8'));
}

function lengthDelimited(field: number, body: Buffer): Buffer {
  return Buffer.concat([tag(field, LEN), varint(body.length), body]);
}

function varintField(field: number, value: number): Buffer {
  return Buffer.concat([tag(field, VARINT), varint(value)]);
}

/** fixed64 from the decimal text {@link unixNanos} writes: epoch nanoseconds do not fit a double. */
function fixed64Field(field: number, decimal: string): Buffer {
  const value = Buffer.alloc(8);
  value.writeBigUInt64LE(BigInt(decimal));
  return Buffer.concat([tag(field, FIXED64), value]);
}

function tag(field: number, wireType: number): Buffer {
  return varint((field << 3) | wireType);
}

/** Base-128 varint of a non-negative integer below 2^31 (tags, lengths, enums: all ours are). */
function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest > 0x7f) {
    bytes.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}
