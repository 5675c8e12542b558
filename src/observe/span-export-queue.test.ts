import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FinishedSpan } from './finished-span.js';
import type { OtlpPostResult } from './otlp-http-post.js';
import { SpanExportQueue, type SpanDropReason } from './span-export-queue.js';

const span = (spanId: string): FinishedSpan => ({
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId,
  parentSpanId: undefined,
  tracestate: undefined,
  functionName: 'f',
  version: 1,
  trigger: 'invoke',
  startedAtMs: 0,
  durationMs: 1,
  cold: false,
  outcome: 'success',
  errorMessage: undefined,
});

function queueWith(post: () => Promise<OtlpPostResult>, options: { maxQueueSize?: number } = {}) {
  const batches: string[][] = [];
  const drops: Array<[SpanDropReason, number]> = [];
  const queue = new SpanExportQueue({
    encode: (spans) => {
      batches.push(spans.map((s) => s.spanId));
      return { body: '', contentType: 'application/json' };
    },
    post,
    onDropped: (reason, spans) => drops.push([reason, spans]),
    maxExportBatchSize: 2,
    exportDelayMs: 1000,
    ...options,
  });
  return { queue, batches, drops };
}

const sent = () => Promise.resolve<OtlpPostResult>({ kind: 'sent' });

afterEach(() => {
  vi.useRealTimers();
});

describe('SpanExportQueue', () => {
  it('sends a full batch at once, a partial one on the timer, and the rest at shutdown', async () => {
    vi.useFakeTimers();
    const { queue, batches } = queueWith(sent);
    queue.add(span('a'));
    queue.add(span('b'));
    queue.add(span('c'));
    await vi.advanceTimersByTimeAsync(0);
    expect(batches).toEqual([['a', 'b']]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(batches).toEqual([['a', 'b'], ['c']]);
    queue.add(span('d'));
    await queue.shutdown();
    expect(batches).toEqual([['a', 'b'], ['c'], ['d']]);
  });

  it('drops and counts spans past its bound while the collector is slow, and failed batches', async () => {
    vi.useFakeTimers();
    let answer: (result: OtlpPostResult) => void = () => {};
    const { queue, batches, drops } = queueWith(() => new Promise((resolve) => (answer = resolve)), {
      maxQueueSize: 3,
    });
    queue.add(span('a'));
    queue.add(span('b'));
    await vi.advanceTimersByTimeAsync(0);
    // a and b are in the export that hangs; c, d, e fill the queue; f is dropped.
    for (const id of ['c', 'd', 'e', 'f']) queue.add(span(id));
    await vi.advanceTimersByTimeAsync(1000);
    expect(drops).toEqual([['queue_full', 1]]);
    answer({ kind: 'failed', reason: 'collector answered 400' });
    await vi.advanceTimersByTimeAsync(0);
    expect(drops).toEqual([
      ['queue_full', 1],
      ['export_failed', 2],
    ]);
    // The full batch behind it (c, d) went at once; e waits for shutdown.
    answer({ kind: 'sent' });
    const shutdown = queue.shutdown();
    await vi.advanceTimersByTimeAsync(0);
    answer({ kind: 'sent' });
    await shutdown;
    expect(batches).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(drops).toHaveLength(2);
  });
});
