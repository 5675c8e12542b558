import type { FunctionConfig } from '../../../src/core/function.js';
import { api, errorText } from '../api.js';
import { h, link, notice, replace, table } from '../dom.js';
import { formatAgo, formatMs } from '../format.js';
import type { RouteContext } from '../router.js';
import { WINDOWS, functionCharts } from './function-charts.js';
import { invokeForm } from './invoke-form.js';

/** The settings of a version worth seeing at a glance; env values are not shown (they may be secrets). */
function configRows(config: FunctionConfig): [string, string][] {
  const rows: [string, string][] = [
    [
      'Tier',
      config.image !== undefined
        ? 'container'
        : config.runtime !== undefined
          ? `process (${config.runtime})`
          : 'isolate',
    ],
    ['Memory', `${config.memoryMb} MB`],
    ['Timeout', formatMs(config.timeoutMs)],
    ['Concurrency', String(config.concurrency)],
    ['Environment', Object.keys(config.env).join(', ') || '–'],
  ];
  if (config.reservedConcurrency !== undefined)
    rows.push(['Reserved concurrency', String(config.reservedConcurrency)]);
  if (config.minInstances !== undefined) rows.push(['Provisioned instances', String(config.minInstances)]);
  if (config.rateLimit !== undefined) {
    rows.push(['Rate limit', `${config.rateLimit.ratePerSecond}/s, burst ${config.rateLimit.burst}`]);
  }
  if (config.async !== undefined) {
    rows.push(['Async retries', String(config.async.retries)]);
    rows.push(['Max event age', formatMs(config.async.maxEventAgeMs)]);
  }
  if (config.image !== undefined) rows.push(['Image', config.image.reference]);
  return rows;
}

export async function functionPage({ root, params, current }: RouteContext): Promise<void> {
  const name = params.name ?? '';
  root.append(h('h1', {}, name));
  try {
    const [{ function: fn, version }, { versions }, { aliases }] = await Promise.all([
      api.getFunction(name),
      api.listVersions(name, { limit: 20 }),
      api.listAliases(name),
    ]);
    if (!current()) return;
    const charts = h('div', {}, notice('loading charts…'));
    let window: (typeof WINDOWS)[number] = WINDOWS[0];
    const drawCharts = async (): Promise<void> => {
      try {
        const stats = await api.stats(name, { since: window.since, bucket: window.bucket });
        if (current()) replace(charts, functionCharts(stats));
      } catch (error) {
        if (current()) replace(charts, notice(errorText(error), 'error'));
      }
    };
    const windowPicker = h(
      'select',
      { name: 'window' },
      ...WINDOWS.map((w) => h('option', { value: w.since }, `last ${w.label}`)),
    );
    windowPicker.addEventListener('change', () => {
      window = WINDOWS.find((w) => w.since === windowPicker.value) ?? WINDOWS[0];
      void drawCharts();
    });

    root.append(
      h(
        'p',
        { class: 'muted' },
        `version ${fn.latestVersion} · updated ${formatAgo(fn.updatedAt)} · `,
        link(`/console/invocations?fn=${encodeURIComponent(name)}`, 'invocations'),
        ' · ',
        link(`/console/dlq?fn=${encodeURIComponent(name)}`, 'dead-letter queue'),
      ),
      h(
        'section',
        { class: 'panel' },
        h('div', { class: 'row' }, h('h2', {}, 'Activity'), windowPicker),
        charts,
      ),
      h(
        'div',
        { class: 'columns' },
        invokeForm(
          name,
          ['$LATEST', ...aliases.map((a) => a.name), ...versions.map((v) => String(v.version))],
          () => void drawCharts(),
        ),
        h(
          'section',
          { class: 'panel' },
          h('h2', {}, 'Configuration'),
          table(['Setting', 'Value'], configRows(version.config)),
        ),
      ),
      h(
        'div',
        { class: 'columns' },
        h(
          'section',
          { class: 'panel' },
          h('h2', {}, 'Versions'),
          table(
            ['Version', 'Created', 'Code', 'Description'],
            versions.map((v) => [
              String(v.version),
              formatAgo(v.createdAt),
              `${(v.codeSize / 1024).toFixed(1)} KiB`,
              v.description,
            ]),
          ),
        ),
        h(
          'section',
          { class: 'panel' },
          h('h2', {}, 'Aliases'),
          aliases.length === 0
            ? notice('No aliases.')
            : table(
                ['Alias', 'Version', 'Split'],
                aliases.map((a) => [
                  a.name,
                  String(a.functionVersion),
                  Object.entries(a.additionalVersionWeights)
                    .map(([v, weight]) => `${Math.round(weight * 100)}% → ${v}`)
                    .join(', ') || '–',
                ]),
              ),
        ),
      ),
    );
    await drawCharts();
  } catch (error) {
    if (current()) root.append(notice(errorText(error), 'error'));
  }
}
