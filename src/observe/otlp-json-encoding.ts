import { otlpSpanFlags, unixNanos, type FinishedSpan } from './finished-span.js';

/** OTLP's SPAN_KIND_SERVER and STATUS_CODE_ERROR (enums are integers in OTLP/JSON). */
const SPAN_KIND_SERVER = 2;
const STATUS_CODE_UNSET = 0;
const STATUS_CODE_ERROR = 2;

/**
 * An OTLP/HTTP JSON `ExportTraceServiceRequest` for spans of one resource and one instrumentation scope,
 * written as text directly (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): field
 * names in lowerCamelCase, trace and span ids as hex strings (OTLP's exception to proto3 JSON's base64),
 * enums as integers, the fixed64 times as decimal strings. Built by hand because the SDK's path (a
 * ReadableSpan per span, a transformed request object, then JSON.stringify) was most of a span's export
 * cost (docs/benchmarks.md, Tracing); strings that are not ours (names, messages, tracestate) still go
 * through JSON.stringify, so nothing a function does can break the document.
 */
export function encodeOtlpJson(spans: readonly FinishedSpan[], serviceName: string): string {
  const parts: string[] = [];
  for (const span of spans) parts.push(encodeSpan(span));
  return (
    `{"resourceSpans":[{"resource":{"attributes":[${stringAttribute('service.name', serviceName)}]},` +
    `"scopeSpans":[{"scope":{"name":"strato"},"spans":[${parts.join(',')}]}]}]}`
  );
}

function encodeSpan(span: FinishedSpan): string {
  const name = JSON.stringify(span.functionName);
  const status =
    span.outcome === 'success'
      ? `{"code":${STATUS_CODE_UNSET}}`
      : `{"code":${STATUS_CODE_ERROR},"message":${JSON.stringify(span.errorMessage ?? span.outcome)}}`;
  return (
    `{"traceId":"${span.traceId}","spanId":"${span.spanId}",` +
    (span.parentSpanId === undefined ? '' : `"parentSpanId":"${span.parentSpanId}",`) +
    (span.tracestate === undefined ? '' : `"traceState":${JSON.stringify(span.tracestate)},`) +
    `"flags":${otlpSpanFlags(span)},"name":${name},"kind":${SPAN_KIND_SERVER},` +
    `"startTimeUnixNano":"${unixNanos(span.startedAtMs)}",` +
    `"endTimeUnixNano":"${unixNanos(span.startedAtMs + span.durationMs)}",` +
    `"attributes":[{"key":"faas.name","value":{"stringValue":${name}}},` +
    `{"key":"faas.version","value":{"stringValue":"${span.version}"}},` +
    `{"key":"faas.coldstart","value":{"boolValue":${span.cold}}},` +
    `${stringAttribute('strato.trigger', span.trigger)},${stringAttribute('strato.outcome', span.outcome)}],` +
    `"status":${status}}`
  );
}

function stringAttribute(key: string, value: string): string {
  return `{"key":"${key}","value":{"stringValue":${JSON.stringify(value)}}}`;
}
