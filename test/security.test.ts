import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StratoError } from '../src/core/strato-error.js';
import { deploySource, invokeJson, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

const SECRET = `host-secret-${process.pid}`;
let server: TestServer;
beforeAll(async () => {
  process.env['STRATO_TEST_HOST_SECRET'] = SECRET;
  server = await startTestServer();
});
afterAll(async () => {
  delete process.env['STRATO_TEST_HOST_SECRET'];
  await server.stop();
});

/** Runs `probe` (a function body) inside a function and returns what it returned. */
async function probe(body: string, settings = {}): Promise<unknown> {
  const name = uniqueName('probe');
  await deploySource(
    server.client,
    name,
    { 'index.js': `exports.handler = async (event, context) => { ${body} };` },
    settings,
  );
  const result = await invokeJson(server.client, name, { some: 'event' });
  expect(result.status).toBe(200);
  return result.body;
}

describe('untrusted code cannot reach the host', () => {
  it('has no process, and require throws', async () => {
    expect(await probe(`return typeof process;`)).toBe('undefined');
    expect(await probe(`try { require('fs'); return 'loaded'; } catch (e) { return e.message; }`)).toMatch(
      /not available/,
    );
    expect(await probe(`return typeof globalThis.require + typeof module.require;`)).toBe(
      'undefinedundefined',
    );
  });

  it('cannot climb to the host through constructors', async () => {
    expect(
      await probe(
        `try { return String(globalThis.constructor.constructor('return process')()); } catch (e) { return e.name; }`,
      ),
    ).toMatch(/^(undefined|ReferenceError)$/);
    expect(
      await probe(
        `try { return typeof (function(){}).constructor('return this')().process; } catch (e) { return e.name; }`,
      ),
    ).toBe('undefined');
    expect(
      await probe(
        `try { return typeof event.constructor.constructor('return process')(); } catch (e) { return e.name; }`,
      ),
    ).toBe('ReferenceError');
    expect(
      await probe(
        `try { return typeof context.getRemainingTimeInMillis.constructor('return process')(); } catch (e) { return e.name; }`,
      ),
    ).toBe('ReferenceError');
  });

  it('sees none of the host environment, only its own env', async () => {
    const found = await probe(
      `const seen = [];
       for (const key of Object.getOwnPropertyNames(globalThis)) {
         try { const v = globalThis[key]; if (typeof v === 'string' && v.includes(${JSON.stringify(SECRET)})) seen.push(key); } catch {}
       }
       return { seen, env: context.env, names: Object.getOwnPropertyNames(globalThis).filter((n) => n.startsWith('__')) };`,
      { env: { MINE: 'yes' } },
    );
    expect(found).toEqual({ seen: [], env: { MINE: 'yes' }, names: [] });
  });

  it('runs its sandbox hosts with an empty environment', () => {
    for (const pid of server.sandbox.hostPids()) {
      expect(pid).toBeTypeOf('number');
      const environ = readFileSync(`/proc/${pid!}/environ`, 'utf8');
      expect(environ).not.toContain(SECRET);
      // Only what Node itself sets up for the IPC channel to the gateway.
      const names = environ
        .split('\0')
        .filter((entry) => entry.length > 0)
        .map((entry) => entry.split('=')[0]);
      expect(names.every((entry) => entry!.startsWith('NODE_CHANNEL_'))).toBe(true);
    }
  });

  it('has no file system, no module loader and no network', async () => {
    // Built at run time so that the bundler cannot see (and rewrite) the import.
    expect(
      await probe(
        `try { await new Function('s', 'return import(s)')('node:fs'); return 'imported'; } catch (e) { return 'refused: ' + e.message; }`,
      ),
    ).toMatch(/^refused/);
    expect(
      await probe(`try { await import('node:fs'); return 'imported'; } catch (e) { return 'refused'; }`),
    ).toBe('refused');
    expect(
      await probe(
        `try { await fetch('http://127.0.0.1:1/'); return 'fetched'; } catch (e) { return e.message; }`,
      ),
    ).toMatch(/outbound network is not enabled/);
    expect(
      await probe(
        `return [typeof Deno, typeof Bun, typeof globalThis.fs, typeof globalThis.__strato_host].join();`,
      ),
    ).toBe('undefined,undefined,undefined,undefined');
  });

  it('refuses to bundle Node built-ins at deploy', async () => {
    await expect(
      deploySource(
        server.client,
        uniqueName('fs-user'),
        `import { readFileSync } from 'node:fs'; export default async () => readFileSync('/etc/passwd', 'utf8');`,
      ),
    ).rejects.toSatisfy(
      (error) =>
        error instanceof StratoError && error.code === 'BUILD_FAILED' && /Node built-ins/.test(error.message),
    );
  });

  it('keeps instances of different functions apart', async () => {
    const writer = uniqueName('writer');
    const reader = uniqueName('reader');
    await deploySource(
      server.client,
      writer,
      `export default async () => { (globalThis as any).shared = 'leaked'; return 'written'; };`,
    );
    await deploySource(
      server.client,
      reader,
      `export default async () => String((globalThis as any).shared);`,
    );
    expect(await invokeJson(server.client, writer)).toMatchObject({ body: 'written' });
    expect(await invokeJson(server.client, reader)).toMatchObject({ body: 'undefined' });
  });
});
