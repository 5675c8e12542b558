import { describe, expect, it } from 'vitest';
import { nodeRuntimeEnvKey, probeNodeBinary, resolveNodeRuntime } from './node-runtimes.js';
import { loadServerConfig } from './server-config.js';

const server = { execPath: '/usr/local/bin/node', version: 'v20.20.2' };

describe('Node runtime binaries', () => {
  it("runs a runtime without a configured binary on the server's own Node", () => {
    expect(resolveNodeRuntime('nodejs20.x', { nodeRuntimes: {} }, server)).toEqual({
      runtime: 'nodejs20.x',
      nodePath: '/usr/local/bin/node',
      nodeVersion: 'v20.20.2',
      matched: true,
      source: 'server',
    });
    expect(resolveNodeRuntime('nodejs22.x', { nodeRuntimes: {} }, server)).toMatchObject({
      nodeVersion: 'v20.20.2',
      matched: false,
    });
  });

  it("knows a configured binary's version once it has been probed", async () => {
    const config = { nodeRuntimes: { 'nodejs22.x': '/no/such/node', 'nodejs20.x': process.execPath } };
    expect(resolveNodeRuntime('nodejs22.x', config, server)).toEqual({
      runtime: 'nodejs22.x',
      nodePath: '/no/such/node',
      matched: false,
      source: 'configured',
    });
    await expect(probeNodeBinary('/no/such/node')).rejects.toThrow(/cannot run/);
    const info = await probeNodeBinary(process.execPath);
    expect(info.version).toBe(process.version);
    expect(info.flags.has('--allow-fs-read')).toBe(true);
    expect(resolveNodeRuntime('nodejs20.x', config, server)).toMatchObject({
      nodePath: process.execPath,
      nodeVersion: process.version,
      source: 'configured',
    });
  });

  it('reads nodeRuntimes from the file, then the env per runtime, then flags', () => {
    expect(nodeRuntimeEnvKey('nodejs22.x')).toBe('STRATO_NODE_NODEJS22_X');
    expect(loadServerConfig({}, {}, '/').nodeRuntimes).toEqual({});
    const config = loadServerConfig(
      { nodeRuntimes: { 'nodejs24.x': '/flag/node' } },
      { STRATO_NODE_NODEJS22_X: '/env/node22', STRATO_NODE_NODEJS24_X: '/env/node24' },
      '/',
    );
    expect(config.nodeRuntimes).toEqual({ 'nodejs22.x': '/env/node22', 'nodejs24.x': '/flag/node' });
    expect(() => loadServerConfig({}, { STRATO_NODE_NODEJS20_X: 'relative/node' }, '/')).toThrow(
      /absolute path/,
    );
    expect(() => loadServerConfig({ nodeRuntimes: { 'nodejs1.x': '/x' } as never }, {}, '/')).toThrow(
      /invalid server config/,
    );
  });
});
