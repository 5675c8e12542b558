import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConsoleDir } from '../src/http/routes/console-routes.js';
import { deploySource, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

const repoRoot = path.join(import.meta.dirname, '..');
/** Debian's chromium (.ci/run installs it); playwright-core never downloads a browser. */
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = process.env.STRATO_CONSOLE_SCREENSHOTS === '1';
/** How long a poll waits: the page works while the rest of the suite loads both cores. */
const PATIENCE = { timeout: 15_000 };

let server: TestServer;
let context: BrowserContext;
let page: Page;
let userDataDir: string;

/** With STRATO_CONSOLE_SCREENSHOTS=1, the page as it is now goes to docs/<name>.png (for the README). */
async function screenshot(name: string): Promise<void> {
  if (SCREENSHOTS)
    await page.screenshot({ path: path.join(repoRoot, 'docs', `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  // `npm test` builds the console first; a lone run of this file builds it when it is missing.
  if (!existsSync(path.join(defaultConsoleDir, 'index.html'))) {
    execFileSync('npm', ['run', 'build:console'], { cwd: repoRoot, stdio: 'inherit' });
  }
  server = await startTestServer({ asyncRetryBaseDelay: 20, asyncLease: 300 });
  userDataDir = mkdtempSync(path.join(os.tmpdir(), 'strato-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
  });
  page = context.pages()[0] ?? (await context.newPage());
}, 120_000);

afterAll(async () => {
  await context?.close();
  await server?.stop();
  if (userDataDir !== undefined) rmSync(userDataDir, { recursive: true, force: true });
});

describe('the web console in headless Chromium', { timeout: 90_000 }, () => {
  it('asks for an API key, sends the saved one as a Bearer token, and keeps it across reloads', async () => {
    await page.goto(`${server.url}/console/`);
    // Without a key the API refuses, and the page says what to do.
    await expect.poll(() => page.locator('main').textContent(), PATIENCE).toContain('API key');
    await page.locator('#api-key input').fill(server.apiKey);
    const sent = page.waitForRequest((request) => new URL(request.url()).pathname === '/v1/functions');
    await page.locator('#api-key button').click();
    expect((await sent).headers().authorization).toBe(`Bearer ${server.apiKey}`);
    await expect.poll(() => page.locator('main').textContent(), PATIENCE).toContain('No functions yet');
    await page.reload();
    expect(await page.locator('#api-key input').inputValue()).toBe(server.apiKey);
    // Cleared, it is gone from storage; saved again for the tests that follow.
    await page.locator('#api-key input').fill('');
    await page.locator('#api-key button').click();
    // A string: the test is type-checked without the DOM's globals.
    expect(await page.evaluate<string | null>("localStorage.getItem('strato.apiKey')")).toBeNull();
    await page.locator('#api-key input').fill(server.apiKey);
    await page.locator('#api-key button').click();
  });

  it('invokes a function from its page and shows the result, its log line, the record and a chart', async () => {
    const name = uniqueName('console-greet');
    await deploySource(
      server.client,
      name,
      `export default async (event: { name: string }) => {
        console.log('greeting ' + event.name);
        return { greeting: 'hello ' + event.name };
      };`,
      { description: 'greets by name' },
    );

    await page.goto(`${server.url}/console/`);
    const row = page.locator('#functions-table tr', { hasText: name });
    await expect.poll(() => row.count(), PATIENCE).toBe(1);
    await screenshot('console-functions');

    await row.getByRole('link', { name }).click();
    await page.locator('#invoke-form textarea').fill('{"name":"Ada"}');
    await page.locator('#invoke-form button[type=submit]').click();
    await expect
      .poll(() => page.locator('#invoke-response').textContent(), PATIENCE)
      .toContain('"greeting": "hello Ada"');
    await expect
      .poll(() => page.locator('#invoke-status').textContent(), PATIENCE)
      .toMatch(/^status 200 · version 1 · cold/);
    await expect
      .poll(() => page.locator('#invoke-output .logs').textContent(), PATIENCE)
      .toContain('greeting Ada');
    // The charts are drawn again once the record is stored: the invocation is a point on them.
    await expect
      .poll(() => page.locator('#function-charts circle.point').count(), PATIENCE)
      .toBeGreaterThan(0);
    await screenshot('console-function');

    const [record] = (await server.client.listInvocations(name)).invocations;
    expect(record).toBeDefined();
    await page.getByRole('navigation').getByRole('link', { name: 'Invocations' }).click();
    await page.locator('#invocation-filters select[name=fn]').selectOption(name);
    const recordRow = page.locator('#invocations-table tbody tr', { hasText: record!.id.slice(0, 8) });
    await expect.poll(() => recordRow.count(), PATIENCE).toBe(1);
    await expect.poll(() => recordRow.textContent(), PATIENCE).toContain('success');
    await screenshot('console-invocations');
    // A filter that excludes it.
    await page.locator('#invocation-filters select[name=outcome]').selectOption('error');
    await expect.poll(() => page.locator('main').textContent(), PATIENCE).toContain('No invocations match.');
    expect(new URL(page.url()).searchParams.get('outcome')).toBe('error');
    await page.goBack();
    await page.locator('#invocations-table tbody tr a', { hasText: record!.id.slice(0, 8) }).click();
    await expect.poll(() => page.locator('#invocation-record').textContent(), PATIENCE).toContain('success');
    await expect.poll(() => page.locator('main .logs').textContent(), PATIENCE).toContain('greeting Ada');
  });

  it('redrives a dead-lettered async invocation from the queue view', async () => {
    const name = uniqueName('console-dlq');
    await deploySource(
      server.client,
      name,
      `export default async () => { throw new Error('broken on purpose'); };`,
      {
        asyncRetries: 0,
      },
    );
    const { invocationId } = await server.client.invokeAsync(name, '{"order":42}');
    await expect
      .poll(async () => (await server.client.listDeadLetters(name)).invocations.length, PATIENCE)
      .toBe(1);
    // Fixed, so the redriven attempt succeeds.
    await deploySource(
      server.client,
      name,
      `export default async (event: { order: number }) => ({ shipped: event.order });`,
    );

    await page.goto(`${server.url}/console/dlq?fn=${name}`);
    const entry = page.locator('#dlq-table tr', { hasText: invocationId });
    await expect.poll(() => entry.count(), PATIENCE).toBe(1);
    await expect.poll(() => entry.textContent(), PATIENCE).toContain('broken on purpose');
    await screenshot('console-dlq');

    await entry.getByRole('button', { name: 'Redrive' }).click();
    await expect
      .poll(() => page.locator('#dlq-status').textContent(), PATIENCE)
      .toBe(`redriven: 1 (${invocationId})`);
    await expect
      .poll(async () => (await server.client.getAsyncInvocation(invocationId)).status, PATIENCE)
      .toBe('succeeded');
    expect((await server.client.listDeadLetters(name)).invocations).toEqual([]);

    // Its detail view shows the attempts: the dead first one and the redriven one.
    await page.goto(`${server.url}/console/invocations/${invocationId}`);
    await expect.poll(() => page.locator('#async-status').textContent(), PATIENCE).toBe('succeeded');
    await expect.poll(() => page.locator('#async-attempts tbody tr').count(), PATIENCE).toBe(2);
  });

  it('shows the cost report, or says the server has none', async () => {
    const hasCost = (await server.authedFetch(`${server.url}/v1/cost`)).status !== 404;
    await page.goto(`${server.url}/console/cost`);
    if (hasCost) {
      await expect.poll(() => page.locator('#cost-summary').count(), PATIENCE).toBe(1);
      await expect.poll(() => page.locator('main svg.chart').count(), PATIENCE).toBeGreaterThan(0);
    } else {
      await expect
        .poll(() => page.locator('main').textContent(), PATIENCE)
        .toContain('cost report is not available on this server');
    }
    await screenshot('console-cost');
  });
});
