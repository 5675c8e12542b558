import type { InvokeResult } from '../core/sandbox.js';

/** Lambda returns at most the last 4 KB of an invocation's log in `X-Amz-Log-Result`. */
const TAIL_BYTES = 4096;

export interface LogTailInput {
  requestId: string;
  /** `$LATEST` or the version number, as the START line names it. */
  executedVersion: string;
  memoryMb: number;
  result: InvokeResult;
  /**
   * Lambda runtimes (process tier) write their own `timestamp\trequestId\tLEVEL\tmessage` lines; the
   * isolate tier's console lines are plain messages and get that prefix here.
   */
  linesArePreformatted: boolean;
}

/**
 * The invocation's log as Lambda's `LogType: Tail` returns it: START, the function's lines, END and the
 * REPORT line, base64 of the last 4 KB.
 */
export function logTail(input: LogTailInput): string {
  const { requestId, result } = input;
  const lines = [`START RequestId: ${requestId} Version: ${input.executedVersion}`];
  for (const line of result.logs) {
    lines.push(
      input.linesArePreformatted
        ? line.message
        : `${new Date(line.ts).toISOString()}\t${requestId}\t${line.level.toUpperCase()}\t${line.message}`,
    );
  }
  if (result.logTruncated) lines.push('[log truncated: the invocation wrote more than its log limit]');
  lines.push(`END RequestId: ${requestId}`);
  const report = [
    `REPORT RequestId: ${requestId}`,
    `Duration: ${result.durationMs.toFixed(2)} ms`,
    `Billed Duration: ${Math.max(1, Math.ceil(result.durationMs))} ms`,
    `Memory Size: ${input.memoryMb} MB`,
    ...(result.initDurationMs > 0 ? [`Init Duration: ${result.initDurationMs.toFixed(2)} ms`] : []),
  ];
  lines.push(report.join('\t'));
  const bytes = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
  return bytes.subarray(Math.max(0, bytes.length - TAIL_BYTES)).toString('base64');
}
