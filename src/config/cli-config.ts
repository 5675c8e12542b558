import os from 'node:os';
import path from 'node:path';

/** The server the CLI talks to: `--url`, else `STRATO_URL`, else the local default. */
export function resolveServerUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['STRATO_URL'];
  return flag ?? (fromEnv === undefined || fromEnv === '' ? 'http://127.0.0.1:8080' : fromEnv);
}

/** The registry password for `strato deploy --registry-username`: only from the environment, never argv. */
export function registryPasswordFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const password = env['STRATO_REGISTRY_PASSWORD'];
  return password === undefined || password === '' ? undefined : password;
}

/** The API key from `STRATO_API_KEY`, which wins over the one the CLI's config file keeps. */
export function apiKeyFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const key = env['STRATO_API_KEY'];
  return key === undefined || key === '' ? undefined : key;
}

/**
 * The CLI's own config file (keys per server): `STRATO_CLI_CONFIG`, else
 * `$XDG_CONFIG_HOME/strato/cli.json`, else `~/.config/strato/cli.json`.
 */
export function cliConfigFile(env: NodeJS.ProcessEnv = process.env, home = os.homedir()): string {
  const explicit = env['STRATO_CLI_CONFIG'];
  if (explicit !== undefined && explicit !== '') return explicit;
  const xdg = env['XDG_CONFIG_HOME'];
  const base = xdg !== undefined && xdg !== '' ? xdg : path.join(home, '.config');
  return path.join(base, 'strato', 'cli.json');
}
