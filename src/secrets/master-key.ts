import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { StratoError } from '../core/strato-error.js';
import { MASTER_KEY_BYTES } from './secret-cipher.js';

export interface MasterKeySource {
  /** The key itself (base64 or 64 hex digits), from STRATO_MASTER_KEY; wins over the file. */
  value?: string | undefined;
  /** Where the key lives otherwise; created with a new random key (mode 0600) when absent. */
  file: string;
}

/**
 * The key that encrypts secrets at rest. A file readable by group or others is refused rather than used:
 * it would put every secret one `cat` away from any local user.
 */
export async function loadMasterKey(source: MasterKeySource): Promise<{ key: Buffer; created: boolean }> {
  if (source.value !== undefined && source.value !== '') {
    return { key: decodeKey(source.value, 'STRATO_MASTER_KEY'), created: false };
  }
  const existing = await readKeyFile(source.file);
  if (existing !== undefined) return { key: existing, created: false };
  const key = randomBytes(MASTER_KEY_BYTES);
  await mkdir(path.dirname(source.file), { recursive: true, mode: 0o700 });
  try {
    // `wx`: two servers starting on one data dir never overwrite each other's key.
    await writeFile(source.file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const raced = await readKeyFile(source.file);
    if (raced !== undefined) return { key: raced, created: false };
  }
  return { key, created: true };
}

async function readKeyFile(file: string): Promise<Buffer | undefined> {
  let mode: number;
  try {
    mode = (await stat(file)).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  if ((mode & 0o077) !== 0) {
    throw new StratoError(
      'MASTER_KEY_INVALID',
      `the master key file ${file} is readable by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`,
    );
  }
  return decodeKey((await readFile(file, 'utf8')).trim(), file);
}

function decodeKey(text: string, origin: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed)
    ? Buffer.from(trimmed, 'hex')
    : /^[A-Za-z0-9+/]{43}=?$/.test(trimmed)
      ? Buffer.from(trimmed, 'base64')
      : undefined;
  if (key?.length !== MASTER_KEY_BYTES) {
    throw new StratoError(
      'MASTER_KEY_INVALID',
      `${origin} must hold a ${MASTER_KEY_BYTES}-byte key as base64 or 64 hex digits (e.g. \`openssl rand -base64 32\`)`,
    );
  }
  return key;
}
