import { createHash, randomBytes } from 'node:crypto';
import { StratoError } from '../core/strato-error.js';

const PREFIX = 'strato_sk_';

/** Shortest key accepted from STRATO_ADMIN_KEY: a chosen key must still be hard to guess. */
export const MIN_TOKEN_LENGTH = 32;

/** A new key: 256 random bits, prefixed so secret scanners and people can tell what it is. */
export function newToken(): string {
  return PREFIX + randomBytes(32).toString('base64url');
}

/** A public id for listing and revoking a key. */
export function newKeyId(): string {
  return `key_${randomBytes(8).toString('hex')}`;
}

/**
 * What the store keeps of a token. Tokens are 256-bit random (or at least 32 chosen characters), so a fast
 * hash is enough: there is no dictionary to try, unlike passwords.
 */
export function tokenSha256(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A token as it may be presented: printable ASCII without spaces, of a sane length. */
export function checkToken(token: string): void {
  if (token.length < MIN_TOKEN_LENGTH || token.length > 256 || !/^[\x21-\x7e]+$/.test(token)) {
    throw new StratoError('UNAUTHORIZED', 'the API key is malformed');
  }
}
