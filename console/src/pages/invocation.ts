import type { InvocationRecord, LogLine } from '../../../src/core/invocation.js';
import type { QueuedInvocation } from '../../../src/core/invocation-queue.js';
import { api, errorText } from '../api.js';
import { h, link, notice, table } from '../dom.js';
import { formatMs, formatTime, prettyJson } from '../format.js';
import type { RouteContext } from '../router.js';
import { logList } from './log-list.js';

/** The trace id of a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`). */
function traceIdOf(traceparent: string | undefined): string | undefined {
  return traceparent?.split('-')[1];
}

function recordView(record: InvocationRecord, logs: LogLine[]): HTMLElement[] {
  const fields: [string, Node | string][] = [
    ['Function', link(`/console/functions/${encodeURIComponent(record.functionName)}`, record.functionName)],
    ['Version', String(record.version)],
    ['Trigger', record.trigger],
    ['Outcome', h('span', { class: `outcome ${record.outcome}` }, record.outcome)],
    ['Started (UTC)', formatTime(record.startedAt)],
    ['Duration', formatMs(record.durationMs)],
    ['Init duration', record.cold ? formatMs(record.initDurationMs) : 'warm'],
    ['Billed', `${record.billedMs} ms × ${record.memoryMb} MB`],
    ['Log output', `${record.logBytes} bytes${record.logTruncated ? ' (truncated)' : ''}`],
  ];
  // Set by tracing (issue 7 part 3) on records of traced invocations.
  if (record.traceId !== null) fields.push(['Trace id', h('code', { id: 'trace-id' }, record.traceId)]);
  return [
    h(
      'section',
      { class: 'panel' },
      h('h2', {}, 'Record'),
      table(['Field', 'Value'], fields, { id: 'invocation-record' }),
    ),
    record.error === null
      ? h('span', {})
      : h(
          'section',
          { class: 'panel' },
          h('h2', {}, 'Error'),
          h(
            'pre',
            { class: 'error-stack' },
            record.error.stack ?? `${record.error.type}: ${record.error.message}`,
          ),
        ),
    h('section', { class: 'panel' }, h('h2', {}, 'Logs'), logList(logs)),
  ];
}

export function asyncView(queued: QueuedInvocation): HTMLElement[] {
  const traceId = traceIdOf(queued.message.traceparent);
  const fields: [string, Node | string][] = [
    [
      'Function',
      link(
        `/console/functions/${encodeURIComponent(queued.message.functionName)}`,
        queued.message.functionName,
      ),
    ],
    ['Status', h('span', { class: `outcome ${queued.status}`, id: 'async-status' }, queued.status)],
    ['Qualifier', queued.message.qualifier],
    ['Enqueued (UTC)', formatTime(queued.message.enqueuedAt)],
    ['Attempts', `${queued.attempts} of ${queued.message.maxAttempts} (${queued.deliveries} deliveries)`],
  ];
  if (traceId !== undefined) fields.push(['Trace id', h('code', { id: 'trace-id' }, traceId)]);
  if (queued.error !== null) fields.push(['Last error', `${queued.error.code}: ${queued.error.message}`]);
  return [
    h(
      'section',
      { class: 'panel' },
      h('h2', {}, 'Async invocation'),
      table(['Field', 'Value'], fields, { id: 'async-record' }),
    ),
    h('section', { class: 'panel' }, h('h2', {}, 'Event'), h('pre', {}, prettyJson(queued.message.event))),
    h(
      'section',
      { class: 'panel' },
      h('h2', {}, 'Attempts'),
      table(
        ['Delivery', 'Started (UTC)', 'Ended (UTC)', 'Counted', 'Error'],
        queued.history.map((attempt) => [
          String(attempt.delivery),
          formatTime(attempt.startedAt),
          attempt.endedAt === null ? 'running' : formatTime(attempt.endedAt),
          attempt.counted ? 'yes' : 'no (given back)',
          attempt.error === null ? '–' : `${attempt.error.code}: ${attempt.error.message}`,
        ]),
        { id: 'async-attempts' },
      ),
    ),
    queued.result === null
      ? h('span', {})
      : h('section', { class: 'panel' }, h('h2', {}, 'Result'), h('pre', {}, prettyJson(queued.result))),
  ];
}

/** One invocation: its record and logs, or (for an async invocation's id) its queue record and attempts. */
export async function invocationPage({ root, params, current }: RouteContext): Promise<void> {
  const id = params.id ?? '';
  root.append(h('h1', {}, `Invocation ${id}`));
  try {
    const reply = (await api.getInvocation(id)) as Partial<{
      invocation: InvocationRecord;
      logs: LogLine[];
      async: QueuedInvocation;
    }>;
    if (!current()) return;
    if (reply.invocation !== undefined) root.append(...recordView(reply.invocation, reply.logs ?? []));
    else if (reply.async !== undefined) root.append(...asyncView(reply.async));
  } catch (error) {
    if (current()) root.append(notice(errorText(error), 'error'));
  }
}
