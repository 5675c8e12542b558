/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): parsing and formatting of `traceparent`,
 * and the AWS X-Ray form of the same ids. Pure and free of host APIs, so the guest uses it too; ids are
 * made by the caller (host: observe/trace-ids.ts, guest: its crypto).
 */

/** A valid incoming (or stored) trace context: the caller's span is our parent. */
export interface TraceParent {
  /** 32 lowercase hex digits, not all zeros. */
  traceId: string;
  /** The caller's span id: 16 lowercase hex digits, not all zeros. */
  parentId: string;
  /** trace-flags; bit 0 is "sampled". */
  flags: number;
  /** The `tracestate` header, passed through unchanged when it is well-formed; undefined otherwise. */
  tracestate: string | undefined;
}

/** The sampled bit of trace-flags. */
export const SAMPLED_FLAG = 0x01;

const TRACEPARENT_V00_LENGTH = 55;
/** Longer tracestate values are dropped (the spec lets a vendor truncate; 512 is its suggested minimum). */
const MAX_TRACESTATE_LENGTH = 512;
const ALL_ZERO_TRACE_ID = '0'.repeat(32);
const ALL_ZERO_SPAN_ID = '0'.repeat(16);

/**
 * Parses `traceparent` strictly; undefined when it is absent or invalid (the caller starts a new trace,
 * it never rejects the request). Version 00 must be exactly 55 characters; a later version is read as
 * 00 when its first 55 characters are (and anything after them starts with '-'), as the spec asks;
 * version ff is invalid. Only lowercase hex is accepted.
 */
export function parseTraceparent(
  traceparent: string | string[] | undefined,
  tracestate?: string | string[],
): TraceParent | undefined {
  // Two traceparent headers are ambiguous: the spec treats that as invalid.
  if (typeof traceparent !== 'string' || traceparent.length < TRACEPARENT_V00_LENGTH) return undefined;
  const version = traceparent.slice(0, 2);
  if (!isLowerHex(version) || version === 'ff') return undefined;
  if (version === '00' ? traceparent.length !== TRACEPARENT_V00_LENGTH : !futureVersionTail(traceparent)) {
    return undefined;
  }
  if (traceparent[2] !== '-' || traceparent[35] !== '-' || traceparent[52] !== '-') return undefined;
  const traceId = traceparent.slice(3, 35);
  const parentId = traceparent.slice(36, 52);
  const flags = traceparent.slice(53, 55);
  if (!isValidTraceId(traceId) || !isValidSpanId(parentId) || !isLowerHex(flags)) return undefined;
  return { traceId, parentId, flags: parseInt(flags, 16), tracestate: checkTracestate(tracestate) };
}

function futureVersionTail(traceparent: string): boolean {
  return traceparent.length === TRACEPARENT_V00_LENGTH || traceparent[TRACEPARENT_V00_LENGTH] === '-';
}

/** The ids of one span. */
export interface SpanIds {
  traceId: string;
  spanId: string;
  flags: number;
}

/** `00-<trace id>-<span id>-<flags>`. */
export function formatTraceparent({ traceId, spanId, flags }: SpanIds): string {
  return `00-${traceId}-${spanId}-${flags & SAMPLED_FLAG ? '01' : '00'}`;
}

/**
 * The same ids as an X-Ray trace header (`Lambda-Runtime-Trace-Id`, `_X_AMZN_TRACE_ID`):
 * `Root=1-<first 8 hex>-<last 24 hex>;Parent=<span id>;Sampled=<0|1>`. X-Ray's root is an epoch-seconds
 * prefix and 96 random bits; a W3C trace id splits into the same 8 + 24 digits, and back.
 */
export function toXRayTraceHeader({ traceId, spanId, flags }: SpanIds): string {
  const sampled = flags & SAMPLED_FLAG ? '1' : '0';
  return `Root=1-${traceId.slice(0, 8)}-${traceId.slice(8)};Parent=${spanId};Sampled=${sampled}`;
}

const XRAY_HEADER = /^Root=1-([0-9a-f]{8})-([0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=([01])$/;

/**
 * Reads an X-Ray trace header in exactly the form {@link toXRayTraceHeader} writes (the AWS SDK sends
 * `X-Amzn-Trace-Id` so from `_X_AMZN_TRACE_ID`), so a Lambda-style function's SDK calls stay in its
 * trace. Fields in another order or extra fields (Lineage, ...) are not read: a new trace starts.
 */
export function parseXRayTraceHeader(header: string | string[] | undefined): TraceParent | undefined {
  if (typeof header !== 'string') return undefined;
  const match = XRAY_HEADER.exec(header);
  if (match === null) return undefined;
  const traceId = `${match[1]}${match[2]}`;
  const parentId = match[3]!;
  if (!isValidTraceId(traceId) || !isValidSpanId(parentId)) return undefined;
  return { traceId, parentId, flags: match[4] === '1' ? SAMPLED_FLAG : 0, tracestate: undefined };
}

export function isValidTraceId(value: string): boolean {
  return value.length === 32 && isLowerHex(value) && value !== ALL_ZERO_TRACE_ID;
}

export function isValidSpanId(value: string): boolean {
  return value.length === 16 && isLowerHex(value) && value !== ALL_ZERO_SPAN_ID;
}

/** A tracestate header list is joined with ',' (as Node joins repeated headers), then bounded. */
function checkTracestate(tracestate: string | string[] | undefined): string | undefined {
  if (tracestate === undefined) return undefined;
  const value = (Array.isArray(tracestate) ? tracestate.join(',') : tracestate).trim();
  if (value.length === 0 || value.length > MAX_TRACESTATE_LENGTH) return undefined;
  // Printable ASCII only: it is echoed into headers and spans.
  return /^[\x20-\x7e]+$/.test(value) ? value : undefined;
}

function isLowerHex(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (!((code >= 48 && code <= 57) || (code >= 97 && code <= 102))) return false;
  }
  return true;
}
