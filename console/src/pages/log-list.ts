import type { LogLine } from '../../../src/core/invocation.js';
import { h } from '../dom.js';
import { formatTime } from '../format.js';

/** Log lines as `time level message`, one per row. */
export function logList(logs: LogLine[]): HTMLElement {
  if (logs.length === 0) return h('p', { class: 'muted' }, 'No log lines.');
  return h(
    'pre',
    { class: 'logs' },
    ...logs.map((line) =>
      h(
        'div',
        { class: `log-line ${line.level}` },
        h('span', { class: 'ts' }, formatTime(line.ts)),
        ' ',
        h('span', { class: 'level' }, line.level.toUpperCase().padEnd(5)),
        ' ',
        line.message,
      ),
    ),
  );
}
