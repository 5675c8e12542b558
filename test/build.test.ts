import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { bundleFunction } from '../src/build/bundle-function.js';
import {
  deploySource,
  invokeJson,
  startTestServer,
  uniqueName,
  writeFunctionDir,
  type TestServer,
} from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

describe('bundling functions with their npm dependencies', () => {
  it("bundles dependencies from the function's own node_modules (ESM and CJS packages)", async () => {
    const name = uniqueName('own-deps');
    await deploySource(server.client, name, {
      'package.json': JSON.stringify({ name: 'fn', main: 'src/main.ts' }),
      'src/main.ts': `import { shout } from 'shouty'; import pad = require('padder'); export const handler = async (e: { w: string }) => pad(shout(e.w), 8);`,
      'node_modules/shouty/package.json': JSON.stringify({
        name: 'shouty',
        version: '1.0.0',
        type: 'module',
        exports: { '.': { import: './index.js' } },
      }),
      'node_modules/shouty/index.js': `export const shout = (s) => s.toUpperCase() + '!';`,
      'node_modules/padder/package.json': JSON.stringify({
        name: 'padder',
        version: '1.0.0',
        main: 'lib.js',
      }),
      'node_modules/padder/lib.js': `module.exports = (s, n) => s.padStart(n, '*');`,
    });
    expect(await invokeJson(server.client, name, { w: 'hey' })).toMatchObject({
      status: 200,
      body: '****HEY!',
    });
  });

  it('bundles the greeting example with mustache from npm', async () => {
    const bundle = await bundleFunction('examples/greeting');
    expect(bundle.suggestedName).toBe('greeting');
    const name = uniqueName('greeting');
    await server.client.deploy(name, { code: bundle.code, sourceMap: bundle.sourceMap });
    expect(await invokeJson(server.client, name, { name: 'Ada', items: ['a', 'b'] })).toMatchObject({
      status: 200,
      body: { text: 'Hello Ada! You have 2 items: a b', functionName: name },
    });
  });

  it('reports syntax errors and missing modules as BUILD_FAILED with the location', async () => {
    const broken = writeFunctionDir({ 'index.ts': 'export default async () => {' });
    const missing = writeFunctionDir({
      'index.ts': "import x from 'not-installed-anywhere'; export default x;",
    });
    try {
      await expect(bundleFunction(broken)).rejects.toMatchObject({
        code: 'BUILD_FAILED',
        message: expect.stringMatching(/index\.ts:1:\d+/),
      });
      await expect(bundleFunction(missing)).rejects.toMatchObject({
        code: 'BUILD_FAILED',
        message: expect.stringContaining('not-installed-anywhere'),
      });
      await expect(bundleFunction('/nonexistent/fn.ts')).rejects.toMatchObject({ code: 'BUILD_FAILED' });
    } finally {
      rmSync(broken, { recursive: true, force: true });
      rmSync(missing, { recursive: true, force: true });
    }
  });
});
