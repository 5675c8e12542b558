import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { expectCode } from '../../test/helpers/expect-code.js';
import { loadMasterKey } from './master-key.js';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'strato-key-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('loadMasterKey', () => {
  it('creates a random key file with mode 0600 on first start, and reads the same key afterwards', async () => {
    const file = path.join(tempDir(), 'data', 'master.key');
    const first = await loadMasterKey({ file });
    expect(first.created).toBe(true);
    expect(first.key).toHaveLength(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toBe(first.key.toString('base64'));
    const second = await loadMasterKey({ file });
    expect(second.created).toBe(false);
    expect(second.key.equals(first.key)).toBe(true);
  });

  it('refuses a key file others can read', async () => {
    const file = path.join(tempDir(), 'master.key');
    await loadMasterKey({ file });
    chmodSync(file, 0o644);
    await expectCode(loadMasterKey({ file }), 'MASTER_KEY_INVALID');
  });

  it('takes the key from the env value (base64 or hex) before the file, and refuses a malformed one', async () => {
    const file = path.join(tempDir(), 'master.key');
    const hex = 'ab'.repeat(32);
    expect((await loadMasterKey({ value: hex, file })).key.toString('hex')).toBe(hex);
    const base64 = Buffer.alloc(32, 7).toString('base64');
    expect((await loadMasterKey({ value: base64, file })).key.equals(Buffer.alloc(32, 7))).toBe(true);
    expect(() => statSync(file)).toThrow();
    await expectCode(loadMasterKey({ value: 'too-short', file }), 'MASTER_KEY_INVALID');
    await expectCode(
      loadMasterKey({ value: Buffer.alloc(16).toString('base64'), file }),
      'MASTER_KEY_INVALID',
    );
    writeFileSync(file, 'garbage\n', { mode: 0o600 });
    await expectCode(loadMasterKey({ file }), 'MASTER_KEY_INVALID');
  });
});
