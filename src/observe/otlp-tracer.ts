import type { InvocationTracer } from './invocation-tracer.js';
import { createLeanTracer } from './lean-tracer.js';
import { OtlpHttpPoster } from './otlp-http-post.js';
import { encodeOtlpJson } from './otlp-json-encoding.js';
import { encodeOtlpProtobuf } from './otlp-protobuf-encoding.js';
import { SpanExportQueue, type SpanDropReason } from './span-export-queue.js';

export interface OtlpTracerOptions {
  /** The collector's OTLP/HTTP traces URL, e.g. `http://127.0.0.1:4318/v1/traces`. */
  url: string;
  /** OTLP's encodings over HTTP. @default 'http/json' */
  protocol?: 'http/protobuf' | 'http/json';
  /** @default 'strato' */
  serviceName?: string;
  /** Spans per export request; the batch also goes every `exportDelayMs`. @default 512 */
  maxExportBatchSize?: number;
  /** @default 1000 */
  exportDelayMs?: number;
  /** The share of new traces exported; a caller's sampled flag decides for its trace. @default 1 */
  sampleRatio?: number;
  /** Spans not exported (queue full, or the collector failed a batch), reported about once a second. */
  onDropped?: (reason: SpanDropReason, spans: number, detail: string | undefined) => void;
}

/**
 * Invocation spans exported over OTLP/HTTP: one SERVER span per invocation, child of the caller's
 * traceparent. No OpenTelemetry SDK object is made: the invoke path keeps a plain struct per span
 * (lean-tracer.ts), the export queue encodes batches by hand (JSON or protobuf) and posts them off the
 * invoke path. The SDK cost ~13-20 µs of CPU per span here, ~10% of a warm invoke (docs/benchmarks.md).
 * Made only when `otlpEndpoint` is configured (server.ts).
 */
export function createOtlpTracer(options: OtlpTracerOptions): InvocationTracer {
  const serviceName = options.serviceName ?? 'strato';
  const poster = new OtlpHttpPoster(options.url);
  const protobuf = options.protocol === 'http/protobuf';
  const queue = new SpanExportQueue({
    encode: (spans) =>
      protobuf
        ? { body: encodeOtlpProtobuf(spans, serviceName), contentType: 'application/x-protobuf' }
        : { body: encodeOtlpJson(spans, serviceName), contentType: 'application/json' },
    post: (body, contentType, deadline) => poster.post(body, contentType, deadline),
    onDropped: options.onDropped ?? (() => {}),
    maxExportBatchSize: options.maxExportBatchSize ?? 512,
    exportDelayMs: options.exportDelayMs ?? 1000,
  });
  return createLeanTracer({
    record: (span) => queue.add(span),
    // Flushes the queue, then closes the collector connection: the last invocations' spans are not lost.
    flush: () => queue.shutdown().finally(() => poster.close()),
    ...(options.sampleRatio === undefined ? {} : { sampleRatio: options.sampleRatio }),
  });
}
