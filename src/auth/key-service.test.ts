import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../core/store.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import { expectCode, expectThrowsCode } from '../../test/helpers/expect-code.js';
import { tokenSha256 } from './api-key-token.js';
import { KeyService } from './key-service.js';

let dir: string;
let store: Store;
beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'strato-keys-'));
  store = await openSqliteStore({ file: path.join(dir, 'strato.db') });
  await store.migrate();
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('KeyService', () => {
  it('creates one admin key at first start, shown once, and none after', async () => {
    const keys = new KeyService(store);
    const first = await keys.bootstrap(undefined);
    if (first.kind !== 'generated') throw new Error(`expected a generated key, got ${first.kind}`);
    expect(first.token).toMatch(/^strato_sk_[A-Za-z0-9_-]{43}$/);
    expect(first.key).toMatchObject({ scopes: ['admin'], namespace: 'default', revokedAt: null });
    expect(await keys.bootstrap(undefined)).toStrictEqual({ kind: 'existing' });
    expect(await keys.authenticate(`Bearer ${first.token}`)).toStrictEqual({
      keyId: first.key.id,
      namespace: 'default',
      scopes: ['admin'],
      rateLimit: null,
    });
    // Only the hash is stored.
    expect((await store.findApiKey(tokenSha256(first.token)))?.id).toBe(first.key.id);
    expect(JSON.stringify(await store.listApiKeys({}))).not.toContain(first.token);
  });

  it('adds STRATO_ADMIN_KEY once, and refuses one too short to be safe', async () => {
    const keys = new KeyService(store);
    const token = 'automation-admin-key-0123456789abcdef';
    expect((await keys.bootstrap(token)).kind).toBe('from-env');
    expect((await keys.bootstrap(token)).kind).toBe('existing');
    expect((await keys.authenticate(`bearer   ${token}`)).scopes).toEqual(['admin']);
    await expectCode(keys.bootstrap('short'), 'UNAUTHORIZED');
  });

  it('refuses missing, malformed, unknown and revoked keys alike, revocation at once on this node', async () => {
    let now = 1_000_000;
    const keys = new KeyService(store, { now: () => now, cacheMs: 2_000 });
    const other = new KeyService(store, { now: () => now, cacheMs: 2_000 });
    const { key, token } = await keys.create({ namespace: 'default', scopes: ['invoke'], description: 'ci' });
    expect((await keys.authenticate(`Bearer ${token}`)).keyId).toBe(key.id);
    expect((await other.authenticate(`Bearer ${token}`)).keyId).toBe(key.id);
    for (const header of [
      undefined,
      '',
      'Basic abc',
      `Bearer`,
      `Bearer ${token} extra`,
      'Bearer strato_sk_unknown-key-0123456789abcdefghijkl',
    ]) {
      await expectCode(keys.authenticate(header), 'UNAUTHORIZED');
    }
    await keys.revoke(key.id, 'default');
    await expectCode(keys.authenticate(`Bearer ${token}`), 'UNAUTHORIZED');
    // Another node trusts its cached answer until it expires, then asks the store.
    expect((await other.authenticate(`Bearer ${token}`)).keyId).toBe(key.id);
    now += 2_001;
    await expectCode(other.authenticate(`Bearer ${token}`), 'UNAUTHORIZED');
    await expectCode(keys.revoke(key.id, 'default'), 'KEY_NOT_FOUND');
    expect((await keys.list('default')).find((k) => k.id === key.id)?.revokedAt).not.toBeNull();
  });

  it('revokes only within the namespace it is asked for', async () => {
    const keys = new KeyService(store);
    const { key, token } = await keys.create({ namespace: 'team-a', scopes: ['read'], description: '' });
    await expectCode(keys.revoke(key.id, 'team-b'), 'KEY_NOT_FOUND');
    expect((await keys.authenticate(`Bearer ${token}`)).namespace).toBe('team-a');
    expect((await keys.list('team-b')).map((k) => k.id)).not.toContain(key.id);
  });

  it('authorizes by scope: admin everything, deploy also reads and invokes, invoke and read only themselves', () => {
    const as = (scopes: Array<'admin' | 'deploy' | 'invoke' | 'read'>) => ({
      keyId: 'k',
      namespace: 'default',
      scopes,
      rateLimit: null,
    });
    expect(() => KeyService.authorize(as(['admin']), 'admin')).not.toThrow();
    expect(() => KeyService.authorize(as(['deploy']), 'invoke')).not.toThrow();
    expect(() => KeyService.authorize(as(['deploy']), 'read')).not.toThrow();
    expectThrowsCode(() => KeyService.authorize(as(['deploy']), 'admin'), 'FORBIDDEN');
    expectThrowsCode(() => KeyService.authorize(as(['invoke']), 'read'), 'FORBIDDEN');
    expectThrowsCode(() => KeyService.authorize(as(['read']), 'invoke'), 'FORBIDDEN');
    expectThrowsCode(() => KeyService.authorize(as(['read', 'invoke']), 'deploy'), 'FORBIDDEN');
  });
});
