import type { InvocationRecord, LogLine } from '../../../src/core/invocation.js';
import { api, errorText } from '../api.js';
import { h, link, replace } from '../dom.js';
import { formatMs, prettyJson } from '../format.js';
import { logList } from './log-list.js';

/** Records are written in batches (every 100 ms): wait a little for the invocation's to appear. */
async function recordOf(id: string): Promise<{ invocation: InvocationRecord; logs: LogLine[] } | undefined> {
  for (let attempt = 0; attempt < 30; attempt++) {
    try {
      return await api.getInvocation(id);
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return undefined;
}

/** An event editor that invokes the function and shows the response, then the invocation's log lines. */
export function invokeForm(name: string, qualifiers: string[], onInvoked: () => void): HTMLElement {
  const event = h('textarea', { name: 'event', rows: 5, spellcheck: 'false' }, '{}');
  const qualifier = h('select', { name: 'version' }, ...qualifiers.map((q) => h('option', { value: q }, q)));
  const output = h('div', { class: 'invoke-output', id: 'invoke-output' });
  const button = h('button', { type: 'submit' }, 'Invoke');

  async function invoke(): Promise<void> {
    button.disabled = true;
    replace(output, h('p', { class: 'muted' }, 'invoking…'));
    try {
      JSON.parse(event.value);
    } catch (error) {
      replace(output, h('p', { class: 'notice error' }, `The event is not JSON: ${errorText(error)}`));
      button.disabled = false;
      return;
    }
    try {
      const response = await api.invoke(name, event.value, { version: qualifier.value });
      const meta = [
        `status ${response.status}`,
        response.version === null ? null : `version ${response.version}`,
        response.cold ? 'cold' : 'warm',
      ].filter((part) => part !== null);
      const logs = h('div', { class: 'invoke-logs' }, h('p', { class: 'muted' }, 'loading logs…'));
      replace(
        output,
        h(
          'p',
          { class: response.status < 400 ? 'ok' : 'failed', id: 'invoke-status' },
          meta.join(' · '),
          response.invocationId === null
            ? null
            : h(
                'span',
                {},
                ' · ',
                link(`/console/invocations/${response.invocationId}`, response.invocationId),
              ),
        ),
        h('pre', { class: 'response', id: 'invoke-response' }, prettyJson(response.body)),
        logs,
      );
      if (response.invocationId !== null) {
        const record = await recordOf(response.invocationId);
        replace(
          logs,
          record === undefined
            ? h('p', { class: 'muted' }, 'The invocation record is not stored yet.')
            : [h('h3', {}, `Logs (${formatMs(record.invocation.durationMs)})`), logList(record.logs)],
        );
        onInvoked();
      }
    } catch (error) {
      replace(output, h('p', { class: 'notice error' }, errorText(error)));
    } finally {
      button.disabled = false;
    }
  }

  const form = h(
    'form',
    { class: 'invoke-form', id: 'invoke-form' },
    h('label', {}, 'Event (JSON)', event),
    h('div', { class: 'row' }, h('label', {}, 'Version ', qualifier), button),
  );
  form.addEventListener('submit', (submitted) => {
    submitted.preventDefault();
    void invoke();
  });
  return h('section', { class: 'panel' }, h('h2', {}, 'Invoke'), form, output);
}
