import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { expectThrowsCode } from '../../test/helpers/expect-code.js';
import { SecretCipher } from './secret-cipher.js';

const context = { functionName: 'billing', name: 'STRIPE_KEY' };

describe('SecretCipher', () => {
  const cipher = new SecretCipher(randomBytes(32));

  it('round-trips a value, with a fresh IV each time and no plaintext in the ciphertext', () => {
    const value = 'sk_live_örange-🔑';
    const a = cipher.encrypt(value, context);
    const b = cipher.encrypt(value, context);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^v1\.[A-Za-z0-9+/=]+$/);
    expect(Buffer.from(a.slice(3), 'base64').includes(Buffer.from(value))).toBe(false);
    expect(cipher.decrypt(a, context)).toBe(value);
    expect(cipher.decrypt(b, context)).toBe(value);
  });

  it('refuses another key, another secret or function, altered bytes and junk', () => {
    const sealed = cipher.encrypt('v', context);
    expectThrowsCode(
      () => new SecretCipher(randomBytes(32)).decrypt(sealed, context),
      'SECRET_DECRYPT_FAILED',
    );
    expectThrowsCode(() => cipher.decrypt(sealed, { ...context, name: 'OTHER' }), 'SECRET_DECRYPT_FAILED');
    expectThrowsCode(
      () => cipher.decrypt(sealed, { ...context, functionName: 'other' }),
      'SECRET_DECRYPT_FAILED',
    );
    const bytes = Buffer.from(sealed.slice(3), 'base64');
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 1, bytes.length - 1);
    expectThrowsCode(
      () => cipher.decrypt(`v1.${bytes.toString('base64')}`, context),
      'SECRET_DECRYPT_FAILED',
    );
    for (const junk of ['', 'v1.', 'v2.AAAA', 'plain-text', 'v1.AAAA']) {
      expectThrowsCode(() => cipher.decrypt(junk, context), 'SECRET_DECRYPT_FAILED');
    }
  });

  it('takes only a 32-byte key', () => {
    expectThrowsCode(() => new SecretCipher(randomBytes(16)), 'MASTER_KEY_INVALID');
  });
});
