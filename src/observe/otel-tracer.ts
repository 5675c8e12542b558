import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace as traceApi, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { TraceParent } from '../core/trace-context.js';
import type { InvocationSpan, InvocationSpanStart, InvocationTracer } from './invocation-tracer.js';

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
}

/**
 * Invocation spans exported with OpenTelemetry over OTLP/HTTP (protobuf, or JSON): one SERVER span per invocation,
 * child of the caller's traceparent, batched by the SDK's BatchSpanProcessor so the invoke path only
 * builds the span and queues it. Made only when `otlpEndpoint` is configured (server.ts).
 */
export function createOtlpTracer(options: OtlpTracerOptions): InvocationTracer {
  const provider = new BasicTracerProvider({
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
