import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { StratoError } from '../core/strato-error.js';

const FORMAT = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const MASTER_KEY_BYTES = 32;

/** Which secret a ciphertext belongs to; bound into it, so a row copied to another secret fails to open. */
export interface SecretContext {
  functionName: string;
  name: string;
}

/**
 * AES-256-GCM with a fresh random 96-bit IV per value, as NIST SP 800-38D recommends. The function and
 * secret names are the additional authenticated data: whoever can write the store cannot move one
 * function's secret to another without the tag failing. Stored as `v1.<base64 of iv | tag | ciphertext>`.
 */
export class SecretCipher {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== MASTER_KEY_BYTES) {
      throw new StratoError('MASTER_KEY_INVALID', `the master key must be ${MASTER_KEY_BYTES} bytes`);
    }
    this.#key = Buffer.from(key);
  }

  encrypt(value: string, context: SecretContext): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(additionalData(context));
    const body = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    return `${FORMAT}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  /** Throws SECRET_DECRYPT_FAILED for another key, another secret's row, or altered bytes. */
  decrypt(ciphertext: string, context: SecretContext): string {
    const fail = () =>
      new StratoError(
        'SECRET_DECRYPT_FAILED',
        `secret '${context.name}' of function '${context.functionName}' does not decrypt with this master key`,
      );
    const [format, payload] = ciphertext.split('.', 2);
    if (format !== FORMAT || payload === undefined) throw fail();
    const bytes = Buffer.from(payload, 'base64');
    if (bytes.length < IV_BYTES + TAG_BYTES) throw fail();
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(0, IV_BYTES));
      decipher.setAAD(additionalData(context));
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([
        decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw fail();
    }
  }
}

function additionalData(context: SecretContext): Buffer {
  // Names cannot hold NUL, so the encoding is unambiguous.
  return Buffer.from(`strato-secret\0${context.functionName}\0${context.name}`, 'utf8');
}
