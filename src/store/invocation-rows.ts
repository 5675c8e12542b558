import type { Insertable, Selectable } from 'kysely';
import type {
  FunctionErrorInfo,
  InvocationRecord,
  InvocationOutcome,
  InvocationTrigger,
  LogLevel,
  LogLine,
} from '../core/index.js';
import type { InvocationsTable, LogsTable } from './schema.js';

/** Mapping between invocation records / log lines and their rows, shared by every write path. */
export function toInvocationRow(record: InvocationRecord): Insertable<InvocationsTable> {
  return {
    id: record.id,
    function_name: record.functionName,
    version: record.version,
    trigger: record.trigger,
    started_at: record.startedAt,
    duration_ms: record.durationMs,
    init_duration_ms: record.initDurationMs,
    cold: record.cold ? 1 : 0,
    outcome: record.outcome,
    error_json: record.error === null ? null : JSON.stringify(record.error),
    memory_mb: record.memoryMb,
    billed_ms: record.billedMs,
    in_flight: record.inFlight,
    log_bytes: record.logBytes,
    log_truncated: record.logTruncated ? 1 : 0,
    trace_id: record.traceId,
    span_id: record.spanId,
  };
}

export function toInvocationRecord(row: Selectable<InvocationsTable>): InvocationRecord {
  return {
    id: row.id,
    functionName: row.function_name,
    version: row.version,
    trigger: row.trigger as InvocationTrigger,
    startedAt: row.started_at,
    durationMs: row.duration_ms,
    initDurationMs: row.init_duration_ms,
    cold: row.cold === 1,
    outcome: row.outcome as InvocationOutcome,
    error: parseErrorInfo(row.error_json),
    memoryMb: row.memory_mb,
    billedMs: row.billed_ms,
    inFlight: row.in_flight,
    logBytes: row.log_bytes,
    logTruncated: row.log_truncated === 1,
    traceId: row.trace_id,
    spanId: row.span_id,
  };
}

function parseErrorInfo(json: string | null): FunctionErrorInfo | null {
  if (json === null) return null;
  const parsed = JSON.parse(json) as { type: string; message: string; stack?: string };
  // JSON drops an undefined stack; put the key back so the record has its declared shape.
  return { type: parsed.type, message: parsed.message, stack: parsed.stack };
}

export function toLogRow(line: LogLine): Insertable<LogsTable> {
  return {
    invocation_id: line.invocationId,
    function_name: line.functionName,
    seq: line.seq,
    ts: line.ts,
    level: line.level,
    message: line.message,
    bytes: Buffer.byteLength(line.message, 'utf8'),
  };
}

/** `bytes` is bookkeeping of the store, not part of a line. */
export function toLogLine(row: Omit<Selectable<LogsTable>, 'bytes'>): LogLine {
  return {
    invocationId: row.invocation_id,
    functionName: row.function_name,
    seq: row.seq,
    ts: Number(row.ts),
    level: row.level as LogLevel,
    message: row.message,
  };
}
