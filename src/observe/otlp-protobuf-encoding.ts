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
  const out = new ProtoWriter(256 + spans.length * 256);
  const resourceSpans = out.begin(1);
  const resource = out.begin(1);
  stringAttribute(out, 1, 'service.name', serviceName);
  out.end(resource);
  const scopeSpans = out.begin(2);
  const scope = out.begin(1);
  out.string(1, 'strato');
  out.end(scope);
  for (const span of spans) {
    const encoded = out.begin(2);
    encodeSpan(out, span);
    out.end(encoded);
  }
  out.end(scopeSpans);
  out.end(resourceSpans);
  return out.finish();
}

/** Span (trace.proto): ids 1, 2, 4; trace_state 3; name 5; kind 6; times 7, 8; attributes 9; status 15; flags 16. */
function encodeSpan(out: ProtoWriter, span: FinishedSpan): void {
  out.hex(1, span.traceId);
  out.hex(2, span.spanId);
  if (span.tracestate !== undefined) out.string(3, span.tracestate);
  if (span.parentSpanId !== undefined) out.hex(4, span.parentSpanId);
  out.string(5, span.functionName);
  out.varintField(6, SPAN_KIND_SERVER);
  out.fixed64(7, unixNanos(span.startedAtMs));
  out.fixed64(8, unixNanos(span.startedAtMs + span.durationMs));
  stringAttribute(out, 9, 'faas.name', span.functionName);
  stringAttribute(out, 9, 'faas.version', String(span.version));
  // KeyValue: key 1, value 2 (AnyValue: bool_value 2; false is the default, an empty AnyValue.bool).
  const coldstart = out.begin(9);
  out.string(1, 'faas.coldstart');
  const value = out.begin(2);
  if (span.cold) out.varintField(2, 1);
  out.end(value);
  out.end(coldstart);
  stringAttribute(out, 9, 'strato.trigger', span.trigger);
  stringAttribute(out, 9, 'strato.outcome', span.outcome);
  // Status: message 2, code 3. Success leaves it unset: an empty message, as the SDK sends.
  const status = out.begin(15);
  if (span.outcome !== 'success') {
    out.string(2, span.errorMessage ?? span.outcome);
    out.varintField(3, STATUS_CODE_ERROR);
  }
  out.end(status);
  out.fixed32(16, otlpSpanFlags(span));
}

/** KeyValue (common.proto): key 1, value 2; AnyValue: string_value 1. */
function stringAttribute(out: ProtoWriter, field: number, key: string, value: string): void {
  const pair = out.begin(field);
  out.string(1, key);
  const any = out.begin(2);
  out.string(1, value);
  out.end(any);
  out.end(pair);
}

/**
 * Writes into one growing buffer. A length-delimited field reserves one byte for its length and moves
 * its body along in the rare case the length needs more (128 bytes or longer), so nothing is encoded
 * twice and no intermediate buffers are made (the first version, Buffer.concat per field, cost ~10 µs a
 * span).
 */
class ProtoWriter {
  private buffer: Buffer;
  private at = 0;

  constructor(initialBytes: number) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  /** Starts a nested message (or a string's bytes); returns what {@link end} needs. */
  begin(field: number): number {
    this.tag(field, LEN);
    this.room(1);
    return this.at++;
  }

  end(lengthAt: number): void {
    const length = this.at - lengthAt - 1;
    const size = varintSize(length);
    if (size > 1) {
      this.room(size - 1);
      this.buffer.copyWithin(lengthAt + size, lengthAt + 1, this.at);
      this.at += size - 1;
    }
    const end = this.at;
    this.at = lengthAt;
    this.varint(length);
    this.at = end;
  }

  string(field: number, value: string): void {
    const start = this.begin(field);
    this.room(value.length * 3);
    this.at += this.buffer.write(value, this.at, 'utf8');
    this.end(start);
  }

  /** An id: OTLP carries them as raw bytes. */
  hex(field: number, value: string): void {
    const start = this.begin(field);
    this.room(value.length / 2);
    this.at += this.buffer.write(value, this.at, 'hex');
    this.end(start);
  }

  varintField(field: number, value: number): void {
    this.tag(field, VARINT);
    this.varint(value);
  }

  /** From the decimal text {@link unixNanos} writes: epoch nanoseconds do not fit a double. */
  fixed64(field: number, decimal: string): void {
    this.tag(field, FIXED64);
    this.room(8);
    this.at = this.buffer.writeBigUInt64LE(BigInt(decimal), this.at);
  }

  fixed32(field: number, value: number): void {
    this.tag(field, FIXED32);
    this.room(4);
    this.at = this.buffer.writeUInt32LE(value, this.at);
  }

  finish(): Uint8Array {
    return this.buffer.subarray(0, this.at);
  }

  private tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  /** Base-128 varint of a non-negative integer below 2^31 (tags, lengths, enums: all ours are). */
  private varint(value: number): void {
    this.room(5);
    let rest = value;
    while (rest > 0x7f) {
      this.buffer[this.at++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    this.buffer[this.at++] = rest;
  }

  private room(bytes: number): void {
    if (this.at + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.at + bytes));
    this.buffer.copy(grown, 0, 0, this.at);
    this.buffer = grown;
  }
}

function varintSize(value: number): number {
  let size = 1;
  for (let rest = value; rest > 0x7f; rest >>>= 7) size++;
  return size;
}
