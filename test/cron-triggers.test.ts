import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StratoClient } from '../src/client/strato-client.js';
import type { TriggerView } from '../src/core/trigger.js';
import { expectCode } from './helpers/expect-code.js';
import { deploySource, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

const run = promisify(execFile);

/** Logs the whole event, one JSON line per run. */
const LOG_EVENT = `export default async (event) => { console.log(JSON.stringify(event)); return event.time; };`;

interface LoggedEvent {
  version: string;
  id: string;
  'detail-type': string;
  source: string;
  time: string;
  resources: string[];
  detail: unknown;
}

async function eventsOf(client: StratoClient, name: string): Promise<LoggedEvent[]> {
  const { logs } = await client.logs(name, { limit: 1000 });
  return logs.map((line) => JSON.parse(line.message) as LoggedEvent);
}

async function asyncRuns(client: StratoClient, name: string): Promise<number> {
  const { invocations } = await client.listInvocations(name, { limit: 100 });
  return invocations.filter((record) => record.trigger === 'async').length;
}

describe('cron triggers', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('runs a function every second through the async queue, with a scheduled event', async () => {
    const name = uniqueName('cron-every-second');
    await deploySource(server.client, name, LOG_EVENT);
    const created = await server.client.createCronTrigger(name, {
      schedule: '* * * * * *',
      payload: { hello: 'cron' },
    });
    expect(created.trigger).toMatchObject({
      type: 'cron',
      functionName: name,
      qualifier: null,
      schedule: '* * * * * *',
      timezone: 'UTC',
      payload: { hello: 'cron' },
      missed: 'catch-up-once',
      enabled: true,
      lastFiredSlot: null,
    });
    expect(created.nextFireTimes).toHaveLength(5);
    expect(Date.parse(created.nextFireTimes[1]!) - Date.parse(created.nextFireTimes[0]!)).toBe(1000);

    await expect
      .poll(() => asyncRuns(server.client, name), { timeout: 10_000, interval: 100 })
      .toBeGreaterThanOrEqual(3);
    const events = await eventsOf(server.client, name);
    expect(events[0]).toStrictEqual({
      version: '0',
      id: expect.any(String),
      'detail-type': 'Scheduled Event',
      source: 'strato.cron',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      resources: [created.trigger.id],
      detail: { hello: 'cron' },
    });
    const times = events.map((event) => Date.parse(event.time));
    // One run per slot: distinct, whole seconds.
    expect(new Set(times).size).toBe(times.length);
    for (const time of times) expect(time % 1000).toBe(0);

    const { trigger } = await server.client.getTrigger(created.trigger.id);
    expect(trigger.lastFiredSlot).not.toBeNull();

    // Deleting the trigger stops it at once.
    await server.client.deleteTrigger(created.trigger.id);
    await sleep(300);
    const settled = await asyncRuns(server.client, name);
    await sleep(1500);
    expect(await asyncRuns(server.client, name)).toBe(settled);
    await expectCode(server.client.getTrigger(created.trigger.id), 'TRIGGER_NOT_FOUND');
  });

  it('lists, validates, and goes with its function', async () => {
    const name = uniqueName('cron-api');
    await deploySource(server.client, name, LOG_EVENT);
    expect((await server.client.listTriggers(name)).triggers).toEqual([]);
    const berlin = await server.client.createCronTrigger(name, {
      schedule: '0 9 * * *',
      timezone: 'Europe/Berlin',
      missed: 'skip',
      qualifier: '1',
    });
    // 09:00 in Berlin is 07:00Z or 08:00Z, depending on the season.
    expect(berlin.nextFireTimes[0]).toMatch(/T0[78]:00:00\.000Z$/);
    expect(berlin.trigger).toMatchObject({ missed: 'skip', qualifier: '1', payload: {} });
    const listed = (await server.client.listTriggers(name)).triggers;
    expect(listed.map((t) => t.id)).toEqual([berlin.trigger.id]);
    expect(listed[0]?.nextFireAt).toBe(berlin.nextFireTimes[0]);

    const bad = await server.authedFetch(`${server.url}/v1/functions/${name}/triggers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'cron', schedule: '61 * * * *' }),
    });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('VALIDATION_FAILED');
    expect(body.error.message).toContain('Invalid value for minute: 61');
    await expectCode(
      server.client.createCronTrigger(name, { schedule: '* * * * *', timezone: 'Mars/Olympus_Mons' }),
      'VALIDATION_FAILED',
    );
    await expectCode(
      server.client.createCronTrigger(name, { schedule: '* * * * *', missed: 'all' as 'skip' }),
      'VALIDATION_FAILED',
    );
    await expectCode(
      server.client.createCronTrigger(name, { schedule: '* * * * *', qualifier: '7' }),
      'VERSION_NOT_FOUND',
    );
    await expectCode(
      server.client.createCronTrigger(uniqueName('cron-ghost'), { schedule: '* * * * *' }),
      'FUNCTION_NOT_FOUND',
    );
    await expectCode(server.client.listTriggers(uniqueName('cron-ghost')), 'FUNCTION_NOT_FOUND');
    await expectCode(server.client.getTrigger('nope'), 'TRIGGER_NOT_FOUND');
    expect((await server.client.listTriggers(name)).triggers).toHaveLength(1);

    await server.client.deleteFunction(name);
    await expectCode(server.client.getTrigger(berlin.trigger.id), 'TRIGGER_NOT_FOUND');
  });
});

describe('strato trigger (CLI)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  /** The CLI from source, as `strato` runs it. */
  async function strato(...args: string[]): Promise<string> {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args, '--url', server.url],
      { env: { ...process.env, STRATO_URL: '', STRATO_API_KEY: server.apiKey } },
    );
    return stdout;
  }

  it('creates, lists and removes a cron trigger', async () => {
    const name = uniqueName('cron-cli');
    await deploySource(server.client, name, LOG_EVENT);
    const created = await strato(
      'trigger',
      'cron',
      name,
      '*/5 * * * *',
      '--tz',
      'Europe/Berlin',
      '--payload',
      '{"a":1}',
      '--missed',
      'skip',
    );
    const id = /created (trg_[0-9a-f]{32})/.exec(created)?.[1];
    expect(id).toBeDefined();
    expect(created).toContain("on '*/5 * * * *' (Europe/Berlin, missed: skip)");
    expect(created.match(/ {2}next: /g)).toHaveLength(5);

    const listed = JSON.parse(await strato('trigger', 'ls', name, '--json')) as TriggerView[];
    expect(listed).toMatchObject([{ id, payload: { a: 1 }, missed: 'skip', timezone: 'Europe/Berlin' }]);
    expect(await strato('trigger', 'ls', name)).toMatch(/^ID\s+SCHEDULE\s+TIMEZONE/);

    await expect(strato('trigger', 'cron', name, '* * * * *', '--missed', 'sometimes')).rejects.toMatchObject(
      {
        stderr: expect.stringContaining('error VALIDATION_FAILED: --missed must be catch-up-once or skip'),
      },
    );
    expect(await strato('trigger', 'rm', id!)).toBe(`deleted ${id}\n`);
    expect((await server.client.listTriggers(name)).triggers).toEqual([]);
  });
});

describe('cron triggers across a restart', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'strato-cron-restart-'));
  });
  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('sends one invocation for the slots missed while down with catch-up-once, none with skip', async () => {
    const catchUp = uniqueName('cron-catch-up');
    const skip = uniqueName('cron-skip');
    let server = await startTestServer({ dataDir });
    // Four slots a second apart, starting 2 s from now, then none for a minute: the first fires before
    // the stop, the others are missed while down, and nothing regular fires after the restart.
    let slots: number[] = [];
    let stoppedAt: number;
    try {
      await deploySource(server.client, catchUp, LOG_EVENT);
      await deploySource(server.client, skip, LOG_EVENT);
      const first = Math.floor(Date.now() / 1000) + 2;
      slots = [0, 1, 2, 3].map((i) => (first + i) * 1000);
      const schedule = `${slots.map((ms) => new Date(ms).getUTCSeconds()).join(',')} * * * * *`;
      await server.client.createCronTrigger(catchUp, { schedule, missed: 'catch-up-once' });
      await server.client.createCronTrigger(skip, { schedule, missed: 'skip' });
      for (const name of [catchUp, skip]) {
        await expect
          .poll(() => asyncRuns(server.client, name), { timeout: 10_000, interval: 50 })
          .toBeGreaterThanOrEqual(1);
      }
    } finally {
      await server.stop();
      stoppedAt = Date.now();
    }
    // Down until the last slot has passed.
    await sleep(Math.max(0, slots[3]! + 300 - Date.now()));

    server = await startTestServer({ dataDir });
    try {
      await expect
        .poll(
          async () => (await eventsOf(server.client, catchUp)).filter((e) => Date.parse(e.time) > stoppedAt),
          { timeout: 10_000, interval: 50 },
        )
        .toHaveLength(1);
      await sleep(1500);
      const catchUpTimes = (await eventsOf(server.client, catchUp)).map((e) => Date.parse(e.time));
      const skipTimes = (await eventsOf(server.client, skip)).map((e) => Date.parse(e.time));
      const lastBeforeStop = Math.max(...catchUpTimes.filter((time) => time <= stoppedAt));
      // Several slots were missed; exactly one ran for them: the most recent.
      expect(slots.filter((slot) => slot > lastBeforeStop).length).toBeGreaterThanOrEqual(2);
      expect(catchUpTimes.filter((time) => time > stoppedAt)).toEqual([slots[3]]);
      expect(skipTimes.length).toBeGreaterThanOrEqual(1);
      expect(skipTimes.filter((time) => time > stoppedAt)).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});
