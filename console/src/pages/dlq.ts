import type { QueueDepth, QueuedInvocation } from '../../../src/core/invocation-queue.js';
import { api, errorText } from '../api.js';
import { h, link, notice, replace, table } from '../dom.js';
import { formatAgo, formatMs } from '../format.js';
import type { RouteContext } from '../router.js';

function depthCells(depth: QueueDepth): string[] {
  return [
    String(depth.ready),
    String(depth.delayed),
    String(depth.running),
    String(depth.dead),
    depth.oldestReadyAgeMs === null ? '–' : formatMs(depth.oldestReadyAgeMs),
  ];
}

/** Every function's async queue at a glance, then one function's dead-letter queue with redrive and purge. */
export async function dlqPage({ root, query, current }: RouteContext): Promise<void> {
  root.append(h('h1', {}, 'Queue and dead-letter queue'));
  try {
    const { functions } = await api.listFunctions({ limit: 200 });
    const depths = await Promise.all(
      functions.map(async (fn) => ({ fn, depth: await api.queueDepth(fn.name) })),
    );
    if (!current()) return;
    if (functions.length === 0) {
      root.append(notice('No functions yet.'));
      return;
    }
    const selected =
      query.get('fn') ?? depths.find((d) => d.depth.dead > 0)?.fn.name ?? functions[0]?.name ?? '';
    root.append(
      h(
        'section',
        { class: 'panel' },
        h('h2', {}, 'Async queue by function'),
        table(
          ['Function', 'Ready', 'Delayed', 'Running', 'Dead', 'Oldest ready'],
          depths.map(({ fn, depth }) => [
            link(`/console/dlq?fn=${encodeURIComponent(fn.name)}`, fn.name),
            ...depthCells(depth),
          ]),
          { id: 'queue-table' },
        ),
      ),
    );
    const section = h('section', { class: 'panel', id: 'dlq' });
    root.append(section);
    await drawDeadLetters(section, selected, current);
  } catch (error) {
    if (current()) root.append(notice(errorText(error), 'error'));
  }
}

async function drawDeadLetters(section: HTMLElement, name: string, current: () => boolean): Promise<void> {
  const status = h('p', { class: 'muted', id: 'dlq-status' });
  const redraw = (message: string) => async () => {
    await drawDeadLetters(section, name, current);
    const shown = section.querySelector('#dlq-status');
    if (shown !== null) shown.textContent = message;
  };
  const act = async (action: () => Promise<string>): Promise<void> => {
    try {
      await redraw(await action())();
    } catch (error) {
      status.textContent = errorText(error);
    }
  };
  let dead: QueuedInvocation[];
  try {
    dead = (await api.listDeadLetters(name, { limit: 200 })).invocations;
  } catch (error) {
    replace(section, h('h2', {}, `Dead letters of ${name}`), notice(errorText(error), 'error'));
    return;
  }
  if (!current()) return;
  const redriveAll = h(
    'button',
    { type: 'button', id: 'redrive-all', disabled: dead.length === 0 },
    'Redrive all',
  );
  redriveAll.addEventListener('click', () => {
    void act(async () => `redriven: ${(await api.redriveDeadLetters(name)).redriven}`);
  });
  const purge = h('button', { type: 'button', class: 'danger', disabled: dead.length === 0 }, 'Purge');
  purge.addEventListener('click', () => {
    if (!window.confirm(`Delete all ${dead.length} dead-lettered invocations of ${name}?`)) return;
    void act(async () => `purged: ${(await api.purgeDeadLetters(name)).purged}`);
  });
  replace(
    section,
    h('div', { class: 'row' }, h('h2', {}, `Dead letters of ${name}`), redriveAll, purge),
    status,
    dead.length === 0
      ? notice('The dead-letter queue is empty.')
      : table(
          ['Id', 'Enqueued', 'Attempts', 'Last error', ''],
          dead.map((item) => {
            const redrive = h('button', { type: 'button', class: 'redrive', 'data-id': item.id }, 'Redrive');
            redrive.addEventListener('click', () => {
              void act(
                async () =>
                  `redriven: ${(await api.redriveDeadLetters(name, item.id)).redriven} (${item.id})`,
              );
            });
            return [
              link(`/console/invocations/${encodeURIComponent(item.id)}`, item.id),
              formatAgo(item.message.enqueuedAt),
              String(item.attempts),
              item.error === null ? '–' : `${item.error.code}: ${item.error.message}`,
              redrive,
            ];
          }),
          { id: 'dlq-table' },
        ),
  );
}
