/**
 * Secrets: named values a function gets as environment variables, set by `strato secrets set`, stored
 * encrypted (src/secrets/) and never returned by the API. A secret belongs to a function, not to a
 * version: changing it reaches the function's next instances without a deploy.
 */

/** Environment-variable names: what every tier can hand to a function unchanged. */
export const SECRET_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** Largest secret value, in bytes of UTF-8 (Lambda allows 4 KB for all environment variables). */
export const MAX_SECRET_VALUE_BYTES = 32 * 1024;

/** Most secrets one function may hold. */
export const MAX_SECRETS_PER_FUNCTION = 100;

/** What the API shows of a secret: never its value. */
export interface SecretRecord {
  functionName: string;
  name: string;
  createdAt: string;
  updatedAt: string;
}

/** A secret as the store keeps it: the value only as ciphertext (src/secrets/secret-cipher.ts). */
export interface StoredSecret extends SecretRecord {
  ciphertext: string;
}
