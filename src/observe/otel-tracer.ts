import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace as traceApi, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { TraceParent } from '../core/trace-context.js';
import type { InvocationSpan, InvocationSpanStart, InvocationTracer } from './invocation-tracer.js';
import { createLeanTracer } from './lean-tracer.js';
import { OtlpHttpPoster } from './otlp-http-post.js';
import { encodeOtlpJson } from './otlp-json-encoding.js';
import { SpanExportQueue, type SpanDropReason } from './span-export-queue.js';

export interface OtlpTracerOptions {
  /** The collector's OTLP/HTTP traces URL, e.g. `http://127.0.0.1:4318/v1/traces`. */
  url: string;
  /** OTLP's encodings over HTTP. @default 'http/json' (cheaper per span here than protobufjs) */
  protocol?: 'http/protobuf' | 'http/json';
  /** @default 'strato' */
  serviceName?: string;
  /** Spans per export request; the batch also goes every `exportDelayMs`. @default 512 */
  maxExportBatchSize?: number;
  /** @default 1000 */
  exportDelayMs?: number;
  /** The share of new traces exported; a caller's sampled flag decides for its trace. @default 1 */
  sampleRatio?: number;
  /** Spans not exported (queue full, or the collector failed), reported about once a second (JSON only). */
  onDropped?: (reason: SpanDropReason, spans: number, detail: string | undefined) => void;
}

/**
 * Invocation spans exported over OTLP/HTTP: one SERVER span per invocation, child of the caller's
 * traceparent. JSON goes through the lean path (lean-tracer.ts, span-export-queue.ts: no SDK object per
 * span, the batch encoded by hand); protobuf still through the OpenTelemetry SDK, whose encoder
 * (protobufjs) needs its span objects. Made only when `otlpEndpoint` is configured (server.ts).
 */
export function createOtlpTracer(options: OtlpTracerOptions): InvocationTracer {
  return options.protocol === 'http/protobuf' ? createSdkTracer(options) : createLeanJsonTracer(options);
}

function createLeanJsonTracer(options: OtlpTracerOptions): InvocationTracer {
  const serviceName = options.serviceName ?? 'strato';
  const poster = new OtlpHttpPoster(options.url);
  const queue = new SpanExportQueue({
    encode: (spans) => ({ body: encodeOtlpJson(spans, serviceName), contentType: 'application/json' }),
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

/**
 * The SDK's path, kept for http/protobuf: the span is built by the SDK and queued by its
 * BatchSpanProcessor (the same bounds as the lean queue). Costs ~13-20 µs of CPU per span.
 */
function createSdkTracer(options: OtlpTracerOptions): InvocationTracer {
  const ratio = options.sampleRatio ?? 1;
  const provider = new BasicTracerProvider({
    ...(ratio < 1 ? { sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) }) } : {}),
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName ?? 'strato' }),
    spanProcessors: [
      new BatchSpanProcessor(
        options.protocol === 'http/protobuf'
          ? new ProtobufTraceExporter({ url: options.url })
          : new JsonTraceExporter({ url: options.url }),
        {
          maxExportBatchSize: options.maxExportBatchSize ?? 512,
          scheduledDelayMillis: options.exportDelayMs ?? 1000,
          maxQueueSize: 8192,
        },
      ),
    ],
  });
  const tracer = provider.getTracer('strato');
  return {
    start: (parent, span) => startSpan(tracer, parent, span),
    // Flushes the queue, then stops the exporter: spans of the last invocations are not lost on shutdown.
    shutdown: () => provider.shutdown(),
  };
}

function startSpan(
  tracer: Tracer,
  parent: TraceParent | undefined,
  start: InvocationSpanStart,
): InvocationSpan {
  const context =
    parent === undefined
      ? ROOT_CONTEXT
      : traceApi.setSpanContext(ROOT_CONTEXT, {
          traceId: parent.traceId,
          spanId: parent.parentId,
          traceFlags: parent.flags,
          isRemote: true,
          // The SDK keeps a TraceState object; the header text is passed on as is, so it is not needed.
        });
  const span = tracer.startSpan(
    start.functionName,
    {
      kind: SpanKind.SERVER,
      startTime: start.startedAt,
      // Few attributes: serialising them is most of a span's cost (profiled: OTLP JSON encoding).
      attributes: {
        'faas.name': start.functionName,
        'faas.version': String(start.version),
        'strato.trigger': start.trigger,
      },
    },
    context,
  );
  const ids = span.spanContext();
  let ended = false;
  return {
    trace: {
      traceId: ids.traceId,
      spanId: ids.spanId,
      flags: ids.traceFlags,
      tracestate: parent?.tracestate,
    },
    end(outcome) {
      if (ended) return;
      ended = true;
      span.setAttribute('faas.coldstart', outcome.cold);
      span.setAttribute('strato.outcome', outcome.outcome);
      if (outcome.outcome !== 'success') {
        span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.errorMessage ?? outcome.outcome });
      }
      span.end();
    },
  };
}
