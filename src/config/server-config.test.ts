import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveServerUrl } from './cli-config.js';
import { parseBytes, parseDuration } from './duration.js';
import { loadServerConfig } from './server-config.js';

const dirs: string[] = [];
function configDir(config?: unknown): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'strato-config-'));
  dirs.push(dir);
  if (config !== undefined) writeFileSync(path.join(dir, 'strato.config.json'), JSON.stringify(config));
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('server config', () => {
  it('has embedded defaults', () => {
    const config = loadServerConfig({}, {}, configDir());
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      dataDir: '.strato',
      store: { kind: 'sqlite' },
      keepAlive: 600_000,
      maxPayload: 6 * 1024 * 1024,
      isolateHosts: 2,
    });
  });

  it('layers defaults < ./strato.config.json < STRATO_* env < flags', () => {
    const cwd = configDir({
      host: '0.0.0.0',
      port: 9000,
      dataDir: '/file',
      keepAlive: '5m',
      maxPayload: '1mb',
    });
    expect(loadServerConfig({}, {}, cwd)).toMatchObject({
      host: '0.0.0.0',
      port: 9000,
      dataDir: '/file',
      keepAlive: 300_000,
      maxPayload: 1024 * 1024,
    });
    const env = {
      STRATO_PORT: '9100',
      STRATO_DATA_DIR: '/env',
      STRATO_KEEP_ALIVE: '30s',
      STRATO_HOST: '::1',
    };
    expect(loadServerConfig({}, env, cwd)).toMatchObject({
      host: '::1',
      port: 9100,
      dataDir: '/env',
      keepAlive: 30_000,
    });
    expect(
      loadServerConfig({ port: 0, dataDir: '/flag', keepAlive: '1s', host: 'localhost' }, env, cwd),
    ).toMatchObject({
      host: 'localhost',
      port: 0,
      dataDir: '/flag',
      keepAlive: 1000,
    });
  });

  it('resolves the log retention and flood settings through every layer', () => {
    expect(loadServerConfig({}, {}, configDir())).toMatchObject({
      logRetention: 7 * 86_400_000,
      logRetentionBytes: 1024 ** 3,
      logBytesPerFunctionPerMinute: 10 * 1024 ** 2,
    });
    const cwd = configDir({
      logRetention: '2d',
      logRetentionBytes: '5mb',
      logBytesPerFunctionPerMinute: '1mb',
    });
    expect(loadServerConfig({}, {}, cwd)).toMatchObject({
      logRetention: 2 * 86_400_000,
      logRetentionBytes: 5 * 1024 ** 2,
      logBytesPerFunctionPerMinute: 1024 ** 2,
    });
    const env = {
      STRATO_LOG_RETENTION: '12h',
      STRATO_LOG_RETENTION_BYTES: '2gb',
      STRATO_LOG_BYTES_PER_FUNCTION_PER_MINUTE: '64kb',
    };
    expect(loadServerConfig({}, env, cwd)).toMatchObject({
      logRetention: 12 * 3_600_000,
      logRetentionBytes: 2 * 1024 ** 3,
      logBytesPerFunctionPerMinute: 64 * 1024,
    });
    expect(loadServerConfig({ logRetention: '1d' }, env, cwd).logRetention).toBe(86_400_000);
    expect(() => loadServerConfig({}, { STRATO_LOG_RETENTION: 'a week' }, cwd)).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
  });

  it('reads the file named by --config or STRATO_CONFIG instead of ./strato.config.json', () => {
    const cwd = configDir({ port: 1 });
    writeFileSync(path.join(cwd, 'other.json'), JSON.stringify({ port: 2 }));
    writeFileSync(path.join(cwd, 'third.json'), JSON.stringify({ port: 3 }));
    expect(loadServerConfig({ config: 'other.json' }, {}, cwd).port).toBe(2);
    expect(loadServerConfig({}, { STRATO_CONFIG: 'third.json' }, cwd).port).toBe(3);
  });

  it('switches to Postgres with STRATO_DATABASE_URL, keeping a schema from the file', () => {
    const cwd = configDir({ store: { kind: 'sqlite' } });
    expect(loadServerConfig({}, { STRATO_DATABASE_URL: 'postgres://db/x' }, cwd).store).toEqual({
      kind: 'postgres',
      url: 'postgres://db/x',
    });
    const withSchema = configDir({ store: { kind: 'postgres', url: 'postgres://file/y', schema: 'tenant' } });
    expect(loadServerConfig({}, { STRATO_DATABASE_URL: 'postgres://db/x' }, withSchema).store).toEqual({
      kind: 'postgres',
      url: 'postgres://db/x',
      schema: 'tenant',
    });
  });

  it('refuses unknown keys, bad values and unreadable files with VALIDATION_FAILED', () => {
    expect(() => loadServerConfig({}, {}, configDir({ prot: 80 }))).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
    expect(() => loadServerConfig({}, { STRATO_PORT: '70000' }, configDir())).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
    expect(() => loadServerConfig({ keepAlive: 'soon' }, {}, configDir())).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
    expect(() => loadServerConfig({ config: 'missing.json' }, {}, configDir())).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
    const broken = configDir();
    writeFileSync(path.join(broken, 'strato.config.json'), '{ not json');
    expect(() => loadServerConfig({}, {}, broken)).toThrow(/not a JSON object/);
  });
});

describe('durations, sizes and the CLI server URL', () => {
  it('turns otlpEndpoint into the OTLP traces URL, unset by default', () => {
    const cwd = configDir();
    expect(loadServerConfig({}, {}, cwd).otlpEndpoint).toBeUndefined();
    const of = (otlpEndpoint: string) => loadServerConfig({ otlpEndpoint }, {}, cwd).otlpEndpoint;
    expect(of('http://127.0.0.1:4318')).toBe('http://127.0.0.1:4318/v1/traces');
    expect(of('http://collector/base/')).toBe('http://collector/base/v1/traces');
    expect(of('https://collector/v1/traces')).toBe('https://collector/v1/traces');
    expect(loadServerConfig({}, { STRATO_OTLP_ENDPOINT: 'http://env:4318' }, cwd).otlpEndpoint).toBe(
      'http://env:4318/v1/traces',
    );
    expect(() => of('ftp://collector')).toThrow(/otlpEndpoint/);
    expect(() => of('not a url')).toThrow(/otlpEndpoint/);
  });

  it('parses durations and sizes', () => {
    expect([
      parseDuration('500ms'),
      parseDuration('10s'),
      parseDuration('5m'),
      parseDuration('1h'),
      parseDuration('7d'),
      parseDuration('1.5d'),
      parseDuration(250),
    ]).toEqual([500, 10_000, 300_000, 3_600_000, 604_800_000, 129_600_000, 250]);
    expect(parseDuration('ten seconds')).toBeUndefined();
    expect(parseDuration(-1)).toBeUndefined();
    expect([parseBytes('256kb'), parseBytes('6MB'), parseBytes(10)]).toEqual([
      256 * 1024,
      6 * 1024 * 1024,
      10,
    ]);
    expect(parseBytes('lots')).toBeUndefined();
  });

  it('takes --url, else STRATO_URL, else http://127.0.0.1:8080', () => {
    expect(resolveServerUrl('http://flag', { STRATO_URL: 'http://env' })).toBe('http://flag');
    expect(resolveServerUrl(undefined, { STRATO_URL: 'http://env' })).toBe('http://env');
    expect(resolveServerUrl(undefined, { STRATO_URL: '' })).toBe('http://127.0.0.1:8080');
    expect(resolveServerUrl(undefined, {})).toBe('http://127.0.0.1:8080');
  });
});
